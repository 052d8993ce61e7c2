"""Benchmark: the pipeline on a Dask cluster vs the same pipeline on one machine.

``python -m tools.bench_dask`` (``make bench-dask``) starts a loopback
cluster as a user would by hand (``dask scheduler`` and two ``dask worker``
processes of one thread each, with a memory limit below the table's size at
4·10^6 rows), then, for each size of the synthetic table of
``tools.bench_scale`` (in its cache, git-ignored), runs ``dvc repro`` in two copies
of the project side by side, both training LightGBM:

- on the cluster: ``compute.scheduler`` set to the scheduler's address;
- on one machine: ``compute.scheduler: null`` (pandas, the same estimator).

It prints seconds per stage, the peak memory of the ``dvc repro`` process
tree (the client, for the cluster run), the workers' peak memory, the
accuracy of both and the seconds per million rows, and stops everything it
started. ``BENCH_ROWS`` chooses the sizes (default ``1e6,4e6``; add ``1e7``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import psutil
import yaml

from nbml.project import find_root
from tools import loopback
from tools.bench_scale import (
    STAGES,
    Measured,
    dataset,
    default_cache,
    measured,
    parse_rows,
    project_on,
)

WORKERS = 2
# Below the table in pandas at 4·10^6 rows (845 MB). A worker's own Python,
# pandas and Dask take ~250 MB of it, and LightGBM holds the worker's share of
# the training matrix about three times (its partitions, their joined copy and
# the array it bins) until the fit ends: 1,500 MiB workers peaked at ~1,300 MB
# each at 4·10^6 rows. Larger tables get WORKER_BYTES_PER_ROW per row (10^7
# rows: 3,052 MiB per worker, 6 GB for the two; the table is 2.1 GB in pandas).
WORKER_MEMORY_MIB = 1500
WORKER_BYTES_PER_ROW = 320
# Seconds a stage's cell may take (NBML_TIMEOUT): the one-machine fit at
# 4·10^6 rows and more takes longer than the project's 30 minutes on a loaded machine.
CELL_TIMEOUT = 4 * 3600
LGBM = {"n_estimators": 200, "num_leaves": 31, "learning_rate": 0.1, "random_state": 42}
READY_SECONDS = 60


class Cluster:
    """A scheduler and its workers on 127.0.0.1, started as separate processes."""

    def __init__(self, tmp: Path, memory: str = f"{WORKER_MEMORY_MIB}MiB", workers: int = WORKERS):
        bin_dir = Path(sys.executable).parent
        port = loopback.free_port()
        self.address = f"tcp://{loopback.HOST}:{port}"
        env = dict(os.environ)
        self.procs = [
            loopback.start(
                [
                    str(bin_dir / "dask"),
                    "scheduler",
                    "--host",
                    loopback.HOST,
                    "--port",
                    str(port),
                    # without a dashboard its HTTP server (health, metrics) still listens,
                    # on every interface at 8787 unless told otherwise
                    "--no-dashboard",
                    "--dashboard-address",
                    f"{loopback.HOST}:0",
                ],
                tmp,
                env,
                tmp / "scheduler.log",
            )
        ]
        for i in range(workers):
            self.procs.append(
                loopback.start(
                    [
                        str(bin_dir / "dask"),
                        "worker",
                        self.address,
                        "--nthreads",
                        "1",
                        "--memory-limit",
                        memory,
                        "--name",
                        f"w{i}",
                        "--host",
                        loopback.HOST,
                        "--no-dashboard",
                        "--dashboard-address",
                        f"{loopback.HOST}:0",
                    ],
                    tmp,
                    env,
                    tmp / f"worker{i}.log",
                )
            )
        self._wait(workers)

    def _wait(self, workers: int) -> None:
        # lazy: distributed is needed only to ask the scheduler how many workers joined
        from distributed import Client

        with Client(self.address, timeout=READY_SECONDS) as client:
            client.wait_for_workers(workers, timeout=READY_SECONDS)

    def worker_rss(self) -> int:
        """Resident memory of the worker processes (nannies and their workers)."""
        total = 0
        for proc in self.procs[1:]:
            try:
                ps = psutil.Process(proc.pid)
                total += sum(p.memory_info().rss for p in [ps, *ps.children(recursive=True)])
            except psutil.Error:
                continue
        return total

    def stop(self) -> None:
        for proc in reversed(self.procs):
            loopback.stop(proc)


class Peak:
    """The peak of a memory reading while a block runs, sampled every 0.2 s."""

    def __init__(self, read: Callable[[], int]):
        self.read, self.peak, self.running = read, 0, False

    def __enter__(self) -> Peak:
        self.running = True
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()
        return self

    def _sample(self) -> None:
        while self.running:
            self.peak = max(self.peak, self.read())
            time.sleep(0.2)

    def __exit__(self, *exc: object) -> None:
        self.running = False
        self.thread.join()


def run_pipeline(root: Path, data: Path, dest: Path, scheduler: str | None) -> dict:
    """``dvc add`` and a timed ``dvc repro`` in a copy training LightGBM where told."""
    repo = project_on(root, data, dest)
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["compute"] = {"scheduler": scheduler, "workers": None, "worker_memory": None}
    params["train"] = {"estimator": "lightgbm.LGBMClassifier", "kwargs": dict(LGBM)}
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    dvc = str(Path(sys.executable).parent / "dvc")
    subprocess.run([dvc, "add", "-q", f"data/raw/{data.name}"], cwd=repo, check=True)
    result: Measured = measured([dvc, "repro"], repo, {"NBML_TIMEOUT": str(CELL_TIMEOUT)})
    for stage in STAGES:
        record = json.loads((repo / "logs" / "runs" / f"{stage}.json").read_text())
        result.stages[stage] = float(record["seconds"])
    metrics = json.loads((repo / "outputs" / "metrics.json").read_text())
    return {"run": result, "accuracy": metrics["accuracy"]}


def bench_one(
    root: Path, rows: int, cache: Path, cluster: Cluster, tmp: Path, sides: list[str]
) -> dict:
    data = dataset(rows, cache)
    print(f"bench-dask: {rows:,} rows ({data.stat().st_size / 2**20:.0f} MB) ...", flush=True)
    result: dict = {"rows": rows, "sides": sides}
    with Peak(cluster.worker_rss) as workers:
        if "cluster" in sides:
            result["cluster"] = side(root, data, tmp / f"cluster-{rows}", cluster.address)
    result["workers_mb"] = workers.peak / 2**20
    if "alone" in sides:
        result["alone"] = side(root, data, tmp / f"alone-{rows}", None)
    return result


def side(root: Path, data: Path, dest: Path, scheduler: str | None) -> dict:
    """One side's run, or what stopped it (the other side and sizes still run)."""
    try:
        return run_pipeline(root, data, dest, scheduler)
    except RuntimeError as exc:
        print(f"bench-dask: {dest.name} failed: {str(exc)[-2000:]}", flush=True)
        return {"error": str(exc).splitlines()[0]}


def worker_memory(rows: list[int]) -> str:
    """Each worker's memory limit for the largest table: room for LightGBM's share."""
    needed = max(rows) * WORKER_BYTES_PER_ROW // 2**20
    return f"{max(WORKER_MEMORY_MIB, needed)}MiB"


def print_table(results: list[dict]) -> None:
    head = "".join(f"{s:>10}" for s in STAGES)
    print(
        f"\n{'rows':>10} {'where':<8}{head}{'repro s':>9}{'peak MB':>9}{'workers MB':>11}"
        f"{'s/1e6':>7}{'accuracy':>10}"
    )
    for r in results:
        for where in r["sides"]:
            if "error" in r[where]:
                print(f"{r['rows']:>10,} {where:<8}failed: {r[where]['error'][:150]}")
                continue
            run = r[where]["run"]
            stages = "".join(f"{run.stages[s]:>10.1f}" for s in STAGES)
            workers = f"{r['workers_mb']:>11.0f}" if where == "cluster" else f"{'-':>11}"
            print(
                f"{r['rows']:>10,} {where:<8}{stages}{run.seconds:>9.1f}{run.peak_mb:>9.0f}"
                f"{workers}{run.seconds / (r['rows'] / 1e6):>7.1f}{r[where]['accuracy']:>10.4f}"
            )
    if len(results) > 1:
        first, last = results[0], results[-1]
        for where in sorted(set(first["sides"]) & set(last["sides"])):
            if "error" in first[where] or "error" in last[where]:
                continue
            growth = last[where]["run"].seconds / first[where]["run"].seconds
            print(f"{where}: {last['rows'] / first['rows']:.0f}x the rows, {growth:.2f}x the time")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.bench_dask", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--rows", default=os.environ.get("BENCH_ROWS", "1e6,4e6"))
    parser.add_argument(
        "--sides",
        default=os.environ.get("BENCH_SIDES", "cluster,alone"),
        help="cluster, alone or both (default: $BENCH_SIDES or both)",
    )
    parser.add_argument(
        "--cache",
        type=Path,
        default=os.environ.get("BENCH_CACHE") or None,
        help="folder of the generated tables, shared with make bench-scale (default: "
        "$BENCH_CACHE, else .cache/bench-scale in the project's main checkout)",
    )
    args = parser.parse_args(argv)
    root = find_root()
    cache = Path(args.cache) if args.cache else default_cache(root)
    sizes = parse_rows(args.rows)
    memory = worker_memory(sizes)
    with tempfile.TemporaryDirectory(prefix="nbml-dask-") as tmp:
        cluster = Cluster(Path(tmp), memory)
        try:
            print(
                f"bench-dask: scheduler {cluster.address}, {WORKERS} workers x 1 thread, "
                f"{memory} each",
                flush=True,
            )
            results = [
                bench_one(root, rows, cache, cluster, Path(tmp), args.sides.split(","))
                for rows in sizes
            ]
        finally:
            cluster.stop()
    print_table(results)
    failed = [f"{r['rows']:,} {w}" for r in results for w in r["sides"] if "error" in r[w]]
    if failed:
        print(f"bench-dask: failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
