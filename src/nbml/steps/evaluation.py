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
# Lower is better for these; every other metric is higher-is-better.
LOWER_IS_BETTER = frozenset({"log_loss"})


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


def confusion_rows(y_true: pd.Series, y_pred: Labels) -> pd.DataFrame:
    """One row per test sample, for DVC's ``confusion`` template."""
    return pd.DataFrame({"actual": np.asarray(y_true), "predicted": np.asarray(y_pred)})


def _one_vs_rest(y_true: pd.Series, classes: Labels) -> np.ndarray:
    onehot = label_binarize(np.asarray(y_true), classes=classes)
    if len(classes) == 2:  # label_binarize gives one column for two classes
        onehot = np.hstack([1 - onehot, onehot])
    return onehot


Points = Callable[[np.ndarray, np.ndarray], dict[str, np.ndarray]]


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
    return {"fpr": fpr, "tpr": tpr}


def _precision_recall_points(truth: np.ndarray, score: np.ndarray) -> dict[str, np.ndarray]:
    precision, recall, _ = skm.precision_recall_curve(truth, score)
    return {"recall": recall, "precision": precision}


def roc_rows(y_true: pd.Series, proba: Proba, classes: Labels) -> pd.DataFrame:
    """Per-class one-vs-rest ROC curves, long format (class, fpr, tpr)."""
    return _per_class(y_true, proba, classes, _roc_points)


def precision_recall_rows(y_true: pd.Series, proba: Proba, classes: Labels) -> pd.DataFrame:
    """Per-class precision-recall curves, long format (class, recall, precision)."""
    return _per_class(y_true, proba, classes, _precision_recall_points)


def importance_rows(
    model: Any, X: pd.DataFrame, y: pd.Series, repeats: int, seed: int
) -> pd.DataFrame:
    """Permutation importance of each raw source column on the test split.

    Computed on the whole served model, so it speaks of the columns a user
    knows (``island``) rather than one-hot encoded ones, for any estimator.
    """
    result = permutation_importance(
        model, X, y, n_repeats=repeats, random_state=seed, scoring="balanced_accuracy"
    )
    rows = pd.DataFrame(
        {
            "feature": list(X.columns),
            "importance": result.importances_mean.round(6),
            "std": result.importances_std.round(6),
        }
    )
    return rows.sort_values(["importance", "feature"], ascending=[False, True], ignore_index=True)
