"""The stage's own process never holds the table; a worker lost mid-stage is survived.

Slow: a 10^6-row table (about 210 MB in pandas) read, checked, split and
written by two one-thread workers, while a thread samples this process's
memory. The killed-worker test kills one worker's process while the split
is being written and checks the dataset is the same as without the fault.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import dask
import numpy as np
import pandas as pd
import psutil
import pyarrow.csv as pacsv
import pytest

from nbml.errors import ClusterError
from nbml.steps import cluster, compute, data, validate
from tools.bench_scale import synthetic_chunk

pytestmark = pytest.mark.slow

ROWS = 1_000_000


@pytest.fixture(scope="module")
def big_csv(tmp_path_factory) -> tuple[Path, int]:
    root = tmp_path_factory.mktemp("big")
    (root / "raw").mkdir()
    table = synthetic_chunk(ROWS, np.random.default_rng(0))
    in_memory = int(table.to_pandas().memory_usage(deep=True).sum())
    pacsv.write_csv(table, root / "raw" / "big.csv")
    return root, in_memory


@pytest.fixture(scope="module")
def workers():
    # blocks of 32 MB: several partitions per worker. The limit leaves room for the
    # memory a worker cannot give back: at 600 MiB, both workers could stay paused.
    cluster.BLOCK_BYTES, saved = 32 * 2**20, cluster.BLOCK_BYTES
    backend = compute.start("local", 2, "1GiB")
    yield backend
    compute.stop()
    cluster.BLOCK_BYTES = saved


class PeakRss:
    """This process's peak resident memory while the block runs (sampled every 20 ms)."""

    def __enter__(self) -> PeakRss:
        self.me, self.peak, self.running = psutil.Process(), 0, True
        self.base = self.me.memory_info().rss
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()
        return self

    def _sample(self) -> None:
        while self.running:
            self.peak = max(self.peak, self.me.memory_info().rss)
            time.sleep(0.02)

    def __exit__(self, *exc: object) -> None:
        self.running = False
        self.thread.join()

    @property
    def growth(self) -> int:
        return self.peak - self.base


def test_the_client_never_holds_the_table(workers, big_csv, tmp_path):
    root, in_memory = big_csv
    with PeakRss() as rss:
        raw = data.load_source("raw/big.csv", root=root, raw_dir="raw")
        labelled = validate.validate_source(raw, "raw/big.csv", "label", 0.25, 10)
        train, test = data.split(labelled, "label", 0.25, 42)
        data.write_parquet(train, tmp_path / "train.parquet")
        data.write_parquet(test, tmp_path / "test.parquet")
        shown = data.sample_rows(data.read_parquet(tmp_path / "train.parquet"), 20_000)
    print(f"client peak growth {rss.growth / 2**20:.0f} MB for a {in_memory / 2**20:.0f} MB table")
    assert raw.npartitions >= 4 and len(shown) <= 21_000
    # the table is ~210 MB in pandas; this process grew by a small fraction of it
    assert rss.growth < in_memory / 4, f"client grew by {rss.growth / 2**20:.0f} MB"
    rows = len(pd.read_parquet(tmp_path / "train.parquet")) + len(
        pd.read_parquet(tmp_path / "test.parquet")
    )
    assert rows == ROWS


def _worker_pids(client) -> list[int]:
    return sorted(client.run(os.getpid).values())


def test_a_worker_killed_mid_stage_is_survived_with_the_same_output(workers, big_csv, tmp_path):
    root, _ = big_csv
    raw = data.load_source("raw/big.csv", root=root, raw_dir="raw")
    train, _ = data.split(raw, "label", 0.25, 42)
    clean = data.write_parquet(train, tmp_path / "clean.parquet")
    client = workers.client
    victim = _worker_pids(client)[0]
    target = tmp_path / "faulted.parquet"
    writer = threading.Thread(target=data.write_parquet, args=(train, target))
    writer.start()
    deadline = time.monotonic() + 120
    while not list(target.glob("*.parquet")) and time.monotonic() < deadline:
        time.sleep(0.05)
    os.kill(victim, signal.SIGKILL)  # the nanny starts a new worker; the tasks run again
    writer.join(timeout=300)
    assert not writer.is_alive(), "the split was still being written 300 s after the kill"
    assert victim not in _worker_pids(client)
    for part in sorted(p.name for p in clean.glob("*.parquet")):
        pd.testing.assert_frame_equal(
            pd.read_parquet(clean / part), pd.read_parquet(target / part)
        )


def test_work_lost_for_good_is_a_cluster_error_naming_it():
    from distributed import KilledWorker

    class Lost(KilledWorker):
        def __str__(self) -> str:
            return "read-csv-0 failed on 3 workers"

    def lost() -> None:
        raise Lost("read-csv-0", None, 3)

    with pytest.raises(ClusterError, match="data/raw/big.csv: the cluster lost the work"):
        cluster.computed("data/raw/big.csv", dask.delayed(lost)())
