"""Where a stage computes: in its own process (pandas), or on a Dask cluster.

``params.yaml compute.scheduler`` chooses: ``null`` keeps today's
single-process pipeline (nothing here imports Dask then), ``local`` starts a
``distributed.LocalCluster`` on 127.0.0.1 for the stage and stops it when the
stage's process ends, and an address (``tcp://host:8786``) connects to a
scheduler that is already running. Each notebook calls :func:`start` once;
the helpers then see a Dask frame where they would see a pandas one and send
the work to the cluster (:mod:`nbml.steps.cluster`), bringing back only small
results: counts, metrics, thinned curves, bounded samples.
"""

from __future__ import annotations

import atexit
import os
import re
from dataclasses import dataclass
from typing import Any

from nbml.errors import ClusterError
from nbml.messages import progress

LOCAL = "local"
ADDRESS = re.compile(r"^(tcp|tls|inproc)://[^\s/]+(:\d+)?/?$")
# train.estimator values that train on a cluster (lightgbm.dask does the work).
DASK_CLASSIFIERS = ("lightgbm.LGBMClassifier", "lightgbm.dask.DaskLGBMClassifier")
DASK_REGRESSORS = ("lightgbm.LGBMRegressor", "lightgbm.dask.DaskLGBMRegressor")
DASK_ESTIMATORS = DASK_CLASSIFIERS + DASK_REGRESSORS
# Rows a bounded sample brought to the stage's process may hold: what fits
# the preprocessor, infers the feature types and checks the saved model.
CLIENT_ROWS = 200_000


@dataclass
class Backend:
    """The scheduler a stage talks to (None: pandas in the stage's own process)."""

    scheduler: str | None = None
    client: Any = None
    cluster: Any = None

    def describe(self) -> str:
        if self.client is None:
            return "one process (pandas): compute.scheduler is null"
        workers = self.client.scheduler_info().get("workers", {})
        threads = sum(w.get("nthreads", 0) for w in workers.values())
        kind = "a LocalCluster on 127.0.0.1" if self.cluster is not None else self.scheduler
        return f"Dask: {kind}, {len(workers)} worker(s), {threads} thread(s)"


_ACTIVE = Backend()


def scheduler_problems(value: Any, where: str = "compute.scheduler") -> list[str]:
    """What is wrong with a compute.scheduler value: null, 'local' or a scheduler address."""
    if value is None or value == LOCAL:
        return []
    if isinstance(value, str) and ADDRESS.match(value):
        return []
    return [
        f"{where}: expected null (one machine), 'local' (a LocalCluster on this machine) or "
        f"a scheduler address such as tcp://127.0.0.1:8786, found {value!r}"
    ]


def estimator_refusal(estimator: Any) -> str | None:
    """Why train.estimator cannot train on a cluster (None when it can)."""
    if estimator in DASK_ESTIMATORS:
        return None
    return (
        f"train.estimator: {estimator} trains on one machine only, and compute.scheduler "
        f"names a Dask cluster; use one that trains on Dask collections: "
        f"{', '.join(DASK_ESTIMATORS)} (or set compute.scheduler: null)"
    )


def is_dask(obj: Any) -> bool:
    """True for a Dask collection (dataframe, series, array), without importing Dask."""
    return type(obj).__module__.startswith("dask.")


def small(obj: Any) -> Any:
    """A small result itself: a Dask one computed on the cluster, a pandas one as it is."""
    return obj.compute() if is_dask(obj) else obj


def active() -> Backend:
    """The backend the running stage started (one process unless :func:`start` named one)."""
    return _ACTIVE


def start(
    scheduler: str | None, workers: int | None = None, worker_memory: str | None = None
) -> Backend:
    """Start (``local``) or connect to (an address) the stage's scheduler; None: pandas."""
    global _ACTIVE
    problems = scheduler_problems(scheduler)
    if problems:
        raise ClusterError(f"params.yaml {problems[0]}")
    if scheduler is None:
        stop()
        return _ACTIVE
    if _ACTIVE.client is not None and _ACTIVE.scheduler == scheduler:
        return _ACTIVE
    stop()
    # lazy: distributed costs ~0.3 s to import, and only a stage with a scheduler needs it
    from nbml.steps import cluster

    client, local = cluster.connect(scheduler, workers, worker_memory)
    _ACTIVE = Backend(scheduler, client, local)
    atexit.register(stop)
    progress(f"compute: {_ACTIVE.describe()}")
    return _ACTIVE


def stop() -> None:
    """Close the client, and the LocalCluster if this process started one."""
    global _ACTIVE
    backend, _ACTIVE = _ACTIVE, Backend()
    if backend.client is not None:
        backend.client.close()
    if backend.cluster is not None:
        backend.cluster.close()


def default_workers() -> int:
    """Workers of a LocalCluster sized to the machine: one per core the stage may use."""
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1)
