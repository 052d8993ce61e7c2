"""What guessing gives: the score of a model that ignores every column.

The reference point next to each metric: for classification, always answering
the most common class of the training split (with the training class shares
as probabilities); for regression, always answering the training mean. Both
are scored on the same test rows as the model.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn import metrics as skm

from nbml.errors import MetricError
from nbml.messages import warn
from nbml.steps import regression
from nbml.steps.compute import is_dask, small
from nbml.steps.evaluation import compute_metrics
from nbml.steps.summary import baseline_verdict

TASKS = ("classification", "regression")


def majority_baseline(
    y_train: pd.Series, y_test: pd.Series, classes: Any, names: list[str]
) -> dict[str, Any]:
    """Always the most common training class; probabilities are the training shares."""
    classes = np.asarray(classes)
    shares = y_train.value_counts(normalize=True).reindex(classes, fill_value=0.0)
    # ties go to the first class in the model's order, so the answer is stable
    majority = classes[int(np.argmax(shares.to_numpy()))]
    if is_dask(y_test):  # the same answer for every row: the test split's class counts say it all
        scores = _constant_metrics(small(y_test.value_counts()), majority, shares, classes, names)
    else:
        predicted = np.full(len(y_test), majority, dtype=object)
        proba = np.tile(shares.to_numpy(dtype=float), (len(y_test), 1))
        scores = compute_metrics(y_test, predicted, proba, classes, names)
    return {"strategy": "majority class", "answer": str(majority), "metrics": scores}


def _constant_metrics(
    counts: pd.Series, majority: Any, shares: pd.Series, classes: np.ndarray, names: list[str]
) -> dict[str, float]:
    """compute_metrics of one answer and one probability row for every test row, from the
    rows per class (one weighted row per class: the cluster's test split stays there)."""
    counts = counts[counts > 0]
    truth = counts.index.to_numpy()
    guess = np.full(len(truth), majority, dtype=object)
    proba = np.tile(shares.to_numpy(dtype=float), (len(truth), 1))
    w = counts.to_numpy(dtype=float)
    found = {
        "accuracy": lambda: skm.accuracy_score(truth, guess, sample_weight=w),
        "balanced_accuracy": lambda: skm.balanced_accuracy_score(truth, guess, sample_weight=w),
        "f1_macro": lambda: skm.f1_score(
            truth, guess, average="macro", labels=classes, sample_weight=w
        ),
        "roc_auc_ovr": lambda: 0.5,  # every row gets the same scores
        "log_loss": lambda: skm.log_loss(truth, proba, labels=classes, sample_weight=w),
    }
    return {n: round(float(found[n]()), 6) for n in names}


def mean_baseline(
    y_train: pd.Series, y_test: pd.Series, names: list[str] | None = None
) -> dict[str, Any]:
    """Always the training mean, scored with the run's regression metrics (``names``; all of
    them by default), rows without a value left out."""
    mean = float(np.nanmean(np.asarray(y_train, dtype=float)))
    names = names or list(regression.METRICS)
    if is_dask(y_test):  # scored on the workers, where the test split lies
        scores = regression.compute_metrics(y_test, mean, names)
    else:
        truth = np.asarray(y_test, dtype=float)
        truth = truth[~np.isnan(truth)]
        scores = regression.compute_metrics(truth, np.full(len(truth), mean), names)
    return {"strategy": "training mean", "answer": round(mean, 6), "metrics": scores}


def baseline(
    task: str,
    y_train: pd.Series,
    y_test: pd.Series,
    classes: Any = None,
    names: list[str] | None = None,
) -> dict[str, Any]:
    """The baseline of ``task``: ``{"strategy", "answer", "metrics"}``, for baseline.json."""
    if task == "classification":
        if classes is None or names is None:
            raise MetricError("a classification baseline needs the classes and the metric names")
        return majority_baseline(y_train, y_test, classes, names)
    if task == "regression":
        return mean_baseline(y_train, y_test, names)
    raise MetricError(f"unknown task '{task}' for a baseline; known: {', '.join(TASKS)}")


def describe(result: dict[str, Any], target: str) -> str:
    """How a person would say what the baseline does."""
    if result["strategy"] == "majority class":
        return f"always answering the most common class ({result['answer']})"
    return f"always answering the training mean of {target} ({result['answer']:.4g})"


def warn_if_not_beaten(scores: dict[str, float], result: dict[str, Any], target: str) -> str:
    """Warn (on the terminal too) when the model does no better than the baseline somewhere.

    Returns the sentence, '' when the model beats the baseline on every metric.
    """
    said = baseline_verdict(scores, result["metrics"], describe(result, target))
    if said:
        warn(said)
    return said
