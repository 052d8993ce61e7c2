"""make bench-dask's loopback cluster: started as separate processes, and stopped."""

from __future__ import annotations

from tools.bench_dask import Cluster


def test_the_bench_cluster_listens_on_loopback_and_stops_everything(tmp_path):
    from distributed import Client

    cluster = Cluster(tmp_path, memory="500MiB", workers=1)
    try:
        assert cluster.address.startswith("tcp://127.0.0.1:")
        with Client(cluster.address, timeout=30) as client:
            (worker,) = client.scheduler_info()["workers"].values()
            assert worker["name"] == "w0" and worker["nthreads"] == 1
            assert worker["memory_limit"] == 500 * 2**20
        assert cluster.worker_rss() > 0
    finally:
        cluster.stop()
    assert all(proc.poll() is not None for proc in cluster.procs)
    assert cluster.worker_rss() == 0
