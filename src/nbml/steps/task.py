"""What the pipeline learns: classes (classification) or a quantity (regression).

``prepare`` decides it once, from params.yaml ``data.task`` and the labelled
target column, prints the decision with its reason and records it in a small
JSON file in the prepared folder (dvc.yaml ``vars.paths.task``). Every later
stage, and the runner's checks before a stage's kernel starts, read that
record: one decision, made in one place.

This module stays light (pandas and scikit-learn's base classes): every stage
imports it through :mod:`nbml.steps.data`, and the runner's checks import it.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pandas.api import types as ptypes

from nbml.errors import DataError, TaskError
from nbml.project import AUTO

CLASSIFICATION = "classification"
REGRESSION = "regression"
TASKS = (AUTO, CLASSIFICATION, REGRESSION)
TASK_PARAM = "params.yaml data.task"
# auto: a numeric target is a quantity when it has more than this many
# distinct values AND they are more than this share of the labelled rows
# (a 1-5 rating on 10,000 rows stays classes; a price on 400 rows does not).
MIN_DISTINCT = 20
MIN_DISTINCT_SHARE = 0.05
# What train.estimator: auto becomes for each task; both take the same kwargs.
AUTO_ESTIMATORS = {
    CLASSIFICATION: "sklearn.ensemble.HistGradientBoostingClassifier",
    REGRESSION: "sklearn.ensemble.HistGradientBoostingRegressor",
}
# What permutation importance measures the drop of, per task: a scikit-learn
# scorer name, and how the figures call it.
IMPORTANCE_SCORING = {CLASSIFICATION: "balanced_accuracy", REGRESSION: "r2"}
IMPORTANCE_LABEL = {CLASSIFICATION: "balanced accuracy", REGRESSION: "R²"}
# Strata of a regression split: quantiles of the target, each with enough rows.
MAX_QUANTILE_BINS = 10
_SHOWN = 3


@dataclass(frozen=True)
class TaskDecision:
    """The task, how it was chosen (data.task) and why, for one target column."""

    task: str
    requested: str
    target: str
    reason: str

    def describe(self) -> str:
        """One line for the terminal and the reports."""
        how = "detected" if self.requested == AUTO else "set by data.task"
        return f"task: {self.task} ({how}): {self.reason}"

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


def _labels(df: pd.DataFrame, target: str) -> pd.Series:
    if target not in df.columns:
        cols = ", ".join(map(str, df.columns[:30]))
        raise DataError(
            "params.yaml data.target", [f"target column '{target}' not found; columns are: {cols}"]
        )
    return df[target].dropna()


def _examples(values: pd.Series) -> str:
    shown = ", ".join(repr(str(v)) for v in values.unique()[:_SHOWN])
    return shown + (", ..." if values.nunique() > _SHOWN else "")


def detect_task(labels: pd.Series, target: str) -> tuple[str, str]:
    """(task, reason) for a target column's labelled values, by the rule of data.task: auto."""
    distinct = int(labels.nunique())
    if ptypes.is_bool_dtype(labels):
        return CLASSIFICATION, f"target '{target}' is boolean"
    if not ptypes.is_numeric_dtype(labels):
        return CLASSIFICATION, f"target '{target}' holds text labels ({_examples(labels)})"
    share = distinct / max(len(labels), 1)
    counted = f"{distinct} distinct values on {len(labels)} labelled rows ({share:.1%})"
    if distinct > MIN_DISTINCT and share > MIN_DISTINCT_SHARE:
        return REGRESSION, f"target '{target}' is numeric with {counted}"
    return CLASSIFICATION, (
        f"target '{target}' is numeric with only {counted}: each value is a class "
        f"(regression needs > {MIN_DISTINCT} and > {MIN_DISTINCT_SHARE:.0%} of the rows)"
    )


def counts_look_continuous(counts: pd.Series) -> bool:
    """:func:`detect_task`'s rule for a numeric target from its counts per value alone."""
    distinct = len(counts)
    return distinct > MIN_DISTINCT and distinct / max(int(counts.sum()), 1) > MIN_DISTINCT_SHARE


def check_task_param(requested: Any) -> list[str]:
    """Problems with data.task itself (not with the data)."""
    if requested in TASKS:
        return []
    return [f"data.task: expected one of {', '.join(TASKS)}, found {requested!r}"]


def decide_task(df: pd.DataFrame, target: str, requested: str = AUTO) -> TaskDecision:
    """The task for ``target``: data.task when explicit and possible, else detected.

    Regression asked for on text or boolean labels is refused, naming data.task
    and the column; so is a regression target with a single value.
    """
    problems = check_task_param(requested)
    if problems:
        raise TaskError(problems[0])
    labels = _labels(df, target)
    detected, reason = detect_task(labels, target)
    if requested == AUTO:
        return TaskDecision(detected, requested, target, reason)
    numeric = ptypes.is_numeric_dtype(labels) and not ptypes.is_bool_dtype(labels)
    if requested == REGRESSION and not numeric:
        raise TaskError(
            f"{TASK_PARAM}: regression needs a numeric target, but column '{target}' "
            f"(data.target) holds {'booleans' if ptypes.is_bool_dtype(labels) else 'text'} "
            f"({_examples(labels)}); set data.task: classification (or auto), or choose a "
            "numeric data.target"
        )
    if requested == REGRESSION and labels.nunique() < 2:
        raise TaskError(
            f"{TASK_PARAM}: column '{target}' (data.target) has a single value "
            f"({_examples(labels) or 'none'}) on its labelled rows: there is nothing to predict"
        )
    return TaskDecision(requested, requested, target, f"{reason}; data.task: {requested}")


def write_task(decision: TaskDecision, path: Path) -> Path:
    """Record the decision for the later stages (stable JSON: same decision, same bytes)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(decision.to_dict(), indent=2, sort_keys=True) + "\n")
    return path


def read_task(path: Path) -> TaskDecision:
    """The decision prepare recorded; an error naming the file when it is missing or bad."""
    try:
        found = json.loads(Path(path).read_text(encoding="utf-8"))
        decision = TaskDecision(**{k: str(found[k]) for k in TaskDecision.__annotations__})
    except FileNotFoundError:
        raise TaskError(f"{path}: no task recorded; run `dvc repro prepare` first") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise TaskError(f"{path}: not a task record written by prepare ({exc})") from None
    if decision.task not in (CLASSIFICATION, REGRESSION):
        raise TaskError(f"{path}: unknown task {decision.task!r}")
    return decision


def estimator_for(estimator: str, task: str) -> str:
    """train.estimator's import path: ``auto`` becomes the task's default estimator."""
    return AUTO_ESTIMATORS[task] if estimator == AUTO else estimator


def kind_of(cls: type) -> str | None:
    """The task an estimator class is for (by scikit-learn's mixins), or None."""
    # lazy: explore and report read the task with this module, without scikit-learn (~2 s)
    from sklearn.base import ClassifierMixin, RegressorMixin

    if issubclass(cls, ClassifierMixin):
        return CLASSIFICATION
    if issubclass(cls, RegressorMixin):
        return REGRESSION
    return None


def estimator_kind_problem(name: str, cls: type, decision: TaskDecision) -> str | None:
    """Why train.estimator cannot serve the task (None when it can)."""
    kind = kind_of(cls)
    if kind == decision.task:
        return None
    wanted = "regressor" if decision.task == REGRESSION else "classifier"
    what = {CLASSIFICATION: "a classifier", REGRESSION: "a regressor"}.get(kind, "neither kind")
    return (
        f"train.estimator: {name} is {what}, but the task is {decision.task} "
        f"({decision.describe()}); choose a {wanted}, or train.estimator: auto "
        f"({AUTO_ESTIMATORS[decision.task]})"
    )


def quantile_strata(values: pd.Series, test_rows: int, max_bins: int = MAX_QUANTILE_BINS) -> Any:
    """Quantile bins of a numeric target to stratify a split by (None when too few rows).

    As many bins as the test rows allow (a stratified split needs one test row
    per stratum), at most ``max_bins``, each with at least two rows; bins are
    cut on ranks, so tied values never leave a bin empty.
    """
    values = pd.Series(np.asarray(values, dtype=float))
    bins = min(max_bins, test_rows, len(values) // 2)
    while bins >= 2:
        strata = pd.qcut(values.rank(method="first"), bins, labels=False)
        if strata.value_counts().min() >= 2:
            return strata.to_numpy()
        bins -= 1
    return None
