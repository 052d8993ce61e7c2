"""Regression: metrics for ``dvc metrics`` and bounded plot data for ``dvc plots``.

Classification's metrics and plot data stay in :mod:`nbml.steps.evaluation`;
this module adds those of a quantity, and chooses between the two by the
task prepare recorded (:mod:`nbml.steps.task`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from sklearn import metrics as skm

from nbml.errors import MetricError
from nbml.steps import evaluation, slices
from nbml.steps.compute import is_dask
from nbml.steps.task import AUTO, CLASSIFICATION, REGRESSION

Values = np.ndarray

# name -> f(y_true, y_pred); the names are those of metrics.json
METRICS: dict[str, Callable[[Values, Values], float]] = {
    "r2": lambda y, p: float(skm.r2_score(y, p)),
    "rmse": lambda y, p: float(skm.root_mean_squared_error(y, p)),
    "mae": lambda y, p: float(skm.mean_absolute_error(y, p)),
    "median_absolute_error": lambda y, p: float(skm.median_absolute_error(y, p)),
}
# Every metric either task can compute, by task: what evaluate.metrics may name.
TASK_METRICS: dict[str, list[str]] = {
    CLASSIFICATION: list(evaluation.METRICS),
    REGRESSION: list(METRICS),
}
# Points kept in each regression plot file: one seeded sample of test rows, so
# the files stay ~50 kB at any number of rows (the metrics use every row).
MAX_PLOT_POINTS = 2000
# The plot files of each task (dvc.yaml vars.paths names) and their columns.
# Evaluate writes every one of them; the other task's hold only their header,
# which `dvc plots show` draws as nothing (a missing file would be an error).
PLOT_FILES: dict[str, dict[str, list[str]]] = {
    CLASSIFICATION: {
        "confusion": ["actual", "predicted", "count"],
        "roc": ["class", "fpr", "tpr"],
        "precision_recall": ["class", "recall", "precision"],
    },
    REGRESSION: {
        "predicted_actual": ["actual", "predicted"],
        "residuals": ["predicted", "residual"],
    },
}


def metric_names(requested: Any, task: str) -> list[str]:
    """evaluate.metrics for the task: ``auto`` is every metric of the task; names are checked."""
    known = TASK_METRICS[task]
    if requested == AUTO:
        return list(known)
    names = [str(n) for n in requested]
    wrong = [n for n in names if n not in known]
    if wrong:
        raise MetricError(
            f"params.yaml evaluate.metrics: {', '.join(wrong)} cannot score a {task} task; "
            f"its metrics: {', '.join(known)} (or evaluate.metrics: auto)"
        )
    return names


def _distributed() -> Any:
    # lazy: Dask is imported only when compute.scheduler names a cluster
    from nbml.steps import distributed_eval

    return distributed_eval


def predict(model: Any, X: Any) -> Any:
    """The model's prediction of every row; for a Dask frame, computed and kept on the workers."""
    if is_dask(X):
        return _distributed().predict_values(model, X)
    return model.predict(X)


def compute_metrics(y_true: Any, y_pred: Any, names: list[str]) -> dict[str, float]:
    """Regression metrics on every test row, rounded like the classification ones.

    On a cluster (a Dask ``y_true``; ``y_pred`` a Dask series or one number) they
    are computed on the workers: r2, rmse and mae from sums, the median absolute
    error exactly (``distributed_eval.regression_metrics``).
    """
    if is_dask(y_true):
        return _distributed().regression_metrics(y_true, y_pred, names)
    y, p = np.asarray(y_true, dtype=float), np.asarray(y_pred, dtype=float)
    return {n: round(METRICS[n](y, p), 6) for n in names}


def plot_sample(n: int, seed: int, max_points: int = MAX_PLOT_POINTS) -> np.ndarray:
    """Indices of at most ``max_points`` of ``n`` test rows (one seeded sample, in row order)."""
    if n <= max_points:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=max_points, replace=False))


def predicted_actual_rows(y_true: Any, y_pred: Any, seed: int) -> pd.DataFrame:
    """Actual and predicted value per sampled test row (dvc plots: a scatter).

    On a cluster, the sample is drawn on the workers (seeded per partition).
    """
    if is_dask(y_true):
        return _distributed().regression_sample(y_true, y_pred, seed, MAX_PLOT_POINTS)
    keep = plot_sample(len(y_true), seed)
    actual = np.asarray(y_true, dtype=float)[keep]
    return pd.DataFrame({"actual": actual, "predicted": np.asarray(y_pred, dtype=float)[keep]})


def residual_rows(y_true: Any, y_pred: Any, seed: int) -> pd.DataFrame:
    """Residual (actual - predicted) against the prediction, on the same sampled rows."""
    rows = predicted_actual_rows(y_true, y_pred, seed)
    return pd.DataFrame(
        {"predicted": rows["predicted"], "residual": rows["actual"] - rows["predicted"]}
    )


def error_by_quantile(y_true: Any, y_pred: Any) -> pd.DataFrame:
    """slices.error_by_quantile, on the workers for a split scored on a cluster."""
    if is_dask(y_true):
        return _distributed().error_by_quantile(y_true, y_pred)
    return slices.error_by_quantile(y_true, y_pred)


def unused_plot_files(task: str) -> dict[str, pd.DataFrame]:
    """Header-only frames for the plot files of the other task, by vars.paths name."""
    return {
        key: pd.DataFrame(columns=columns)
        for other, files in PLOT_FILES.items()
        if other != task
        for key, columns in files.items()
    }
