"""make bench-dask's loopback cluster: started as separate processes, and stopped."""

from __future__ import annotations

import psutil

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
        # every port the scheduler, workers and their nannies' children listen on
        procs = [psutil.Process(p.pid) for p in cluster.procs]
        procs += [child for proc in procs for child in proc.children(recursive=True)]
        listening = {
            (proc.pid, conn.laddr.ip)
            for proc in procs
            for conn in proc.net_connections(kind="inet")
            if conn.status == psutil.CONN_LISTEN
        }
        assert listening and {ip for _, ip in listening} == {"127.0.0.1"}, listening
    finally:
        cluster.stop()
    assert all(proc.poll() is not None for proc in cluster.procs)
    assert cluster.worker_rss() == 0


def test_workers_get_room_for_lightgbm_at_10_7_rows_and_stay_below_the_table_at_4_10_6():
    from tools.bench_dask import WORKER_MEMORY_MIB, worker_memory
    from tools.bench_scale import parse_rows

    assert worker_memory(parse_rows("1e6,4e6")) == f"{WORKER_MEMORY_MIB}MiB"  # table: 845 MB
    # 7.5·10^6 training rows x 42 float32 inputs, about three copies of each worker's half
    assert int(worker_memory(parse_rows("1e6,4e6,1e7")).removesuffix("MiB")) * 2**20 > 3 * 0.63e9
