"""Benchmark: the model service against the plain way, side by side in one run.

``python -m tools.bench_serve`` (``make bench-serve``) starts, on 127.0.0.1:

- the plain way (``tools.plain_serve``): a FastAPI endpoint that builds a
  DataFrame per request and calls the scikit-learn pipeline; uvicorn, one process;
- the service, ``python -m nbml.serving serve`` (one process per core, one
  OpenMP thread each, micro-batching, no DataFrame per request).

Each gets a warm-up, then a fixed number of single-row ``POST /predict``
requests from 8 concurrent keep-alive clients (rows of the test split).
Then both are stopped. It prints requests/s and p50/p99 latency of each, the
throughput ratio, and checks that both gave the same answers for the same rows.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from nbml.project import find_root, paths
from tools import loopback

CLIENTS = 8


@dataclass
class Result:
    name: str
    requests: int
    seconds: float
    latencies: list[float]
    answers: dict[int, bytes]

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

    def line(self) -> str:
        return (
            f"{self.name:<8} {self.requests:>6} requests in {self.seconds:6.2f} s: "
            f"{self.rate:8.1f} requests/s, p50 {self.percentile(0.5):7.2f} ms, "
            f"p99 {self.percentile(0.99):7.2f} ms"
        )


def request_bytes(port: int, body: bytes) -> bytes:
    head = (
        f"POST /predict HTTP/1.1\r\nHost: {loopback.HOST}:{port}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def read_answer(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    length = next(int(x.split(":", 1)[1]) for x in lines if x.lower().startswith("content-length"))
    return status, await reader.readexactly(length)


async def client(port: int, bodies: list[bytes], todo: list[int], result: Result) -> None:
    """One keep-alive connection sending requests until the shared list is empty."""
    reader, writer = await asyncio.open_connection(loopback.HOST, port)
    try:
        while todo:
            i = todo.pop()
            message = request_bytes(port, bodies[i % len(bodies)])
            start = time.perf_counter()
            writer.write(message)
            status, answer = await read_answer(reader)
            result.latencies.append(time.perf_counter() - start)
            if status != 200:
                raise RuntimeError(f"{result.name}: status {status}: {answer[:300]!r}")
            result.answers.setdefault(i % len(bodies), answer)
    finally:
        writer.close()


async def load(name: str, port: int, bodies: list[bytes], count: int, limit: float) -> Result:
    """``count`` requests from CLIENTS concurrent clients, within ``limit`` seconds."""
    result = Result(name, count, 0.0, [], {})
    todo = list(range(count))
    start = time.perf_counter()
    clients = [client(port, bodies, todo, result) for _ in range(CLIENTS)]
    await asyncio.wait_for(asyncio.gather(*clients), timeout=limit)
    result.seconds = time.perf_counter() - start
    return result


def single_row_bodies(root: Path, limit: int = 200) -> list[bytes]:
    """Rows of the test split without missing values, one request body each."""
    # lazy: pandas only for reading the split, not for the servers
    import pandas as pd

    from nbml.project import Project, load_yaml
    from nbml.serving.loading import LOCK_FILE
    from nbml.serving.metadata import recorded_target

    project = Project.load(root)
    target = recorded_target(load_yaml(root / LOCK_FILE), project, "train")
    test = pd.read_parquet(paths(root).test).drop(columns=[target]).dropna().head(limit)
    records = json.loads(test.to_json(orient="records"))
    return [json.dumps({"rows": [r]}).encode() for r in records]


def server_commands(workers: int) -> dict[str, tuple[list[str], dict[str, str]]]:
    """How to start each side: the plain way as the tutorials run it, and the service."""
    python = sys.executable
    plain_env = dict(os.environ)
    for name in ("OMP_NUM_THREADS", "WORKERS"):
        plain_env.pop(name, None)
    serve_env = {**os.environ, "WORKERS": str(workers)}
    return {
        "plain": ([python, "-m", "uvicorn", "tools.plain_serve:app", "--host", loopback.HOST,
                   "--log-level", "warning", "--no-access-log"], plain_env),
        "service": ([python, "-m", "nbml.serving", "serve"], serve_env),
    }


def measure(name: str, root: Path, bodies: list[bytes], count: int, workers: int) -> Result:
    """Start one server, warm it up, run the load, stop it."""
    args, env = server_commands(workers)[name]
    port = loopback.free_port()
    env = {**env, "PORT": str(port)}
    if name == "plain":
        args = [*args, "--port", str(port)]
    with tempfile.TemporaryDirectory(prefix="nbml-bench-serve-") as tmp:
        log = Path(tmp) / f"{name}.log"
        proc = loopback.start(args, root, env, log)
        try:
            loopback.wait_ready(proc, f"http://{loopback.HOST}:{port}/health", 120, log)
            asyncio.run(load(name, port, bodies, 4 * CLIENTS * workers, 60))  # warm-up
            return asyncio.run(load(name, port, bodies, count, 300))
        finally:
            loopback.stop(proc)


def same_answers(a: Result, b: Result) -> int:
    """Rows both sides answered whose labels or probabilities differ (should be 0)."""
    differ = 0
    for i in set(a.answers) & set(b.answers):
        if json.loads(a.answers[i]) != json.loads(b.answers[i]):
            differ += 1
    return differ


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.bench_serve", description=__doc__)
    parser.add_argument("--plain-requests", type=int, default=400)
    parser.add_argument("--requests", type=int, default=8000, help="sent to the service")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args(argv)
    root = find_root()
    bodies = single_row_bodies(root)
    print(f"bench-serve: single-row POST /predict, {CLIENTS} concurrent clients, "
          f"{len(bodies)} distinct test rows, {os.cpu_count()} cores", flush=True)
    plain = measure("plain", root, bodies, args.plain_requests, 1)
    print(plain.line(), flush=True)
    service = measure("service", root, bodies, args.requests, args.workers)
    print(service.line() + f" ({args.workers} process(es))", flush=True)
    differ = same_answers(plain, service)
    print(f"ratio    {service.rate / plain.rate:.1f}x the plain way's requests/s; "
          f"p99 {service.percentile(0.99):.1f} ms; answers that differ: {differ}")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
