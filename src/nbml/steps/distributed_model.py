"""Training and scoring on a Dask cluster: LightGBM on Dask collections.

With ``compute.scheduler`` set, train fits LightGBM on Dask
(``lightgbm.dask``) on the training split where it lies (the workers), and
the saved model is its single-machine twin, a plain ``lightgbm.LGBMClassifier``
or ``LGBMRegressor`` inside the same scikit-learn Pipeline the service loads.
The functions passed to ``map_partitions`` or run on the workers live at
module level so the workers import them.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import threading
from collections.abc import Iterator
from typing import Any

import dask.dataframe as dd
import lightgbm
import numpy as np
import pandas as pd
from distributed import default_client
from lightgbm.dask import DaskLGBMClassifier, DaskLGBMRegressor

from nbml.errors import ClusterError, ModelError
from nbml.messages import progress
from nbml.steps.cluster import computed
from nbml.steps.compute import DASK_REGRESSORS, estimator_refusal

# The model text of a distributed fit names the workers' ports; the saved
# model must not change with them (dvc.lock would), nor does predicting use them.
_CLUSTER_PARAMS = ("client", "tree_learner", "num_threads", "time_out", "machines", "n_jobs")
_NETWORK_LINE = re.compile(r"^\[(machines|local_listen_port|num_machines|time_out): .*\]$", re.M)
# Minutes LightGBM's workers wait for each other to connect (LightGBM's default
# is 120): a worker that never starts its part fails the fit in this time.
CONNECT_MINUTES = 10
# How often, in seconds, the fit checks that none of its workers was lost.
WATCH_SECONDS = 1.0
_FRACTIONS = ("memory_target_fraction", "memory_spill_fraction", "memory_pause_fraction")
DaskEstimator = DaskLGBMClassifier | DaskLGBMRegressor


def make_estimator(import_path: str, kwargs: dict[str, Any] | None) -> DaskEstimator:
    """The Dask estimator for train.estimator, refusing one that cannot train on a cluster."""
    problem = estimator_refusal(import_path)
    if problem:
        raise ModelError(f"params.yaml {problem}")
    regressor = import_path in DASK_REGRESSORS
    kwargs = dict(kwargs or {})
    local = lightgbm.LGBMRegressor if regressor else lightgbm.LGBMClassifier
    accepted = set(local().get_params())
    unknown = sorted(set(kwargs) - accepted - {"deterministic", "force_row_wise", "verbose"})
    if unknown:
        raise ModelError(
            f"params.yaml train.kwargs: {', '.join(unknown)} not accepted by {import_path}; "
            f"it takes: {', '.join(sorted(accepted))}"
        )
    # the same model on every run, given the same data on the same workers
    kwargs.setdefault("deterministic", True)
    kwargs.setdefault("force_row_wise", True)
    kwargs.setdefault("verbose", -1)
    return DaskLGBMRegressor(**kwargs) if regressor else DaskLGBMClassifier(**kwargs)


def _transform_part(part: pd.DataFrame, preprocessor: Any) -> pd.DataFrame:
    # float32: half the workers' memory for the model inputs; LightGBM bins them anyway
    return preprocessor.transform(part).astype("float32")


def preprocess(preprocessor: Any, X: dd.DataFrame) -> dd.DataFrame:
    """The fitted preprocessor applied on the workers, partition by partition (float32)."""
    meta = _transform_part(X._meta_nonempty, preprocessor).iloc[:0]
    return X.map_partitions(_transform_part, preprocessor, meta=meta)


class _PlacingClient:
    """The cluster's client, except that it says partition i is on worker i mod n.

    LightGBM on Dask asks ``who_has`` where its partitions lie, trains each
    worker on those, gives rank 0 to the first, and builds its bins from what
    each worker holds: where Dask happened to compute a partition would make
    the model differ from run to run. With this answer (workers in the order
    of their names), a partition computed elsewhere is sent to its worker.
    It also keeps the futures LightGBM submits, so that a fit whose worker is
    lost can be cancelled (:class:`_Watch`).
    """

    def __init__(self, client: Any):
        self._client = client
        infos = client.scheduler_info()["workers"].items()
        self._workers = [a for a, _ in sorted(infos, key=lambda w: str(w[1]["name"]))]
        self.submitted: list[Any] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def who_has(self, futures: Any = None, **kwargs: Any) -> dict[str, tuple[str, ...]]:
        keys = [future.key for future in futures]
        return {key: (self._workers[i % len(self._workers)],) for i, key in enumerate(keys)}

    def submit(self, *args: Any, **kwargs: Any) -> Any:
        future = self._client.submit(*args, **kwargs)
        self.submitted.append(future)
        return future


def _memory_settings(dask_worker: Any, settings: dict[str, Any] | None = None) -> dict[str, Any]:
    """On a worker: set its spill and pause thresholds (None: off); returns the previous ones."""
    manager, data = dask_worker.memory_manager, dask_worker.data
    previous = {name: getattr(manager, name) for name in _FRACTIONS}
    previous["buffer"] = getattr(data, "n", None)
    for name in _FRACTIONS:
        setattr(manager, name, False if settings is None else settings[name])
    if previous["buffer"] is not None:
        data.n = float("inf") if settings is None else settings["buffer"]
    return previous


@contextlib.contextmanager
def _held_in_memory(client: Any) -> Iterator[None]:
    """The workers neither spill nor pause while LightGBM trains on them.

    LightGBM holds each worker's partitions, their joined copy and a socket
    for its network (which cannot be pickled) in the worker's memory until the
    fit ends: spilling frees none of it, and a worker paused above its pause
    threshold never starts its part, while the others wait for it to connect
    (the fit hung). A worker that needs more than its limit is killed by its
    nanny instead, which :class:`_Watch` turns into an error naming it.
    """
    previous = client.run(_memory_settings)
    try:
        yield
    finally:
        for address, settings in previous.items():
            with contextlib.suppress(Exception):  # a worker lost meanwhile has nothing to restore
                client.run(_memory_settings, settings=settings, workers=[address])


def _worker_stdout(dask_worker: Any, saved: int | None = None) -> int | None:
    """On a worker: its stdout to the null device (returns a copy of the old one), or back."""
    sys.stdout.flush()
    if saved is not None:
        os.dup2(saved, 1)
        os.close(saved)
        return None
    kept, null = os.dup(1), os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 1)
    os.close(null)
    return kept


@contextlib.contextmanager
def _workers_quiet(client: Any, quiet: bool) -> Iterator[None]:
    """With ``verbose`` below 0, nothing the workers print while LightGBM trains.

    LightGBM's library prints its network's set-up on every worker whatever
    ``verbose`` says (random ports, ranks, retries that depend on timing), on
    the stdout a LocalCluster's workers share with the train notebook's kernel:
    its executed copy and report differed from run to run. Errors still come
    back as exceptions, and Dask's own logs go to stderr.
    """
    kept = client.run(_worker_stdout) if quiet else {}
    try:
        yield
    finally:
        for address, saved in kept.items():
            with contextlib.suppress(Exception):  # a worker lost meanwhile has nothing to restore
                client.run(_worker_stdout, saved=saved, workers=[address])


class _Watch:
    """Cancels the fit's futures when one of the workers it trains on leaves the cluster.

    LightGBM pins each part of the fit to one worker: on a worker that was
    lost (killed at its memory limit, say) it would wait for ever.
    """

    def __init__(self, placing: _PlacingClient):
        self.placing = placing
        self.lost: list[str] = []
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        expected = set(self.placing._workers)
        while not self.done.wait(WATCH_SECONDS):
            with contextlib.suppress(Exception):
                present = set(self.placing.scheduler_info()["workers"])
                self.lost = sorted(expected - present)
                if self.lost:
                    self.placing.cancel(self.placing.submitted, force=True)
                    return

    def __enter__(self) -> _Watch:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.done.set()
        self.thread.join()


def _train(estimator_cls: type, params: dict[str, Any], X: dd.DataFrame, y: dd.Series) -> Any:
    """LightGBM's booster trained on the cluster's workers, every partition where it lies."""
    client = default_client()
    placing = _PlacingClient(client)
    progress(
        f"train: fitting LightGBM on the cluster: {X.npartitions} partition(s) x "
        f"{X.shape[1]} columns, {len(placing._workers)} worker(s)"
    )
    fitted = {**params, "client": placing, "time_out": CONNECT_MINUTES}
    quiet = int(params.get("verbose", -1)) < 0
    with _held_in_memory(client), _workers_quiet(client, quiet), _Watch(placing) as watch:
        try:
            return estimator_cls(**fitted).fit(X, y).booster_
        except Exception:
            if not watch.lost:
                raise
    raise ClusterError(
        f"train: worker(s) {', '.join(watch.lost)} left the cluster during the LightGBM fit "
        "(killed at its memory limit?); LightGBM needs each worker's share of the training "
        "matrix, and a copy, in memory: give the workers more (compute.worker_memory) or add "
        "workers"
    )


def _codes(labels: pd.Series, classes: list[str]) -> pd.Series:
    """Labels as 0..k-1 in the order of the sorted class names (a label encoder's order)."""
    codes = pd.Categorical(labels.astype(str), categories=classes).codes
    return pd.Series(codes.astype("float64"), index=labels.index, name=labels.name)


def fit(estimator: DaskEstimator, X: dd.DataFrame, y: dd.Series) -> DaskEstimator:
    """Fit on the cluster: the rows stay on the workers, only the model comes back.

    A regressor is fitted as it is. DaskLGBMClassifier encodes the labels on
    each worker from the classes that worker holds, so a worker without some
    class trains on codes that mean other classes. The booster is therefore
    trained by DaskLGBMRegressor with the classifier's objective on codes
    encoded once for all workers. Either way the booster goes into a
    single-machine LightGBM model (``local_model_``), which compose saves.
    """
    params = {k: v for k, v in estimator.get_params().items() if k not in _CLUSTER_PARAMS}
    columns = list(X.columns)
    if isinstance(estimator, DaskLGBMRegressor):
        booster = _train(DaskLGBMRegressor, params, X, y.astype("float64"))
        estimator.local_model_ = _local_model(booster, params, None, columns)
        return estimator
    classes = sorted(str(c) for c in computed("the training labels", y.unique())[0])
    objective = (
        {"objective": "binary"}
        if len(classes) == 2
        else {"objective": "multiclass", "num_class": len(classes)}
    )
    codes = y.map_partitions(_codes, classes, meta=(y.name, "float64"))
    booster = _train(DaskLGBMRegressor, {**params, **objective}, X, codes)
    estimator.local_model_ = _local_model(booster, params, classes, columns)
    return estimator


def _local_model(
    booster: lightgbm.Booster, params: dict[str, Any], classes: list[str] | None, columns: list[str]
) -> lightgbm.LGBMModel:
    """A single-machine LGBMClassifier (LGBMRegressor: ``classes`` None) around a booster
    trained on the cluster.

    Fitted first on placeholder rows (one per class), which sets what
    scikit-learn and LightGBM keep besides the trees (classes, label encoder,
    feature names); its booster is then replaced by the cluster's, without
    the workers' addresses.
    """
    if classes is None:
        local: lightgbm.LGBMModel = lightgbm.LGBMRegressor(**{**params, "n_estimators": 1})
        labels: list[Any] = [0.0, 1.0]
    else:
        local = lightgbm.LGBMClassifier(**{**params, "n_estimators": 1})
        labels = list(classes)
    local.fit(pd.DataFrame(np.zeros((len(labels), len(columns))), columns=columns), labels)
    local.set_params(n_estimators=params.get("n_estimators", 100))
    text = _NETWORK_LINE.sub("", booster.model_to_string())
    local._Booster = lightgbm.Booster(model_str=text)
    return local


def to_local(estimator: DaskEstimator) -> lightgbm.LGBMModel:
    """The single-machine model of a fit on the cluster (what the service loads)."""
    local = getattr(estimator, "local_model_", None)
    if local is None:
        raise ModelError("train: the Dask estimator was not fitted by nbml's fit_estimator")
    return local
