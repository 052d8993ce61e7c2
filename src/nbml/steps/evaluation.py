"""Metrics for ``dvc metrics`` and plot data for ``dvc plots``."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn import metrics as skm
from sklearn.inspection import permutation_importance
from sklearn.preprocessing import label_binarize

from nbml.errors import MetricError
from nbml.messages import progress
from nbml.steps.resources import stage_threads

Labels = np.ndarray
Proba = np.ndarray


def _roc_auc(y: Labels, pred: Labels, proba: Proba, classes: Labels) -> float:
    if len(classes) == 2:
        return float(skm.roc_auc_score(y == classes[1], proba[:, 1]))
    return float(skm.roc_auc_score(y, proba, multi_class="ovr", labels=classes))


# name -> f(y_true, y_pred, proba, classes); the names are those of metrics.json
METRICS: dict[str, Callable[[Labels, Labels, Proba, Labels], float]] = {
    "accuracy": lambda y, p, pr, c: float(skm.accuracy_score(y, p)),
    "balanced_accuracy": lambda y, p, pr, c: float(skm.balanced_accuracy_score(y, p)),
    "f1_macro": lambda y, p, pr, c: float(skm.f1_score(y, p, average="macro", labels=c)),
    "roc_auc_ovr": _roc_auc,
    "log_loss": lambda y, p, pr, c: float(skm.log_loss(y, pr, labels=c)),
}
# Which way each metric is better: nbml.steps.summary.METRIC_INFO (the one source).


def check_metric_names(names: list[str]) -> None:
    """Refuse unknown metric names, listing the known ones."""
    unknown = [n for n in names if n not in METRICS]
    if unknown:
        raise MetricError(
            f"params.yaml evaluate.metrics: unknown metric(s) {', '.join(unknown)}; "
            f"known: {', '.join(METRICS)}"
        )


def compute_metrics(
    y_true: pd.Series, y_pred: Labels, proba: Proba, classes: Labels, names: list[str]
) -> dict[str, float]:
    """The requested metrics, rounded so tiny float noise does not show as a change."""
    check_metric_names(names)
    y = np.asarray(y_true)
    return {n: round(METRICS[n](y, np.asarray(y_pred), proba, classes), 6) for n in names}


def write_json(data: dict[str, Any], path: Path) -> Path:
    """Write JSON with stable formatting (sorted keys, newline at the end)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return path


def write_csv(df: pd.DataFrame, path: Path) -> Path:
    """Write plot data as CSV, the format ``dvc plots`` reads directly."""
    path.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(path, index=False, float_format="%.6g")
    return path


def confusion_counts(y_true: pd.Series, y_pred: Labels, classes: Labels) -> pd.DataFrame:
    """Test rows per (actual, predicted) pair, every pair of classes (zeros included).

    One line per pair, not per test row, so the file does not grow with the
    data; the project's DVC template (.dvc/plots/confusion_counts.json) sums
    the ``count`` field.
    """
    labels = [str(c) for c in classes]
    pairs = pd.crosstab(
        pd.Categorical(np.asarray(y_true).astype(str), categories=labels),
        pd.Categorical(np.asarray(y_pred).astype(str), categories=labels),
        dropna=False,
    )
    counts = pairs.stack(future_stack=True).rename("count").reset_index()
    counts.columns = ["actual", "predicted", "count"]
    return counts.astype({"actual": str, "predicted": str, "count": "int64"})


def _one_vs_rest(y_true: pd.Series, classes: Labels) -> np.ndarray:
    onehot = label_binarize(np.asarray(y_true), classes=classes)
    if len(classes) == 2:  # label_binarize gives one column for two classes
        onehot = np.hstack([1 - onehot, onehot])
    return onehot


Points = Callable[[np.ndarray, np.ndarray], dict[str, np.ndarray]]
# Points kept per curve: scikit-learn gives one per distinct score, which at
# millions of test rows makes plot files of megabytes for a picture that a
# few hundred points draw the same. AUC and the metrics use every row.
MAX_CURVE_POINTS = 200


def thin_curve(x: np.ndarray, y: np.ndarray, max_points: int = MAX_CURVE_POINTS) -> np.ndarray:
    """Indices of at most ``max_points`` + 1 points spaced evenly along the curve's length.

    Both ends are kept; a curve that is already short is kept whole.
    """
    n = len(x)
    if n <= max_points:
        return np.arange(n)
    length = np.concatenate([[0.0], np.cumsum(np.hypot(np.diff(x), np.diff(y)))])
    step = length[-1] / max_points if length[-1] > 0 else 1.0
    # the first point of each equal-length stretch, then the last point
    first = np.flatnonzero(np.diff(np.floor(length / step), prepend=-1.0) > 0)
    return np.unique(np.concatenate([first, [n - 1]]))


def _per_class(y_true: pd.Series, proba: Proba, classes: Labels, points: Points) -> pd.DataFrame:
    """One curve per class (that class against the rest), long format: class, then points."""
    onehot = _one_vs_rest(y_true, classes)
    parts = [
        pd.DataFrame({"class": str(label), **points(onehot[:, i], proba[:, i])})
        for i, label in enumerate(classes)
    ]
    return pd.concat(parts, ignore_index=True)


def _roc_points(truth: np.ndarray, score: np.ndarray) -> dict[str, np.ndarray]:
    fpr, tpr, _ = skm.roc_curve(truth, score)
    keep = thin_curve(fpr, tpr)
    return {"fpr": fpr[keep], "tpr": tpr[keep]}


def _precision_recall_points(truth: np.ndarray, score: np.ndarray) -> dict[str, np.ndarray]:
    precision, recall, _ = skm.precision_recall_curve(truth, score)
    keep = thin_curve(recall, precision)
    return {"recall": recall[keep], "precision": precision[keep]}


def roc_rows(y_true: pd.Series, proba: Proba, classes: Labels) -> pd.DataFrame:
    """Per-class one-vs-rest ROC curves, long format (class, fpr, tpr)."""
    return _per_class(y_true, proba, classes, _roc_points)


def precision_recall_rows(y_true: pd.Series, proba: Proba, classes: Labels) -> pd.DataFrame:
    """Per-class precision-recall curves, long format (class, recall, precision)."""
    return _per_class(y_true, proba, classes, _precision_recall_points)


PARALLEL_IMPORTANCE_ROWS = 2000


def importance_rows(
    model: Any,
    X: pd.DataFrame,
    y: pd.Series,
    repeats: int,
    seed: int,
    max_rows: int | None = None,
    scoring: str = "balanced_accuracy",
) -> pd.DataFrame:
    """Permutation importance of each raw source column on (a sample of) the test split.

    Computed on the whole served model, so it speaks of the columns a user
    knows (``island``) rather than one-hot encoded ones, for any estimator.
    It costs ``repeats`` x columns predictions of the rows it is given, so
    above ``max_rows`` test rows it scores one seeded sample of ``max_rows``
    (evaluate.importance_sample), in parallel on the stage's threads.
    ``scoring`` is the scikit-learn scorer whose drop is measured (r2 for regression).
    """
    if max_rows is not None and len(X) > max_rows:
        # one seeded sample for the baseline score and every repeat
        X = X.sample(n=max_rows, random_state=seed)
        y = y.loc[X.index]
    # below a few thousand rows, starting worker processes costs more than it saves
    jobs = stage_threads() if len(X) >= PARALLEL_IMPORTANCE_ROWS else 1
    progress(f"permutation importance: {X.shape[1]} columns x {repeats} repeats on {len(X):,} rows")
    result = permutation_importance(
        model,
        X,
        y,
        n_repeats=repeats,
        random_state=seed,
        scoring=scoring,
        n_jobs=jobs,
    )
    rows = pd.DataFrame(
        {
            "feature": list(X.columns),
            "importance": result.importances_mean.round(6),
            "std": result.importances_std.round(6),
        }
    )
    return rows.sort_values(["importance", "feature"], ascending=[False, True], ignore_index=True)
