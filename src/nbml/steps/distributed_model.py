"""Training and scoring on a Dask cluster: LightGBM on Dask collections.

With ``compute.scheduler`` set, train fits ``lightgbm.dask.DaskLGBMClassifier``
on the training split where it lies (the workers), and the saved model is its
single-machine twin (``to_local()``), a plain ``lightgbm.LGBMClassifier``
inside the same scikit-learn Pipeline the service loads. The functions passed
to ``map_partitions`` live at module level so the workers import them.
"""

from __future__ import annotations

import re
from typing import Any

import dask.dataframe as dd
import lightgbm
import numpy as np
import pandas as pd
from distributed import default_client
from lightgbm.dask import DaskLGBMClassifier, DaskLGBMRegressor

from nbml.errors import ModelError
from nbml.messages import progress
from nbml.steps.cluster import computed
from nbml.steps.compute import estimator_refusal

# The model text of a distributed fit names the workers' ports; the saved
# model must not change with them (dvc.lock would), nor does predicting use them.
_CLUSTER_PARAMS = ("client", "tree_learner", "num_threads", "time_out", "machines", "n_jobs")
_NETWORK_LINE = re.compile(r"^\[(machines|local_listen_port|num_machines|time_out): .*\]$", re.M)


def make_estimator(import_path: str, kwargs: dict[str, Any] | None) -> DaskLGBMClassifier:
    """The Dask estimator for train.estimator, refusing one that cannot train on a cluster."""
    problem = estimator_refusal(import_path)
    if problem:
        raise ModelError(f"params.yaml {problem}")
    kwargs = dict(kwargs or {})
    accepted = set(lightgbm.LGBMClassifier().get_params())
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
    return DaskLGBMClassifier(**kwargs)


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
    """

    def __init__(self, client: Any):
        self._client = client
        infos = client.scheduler_info()["workers"].items()
        self._workers = [a for a, _ in sorted(infos, key=lambda w: str(w[1]["name"]))]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def who_has(self, futures: Any = None, **kwargs: Any) -> dict[str, tuple[str, ...]]:
        keys = [future.key for future in futures]
        return {key: (self._workers[i % len(self._workers)],) for i, key in enumerate(keys)}


def _codes(labels: pd.Series, classes: list[str]) -> pd.Series:
    """Labels as 0..k-1 in the order of the sorted class names (a label encoder's order)."""
    codes = pd.Categorical(labels.astype(str), categories=classes).codes
    return pd.Series(codes.astype("float64"), index=labels.index, name=labels.name)


def fit(classifier: DaskLGBMClassifier, X: dd.DataFrame, y: dd.Series) -> DaskLGBMClassifier:
    """Fit on the cluster: the rows stay on the workers, only the model comes back.

    DaskLGBMClassifier encodes the labels on each worker from the classes that
    worker holds, so a worker without some class trains on codes that mean
    other classes. The booster is therefore trained by DaskLGBMRegressor with
    the classifier's objective on codes encoded once for all workers, and put
    into a single-machine LGBMClassifier (``local_model_``), which compose saves.
    """
    client = default_client()
    classes = sorted(str(c) for c in computed("the training labels", y.unique())[0])
    params = {k: v for k, v in classifier.get_params().items() if k not in _CLUSTER_PARAMS}
    objective = (
        {"objective": "binary"}
        if len(classes) == 2
        else {"objective": "multiclass", "num_class": len(classes)}
    )
    codes = y.map_partitions(_codes, classes, meta=(y.name, "float64"))
    progress(
        f"train: fitting {type(classifier).__name__} on the cluster: {X.npartitions} "
        f"partition(s) x {X.shape[1]} columns, {len(client.scheduler_info()['workers'])} worker(s)"
    )
    placing = _PlacingClient(client)
    booster = DaskLGBMRegressor(**{**params, **objective, "client": placing}).fit(X, codes)
    booster = booster.booster_
    classifier.local_model_ = _local_model(booster, params, classes, list(X.columns))
    return classifier


def _local_model(
    booster: lightgbm.Booster, params: dict[str, Any], classes: list[str], columns: list[str]
) -> lightgbm.LGBMClassifier:
    """A single-machine LGBMClassifier around a booster trained on the cluster.

    Fitted first on one placeholder row per class, which sets what scikit-learn
    and LightGBM keep besides the trees (classes, label encoder, feature names);
    its booster is then replaced by the cluster's, without the workers' addresses.
    """
    local = lightgbm.LGBMClassifier(**{**params, "n_estimators": 1})
    local.fit(pd.DataFrame(np.zeros((len(classes), len(columns))), columns=columns), classes)
    local.set_params(n_estimators=params.get("n_estimators", 100))
    text = _NETWORK_LINE.sub("", booster.model_to_string())
    local._Booster = lightgbm.Booster(model_str=text)
    return local


def to_local(classifier: DaskLGBMClassifier) -> lightgbm.LGBMClassifier:
    """The single-machine model of a fit on the cluster (what the service loads)."""
    local = getattr(classifier, "local_model_", None)
    if local is None:
        raise ModelError("train: the Dask estimator was not fitted by nbml's fit_estimator")
    return local
