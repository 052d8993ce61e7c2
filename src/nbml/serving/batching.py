"""Concurrent requests answered by one ``predict`` call (micro-batching).

The estimator's cost per call barely depends on the number of rows (for
HistGradientBoosting it walks every tree once per call), so rows of requests
that arrive together are scored together. Requests wait at most
``wait_ms`` for company (default 0), and while one batch is being scored
the next one fills up with whatever arrives meanwhile. Scoring runs in one worker
thread, which keeps the event loop answering other requests meanwhile.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

Rows = list[tuple[Any, ...]]
Answer = tuple[list[Any], np.ndarray]


@dataclass
class _Pending:
    rows: Rows
    future: asyncio.Future[Answer] = field(repr=False)


class MicroBatcher:
    """Collects rows from concurrent requests and scores them in batches."""

    def __init__(self, predict: Callable[[Rows], Answer], wait_ms: float, max_batch: int):
        self.predict = predict
        self.wait = max(0.0, wait_ms) / 1000.0
        self.max_batch = max_batch
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="nbml-predict")
        self.queue: asyncio.Queue[_Pending] = asyncio.Queue()
        self.task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            try:
                await self.task
            except asyncio.CancelledError:
                pass
        self.executor.shutdown(wait=True, cancel_futures=True)

    async def submit(self, rows: Rows) -> Answer:
        """Labels and probabilities for ``rows``, scored with whatever else is waiting."""
        loop = asyncio.get_running_loop()
        if len(rows) >= self.max_batch:  # big enough on its own
            return await loop.run_in_executor(self.executor, self.predict, rows)
        pending = _Pending(rows, loop.create_future())
        self.queue.put_nowait(pending)
        return await pending.future

    async def _collect(self) -> list[_Pending]:
        batch = [await self.queue.get()]
        size = len(batch[0].rows)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.wait
        while size < self.max_batch:
            try:
                item = self.queue.get_nowait()
            except asyncio.QueueEmpty:
                left = deadline - loop.time()
                if left <= 0:
                    break
                try:
                    item = await asyncio.wait_for(self.queue.get(), left)
                except TimeoutError:
                    break
            batch.append(item)
            size += len(item.rows)
        return batch

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch = await self._collect()
            rows = [row for item in batch for row in item.rows]
            try:
                labels, proba = await loop.run_in_executor(self.executor, self.predict, rows)
            except Exception as exc:  # each waiting request gets the error, the loop goes on
                for item in batch:
                    if not item.future.done():
                        item.future.set_exception(exc)
                continue
            start = 0
            for item in batch:
                end = start + len(item.rows)
                if not item.future.done():
                    item.future.set_result((labels[start:end], proba[start:end]))
                start = end
