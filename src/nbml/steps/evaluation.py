"""Metrics for ``dvc metrics`` and plot data for ``dvc plots``."""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn import metrics as skm
from sklearn.base import is_classifier
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import (
    ExtraTreesClassifier,
    HistGradientBoostingClassifier,
    RandomForestClassifier,
)
from sklearn.impute import SimpleImputer
from sklearn.inspection import permutation_importance
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import (
    MaxAbsScaler,
    MinMaxScaler,
    OneHotEncoder,
    OrdinalEncoder,
    RobustScaler,
    StandardScaler,
    label_binarize,
)
from sklearn.utils import Bunch

from nbml.errors import MetricError
from nbml.messages import progress
from nbml.steps import hgb
from nbml.steps.compute import is_dask
from nbml.steps.resources import stage_threads
from nbml.steps.transformers import BooleanValues

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


def predict(model: Any, X: Any) -> tuple[Any, Any]:
    """Class probabilities and labels; for a Dask frame, computed and kept on the workers."""
    if is_dask(X):
        return _distributed().predict(model, X)
    return model.predict_proba(X), model.predict(X)


def _distributed() -> Any:
    # lazy: Dask is imported only when compute.scheduler names a cluster
    from nbml.steps import distributed_eval

    return distributed_eval


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
    if is_dask(proba):
        return _distributed().compute_metrics(y_true, y_pred, proba, classes, names)
    y, pred, labels = class_codes(np.asarray(y_true), np.asarray(y_pred), np.asarray(classes))
    return {n: round(METRICS[n](y, pred, proba, labels), 6) for n in names}


def class_codes(y_true: Labels, y_pred: Labels, classes: Labels) -> tuple[Labels, Labels, Labels]:
    """Labels as their positions in the sorted ``classes``: the same metrics, several
    times faster than comparing text labels at millions of rows. Labels given
    unsorted, or not all among the classes, are returned as they are."""
    index = pd.Index(classes)
    if not index.is_monotonic_increasing or not index.is_unique:
        return y_true, y_pred, classes
    codes = index.get_indexer(y_true), index.get_indexer(y_pred)
    if (codes[0] < 0).any() or (codes[1] < 0).any():
        return y_true, y_pred, classes
    return codes[0], codes[1], np.arange(len(classes))


# Estimators whose predict is the class of highest predict_proba (or of the
# raw score that predict_proba maps monotonically per row): one pass gives both.
ARGMAX_ESTIMATORS = (
    HistGradientBoostingClassifier,
    RandomForestClassifier,
    ExtraTreesClassifier,
    LogisticRegression,
)
# Rows whose two highest probabilities are this close are predicted again:
# rounding in the probabilities can tie two classes that the scores set apart.
TIE_GAP = 1e-9


def predict_with_proba(model: Any, X: pd.DataFrame) -> tuple[Labels, Proba]:
    """Class labels and probabilities of every row, from one pass over the rows.

    For :data:`ARGMAX_ESTIMATORS` the labels are the classes of highest
    probability, exactly what ``model.predict`` returns (near ties are
    predicted again to be sure); any other estimator is asked twice. For a
    Dask frame both are computed and kept on the workers.
    """
    if is_dask(X):
        proba, labels = _distributed().predict(model, X)
        return labels, proba
    estimator = model[-1] if isinstance(model, Pipeline) else model
    from_bins = _binned_labels_and_proba(model, estimator, X)
    if from_bins is not None:
        return from_bins
    proba = model.predict_proba(X)
    if not isinstance(estimator, ARGMAX_ESTIMATORS) or proba.shape[1] < 2:
        return np.asarray(model.predict(X)), proba
    labels = np.asarray(model.classes_)[np.argmax(proba, axis=1)]
    top2 = np.sort(proba, axis=1)[:, -2:]
    close = np.flatnonzero(top2[:, 1] - top2[:, 0] <= TIE_GAP * np.maximum(top2[:, 1], 1e-300))
    if len(close):
        labels = labels.copy()
        labels[close] = model.predict(X.iloc[close])
    return labels, proba


# Rows whose raw predictions from their bins are checked against scikit-learn's own.
BINNED_CHECK_ROWS = 2_000


def _binned_labels_and_proba(
    model: Any, estimator: Any, X: pd.DataFrame
) -> tuple[Labels, Proba] | None:
    """HistGradientBoosting's labels and probabilities, from the rows' bins (nbml.steps.hgb).

    One walk of the trees over one byte a value instead of eight: about a
    quarter less CPU on the test split, the same raw predictions (checked on
    the first BINNED_CHECK_ROWS rows against scikit-learn's, else None), and
    from them predict's labels and predict_proba's probabilities, as
    scikit-learn computes them. None for any other estimator.
    """
    if not (is_classifier(estimator) and hgb.supports(estimator)):
        return None
    rows = model[:-1].transform(X) if isinstance(model, Pipeline) else X
    matrix = hgb.model_rows(estimator, rows)  # predict's own input check
    raw = hgb.raw_predict(estimator, hgb.binned(estimator, matrix), stage_threads())
    check = min(len(matrix), BINNED_CHECK_ROWS)
    head = rows.iloc[:check] if isinstance(rows, pd.DataFrame) else rows[:check]
    if not np.array_equal(raw[:check], estimator._raw_predict(head)):
        return None
    return _from_raw(estimator, raw), estimator._loss.predict_proba(raw)


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
    if is_dask(y_pred):
        return _distributed().confusion_counts(y_true, y_pred, classes)
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
    """One 0/1 column per class: is the row of that class (label_binarize's values)."""
    codes = pd.Index(np.asarray(classes)).get_indexer(np.asarray(y_true))
    if pd.Index(np.asarray(classes)).is_unique and (codes >= 0).all():
        # from positions among the classes: label_binarize compares text labels, 0.14 s
        # a call at 250,000 rows, and the ROC and precision-recall rows each make one
        return (codes[:, None] == np.arange(len(classes))).astype(int)
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


def _roc_points(
    truth: np.ndarray, score: np.ndarray, weight: np.ndarray | None = None
) -> dict[str, np.ndarray]:
    fpr, tpr, _ = skm.roc_curve(truth, score, sample_weight=weight)
    keep = thin_curve(fpr, tpr)
    return {"fpr": fpr[keep], "tpr": tpr[keep]}


def _precision_recall_points(
    truth: np.ndarray, score: np.ndarray, weight: np.ndarray | None = None
) -> dict[str, np.ndarray]:
    precision, recall, _ = skm.precision_recall_curve(truth, score, sample_weight=weight)
    keep = thin_curve(recall, precision)
    return {"recall": recall[keep], "precision": precision[keep]}


def roc_rows(y_true: pd.Series, proba: Proba, classes: Labels) -> pd.DataFrame:
    """Per-class one-vs-rest ROC curves, long format (class, fpr, tpr)."""
    if is_dask(proba):
        return _distributed().curves(y_true, proba, classes, _roc_points)
    return _per_class(y_true, proba, classes, _roc_points)


def precision_recall_rows(y_true: pd.Series, proba: Proba, classes: Labels) -> pd.DataFrame:
    """Per-class precision-recall curves, long format (class, recall, precision)."""
    if is_dask(proba):
        return _distributed().curves(y_true, proba, classes, _precision_recall_points)
    return _per_class(y_true, proba, classes, _precision_recall_points)


PARALLEL_IMPORTANCE_ROWS = 2000
# Preprocessing steps whose every output column is computed from one input
# column of the same row: permuting a raw column and transforming then equals
# transforming once and permuting that column's outputs together.
COLUMNWISE_STEPS = (
    BooleanValues,
    SimpleImputer,
    StandardScaler,
    MinMaxScaler,
    MaxAbsScaler,
    RobustScaler,
    OneHotEncoder,
    OrdinalEncoder,
)
# Rows per prediction call when the permuted copies of a sample are stacked.
IMPORTANCE_BATCH_ROWS = 100_000


def importance_rows(
    model: Any,
    X: pd.DataFrame,
    y: pd.Series,
    repeats: int,
    seed: int,
    max_rows: int | None = None,
    scoring: str = "balanced_accuracy",
) -> pd.DataFrame:
    """Permutation importance of each raw column the model reads, on (a sample of) the test split.

    It speaks of the columns a user knows (``island``) rather than one-hot
    encoded ones, for any estimator. It costs ``repeats`` x columns
    predictions of the rows it is given, so above ``max_rows`` test rows it
    scores one seeded sample of ``max_rows`` (evaluate.importance_sample).
    From a cluster, that sample is what comes to this process.
    When the model's preprocessing works column by column (the pipeline's
    own), the sample is transformed once and each raw column's output columns
    are permuted together for the bare estimator (:func:`grouped_importance`,
    the same numbers as scikit-learn's ``permutation_importance`` on the
    whole model); otherwise permutation_importance scores the whole model, in parallel.
    ``scoring`` is the scikit-learn scorer whose drop is measured (r2 for regression).
    Columns the model does not read (:func:`unread_columns`) are left out.
    """
    if is_dask(X):
        X, y = _distributed().importance_sample(X, y, max_rows or len(X), seed)
    if max_rows is not None and len(X) > max_rows:
        # one seeded sample for the baseline score and every repeat
        X = X.sample(n=max_rows, random_state=seed)
        y = y.loc[X.index]
    unread = unread_columns(model, list(X.columns))
    read = X.shape[1] - len(unread)
    progress(f"permutation importance: {read} columns x {repeats} repeats on {len(X):,} rows")
    split = transformed_groups(model, X)
    if split is not None:
        matrix, names, groups = split
        result = grouped_importance(model[-1], matrix, names, y, groups, repeats, seed, scoring)
    else:
        # below a few thousand rows, starting worker processes costs more than it saves
        jobs = stage_threads() if len(X) >= PARALLEL_IMPORTANCE_ROWS else 1
        result = permutation_importance(
            model, X, y, n_repeats=repeats, random_state=seed, scoring=scoring, n_jobs=jobs
        )
    rows = pd.DataFrame(
        {
            "feature": list(X.columns),
            "importance": result.importances_mean.round(6),
            "std": result.importances_std.round(6),
        }
    )
    rows = rows[~rows["feature"].isin(unread)]
    return rows.sort_values(["importance", "feature"], ascending=[False, True], ignore_index=True)


SCORING = "balanced_accuracy"
# The scorers importance_rows is given (nbml.steps.task.IMPORTANCE_SCORING), as
# metric functions of (truth, predicted) for the grouped computation.
IMPORTANCE_METRICS: dict[str, Callable[[Any, Any], float]] = {
    "balanced_accuracy": skm.balanced_accuracy_score,
    "r2": skm.r2_score,
}


def _step_owners(step: Any, owners: list[str], names: list[str]) -> tuple[list[str], list[str]]:
    """One column-wise step: the raw column behind each of its outputs, and their names."""
    out = [str(n) for n in step.get_feature_names_out(names)]
    if isinstance(step, OneHotEncoder):
        # outputs come input by input: that many per input column
        counts = getattr(step, "_n_features_outs", None)
        if counts is None or sum(counts) != len(out):
            return [], out
        return list(np.repeat(np.asarray(owners, dtype=object), counts)), out
    position = {name: i for i, name in enumerate(names)}
    return [owners[position[n]] for n in out if n in position], out


def _output_columns(transformer: Any, columns: list[str]) -> list[str] | None:
    """The input column behind each output column of one ColumnTransformer entry, or None."""
    steps = (
        [s for _, s in transformer.steps] if isinstance(transformer, Pipeline) else [transformer]
    )
    owners, names = list(columns), list(columns)
    for step in steps:
        if step == "passthrough":
            continue
        if not isinstance(step, COLUMNWISE_STEPS) or getattr(step, "add_indicator", False):
            return None
        owners, names = _step_owners(step, owners, names)
        if len(owners) != len(names):
            return None
    return owners


def _entries_read(transformer: ColumnTransformer) -> list[tuple[Any, list[str]]]:
    """Each fitted entry of a ColumnTransformer that reads columns, with their names."""
    entries = []
    for _, step, cols in transformer.transformers_:
        if isinstance(step, str) and step == "drop":
            continue
        if isinstance(cols, str):
            cols = [cols]
        elif not isinstance(cols, list) or not all(isinstance(c, str) for c in cols):
            cols = list(transformer.feature_names_in_[cols])
        if len(cols):
            entries.append((step, cols))
    return entries


def unread_columns(model: Any, columns: list[str]) -> list[str]:
    """The ``columns`` a model never reads: those its ColumnTransformer drops.

    Identifiers featurize leaves out and params.yaml ``data.drop`` are still
    in the prepared split; permuting them cannot change a prediction, so
    listing them in the importance would only read as "not useful" about a
    column the model never saw. Any other model reads every column.
    """
    transformer = model[0] if isinstance(model, Pipeline) and len(model.steps) > 1 else None
    if not isinstance(transformer, ColumnTransformer):
        return []
    read = {c for _, cols in _entries_read(transformer) for c in cols}
    return [c for c in columns if c not in read]


def column_groups(model: Any, columns: list[str]) -> dict[str, np.ndarray] | None:
    """Positions of each raw column's outputs in the model's transformed matrix.

    None unless the model is a pipeline of a ColumnTransformer built only of
    column-wise steps (:data:`COLUMNWISE_STEPS`) and one estimator.
    """
    if not (isinstance(model, Pipeline) and len(model.steps) == 2):
        return None
    transformer = model[0]
    if not isinstance(transformer, ColumnTransformer):
        return None
    behind: list[str] = []
    for step, cols in _entries_read(transformer):
        outputs = _output_columns(step, cols)
        if outputs is None:
            return None
        behind.extend(outputs)
    if len(behind) != len(transformer.get_feature_names_out()):
        return None
    owner = np.asarray(behind, dtype=object)
    return {c: np.flatnonzero(owner == c) for c in columns}


def transformed_groups(
    model: Any, X: pd.DataFrame
) -> tuple[np.ndarray, list[str], dict[str, np.ndarray]] | None:
    """The rows transformed once, their column names, and each raw column's output positions."""
    groups = column_groups(model, list(X.columns))
    if groups is None:
        return None
    transformed = model[0].transform(X)
    if not isinstance(transformed, pd.DataFrame):
        return None
    return transformed.to_numpy(), list(transformed.columns), groups


# predict(orders, group): the labels of one copy of the sample per order (stacked),
# each with ``group``'s columns taken in that order
Predictor = Callable[[list[np.ndarray], np.ndarray], np.ndarray]
Scorer = Callable[[list[np.ndarray], np.ndarray], np.ndarray]


def permutation_orders(n: int, repeats: int, seed: int) -> list[np.ndarray]:
    """The row orders permutation_importance gives a column, repeat after repeat.

    One RandomState per column seeded alike, each repeat shuffling the already
    shuffled column again.
    """
    rng = np.random.RandomState(seed)
    shuffling = np.arange(n)
    order = np.arange(n)
    orders = []
    for _ in range(repeats):
        rng.shuffle(shuffling)
        order = order[shuffling]
        orders.append(order)
    return orders


def _permuted_scores(
    score: Scorer, n: int, group: np.ndarray, repeats: int, seed: int
) -> np.ndarray:
    """Scores with ``group``'s columns permuted together, a few repeats per prediction."""
    orders = permutation_orders(n, repeats, seed)
    per_call = max(1, IMPORTANCE_BATCH_ROWS // max(n, 1))
    scores: list[float] = []
    for start in range(0, repeats, per_call):
        scores.extend(score(orders[start : start + per_call], group))
    return np.asarray(scores)


def grouped_importance(
    estimator: Any,
    matrix: np.ndarray,
    names: list[str],
    y: pd.Series,
    groups: dict[str, np.ndarray],
    repeats: int,
    seed: int,
    scoring: str = SCORING,
) -> Bunch:
    """permutation_importance of raw columns, on their transformed output columns.

    ``matrix`` is the transformed sample, ``groups`` each raw column's output
    positions (in the order of the raw columns). The permuted copies of every
    repeat are stacked into few predictions; importances are the drop in the
    ``scoring`` metric (:data:`IMPORTANCE_METRICS`), as
    ``permutation_importance(..., scoring=scoring)`` gives.
    """
    truth = np.asarray(y)
    n = len(matrix)
    metric = _importance_metric(scoring, truth, getattr(estimator, "classes_", None))
    predict = tree_predictor(estimator, matrix, names) or _plain_predictor(estimator, matrix, names)

    def score(orders: list[np.ndarray], group: np.ndarray) -> np.ndarray:
        predicted = np.asarray(predict(orders, group))
        return np.array([metric(truth, predicted[i : i + n]) for i in range(0, len(predicted), n)])

    baseline = score([np.arange(n)], np.array([], dtype=int))[0]
    column_seed = np.random.RandomState(seed).randint(np.iinfo(np.int32).max + 1)
    permuted = np.array(
        [
            _permuted_scores(score, n, group, repeats, column_seed)
            if len(group)
            else np.full(repeats, baseline)
            for group in groups.values()
        ]
    )
    importances = baseline - permuted
    return Bunch(
        importances_mean=importances.mean(axis=1),
        importances_std=importances.std(axis=1),
        importances=importances,
    )


def balanced_accuracy_codes(truth: np.ndarray, predicted: np.ndarray, n_classes: int) -> float:
    """scikit-learn's ``balanced_accuracy_score`` of class codes (0 .. n_classes - 1).

    The same operations on the same confusion counts, so the same float bit for
    bit, without the label checks and sorting that cost ~4 ms a call on 2,000 text
    labels (the importance scores ~240 copies).
    """
    pairs = np.bincount(truth * n_classes + predicted, minlength=n_classes * n_classes)
    confusion = pairs.reshape(n_classes, n_classes)
    with np.errstate(divide="ignore", invalid="ignore"):
        per_class = np.diagonal(confusion) / confusion.sum(axis=1)
    if np.isnan(per_class).any():
        # scikit-learn's own warning, for a class predicted but absent from the truth
        warnings.warn("y_pred contains classes not in y_true", stacklevel=2)
        per_class = per_class[~np.isnan(per_class)]
    return float(np.mean(per_class))


def _importance_metric(
    scoring: str, truth: np.ndarray, classes: Labels | None
) -> Callable[[np.ndarray, np.ndarray], float]:
    """The ``scoring`` metric of (truth, predicted); on class codes when it is balanced accuracy."""
    metric = IMPORTANCE_METRICS[scoring]
    if scoring != "balanced_accuracy" or classes is None:
        return metric
    index = pd.Index(np.asarray(classes))
    codes = index.get_indexer(truth)
    if not index.is_monotonic_increasing or not index.is_unique or (codes < 0).any():
        return metric  # text-label order or unknown labels: scikit-learn's own way

    def codes_metric(_: np.ndarray, predicted: np.ndarray) -> float:
        guessed = index.get_indexer(predicted)
        if (guessed < 0).any():
            return metric(truth, predicted)
        return balanced_accuracy_codes(codes, guessed, len(index))

    return codes_metric


def _plain_predictor(estimator: Any, matrix: np.ndarray, names: list[str]) -> Predictor:
    """The estimator's own predict of the permuted copies of the transformed sample."""

    def predict(orders: list[np.ndarray], group: np.ndarray) -> np.ndarray:
        copies = hgb.permuted_copies(matrix, orders, group)
        return estimator.predict(pd.DataFrame(copies, columns=names, copy=False))

    return predict


def replay_threads() -> int:
    """Threads per tree walk of the importance: one when idle OpenMP threads sleep.

    The replay makes ~7,000 walks of a few thousand rows each. With
    ``OMP_WAIT_POLICY=PASSIVE`` (the runner's choice when other work holds the
    cores) every walk wakes a sleeping thread, which costs more than it brings:
    on the 10^6-row model at a load average of 5-6, 3.5 s wall / 2.8 CPU s with
    two threads against 2.6 / 2.5 s with one. Otherwise the stage's threads.
    """
    sleeping = os.environ.get("OMP_WAIT_POLICY", "").upper() == "PASSIVE"
    return 1 if sleeping else stage_threads()


def tree_predictor(estimator: Any, matrix: np.ndarray, names: list[str]) -> Predictor | None:
    """HistGradientBoosting's predict of permuted copies of ``matrix`` from the rows' bins,
    walking again only the rows whose path meets a split on a permuted column
    (:class:`nbml.steps.hgb.Replay`; about 40% of the rows, in about half the trees, per column).

    None (the caller uses predict) unless, on ``matrix`` and on one permuted
    copy of it, the raw predictions equal scikit-learn's bit for bit, and so
    do the labels.
    """
    if not hgb.supports(estimator):
        return None
    try:
        rows = hgb.binned(estimator, hgb.model_rows(estimator, matrix))
        replay = hgb.Replay(estimator, rows, replay_threads())

        def predict(orders: list[np.ndarray], group: np.ndarray) -> np.ndarray:
            return _from_raw(estimator, replay.raw(orders, group))

        return (
            predict
            if replay.walks_agree and _replay_matches(estimator, replay, matrix, names)
            else None
        )
    except (AttributeError, TypeError, ValueError):  # another scikit-learn's internals
        return None


def _replay_matches(estimator: Any, replay: Any, matrix: np.ndarray, names: list[str]) -> bool:
    """The replay's raw predictions and labels are scikit-learn's, on the sample as it is
    and with the first column a tree splits on permuted."""
    split_on = replay.split_on()[:1]
    checks = [([np.arange(len(matrix))], np.array([], dtype=int))]
    checks.append(
        ([np.random.RandomState(0).permutation(len(matrix))], np.array(split_on, dtype=int))
    )
    for orders, group in checks:
        frame = pd.DataFrame(hgb.permuted_copies(matrix, orders, group), columns=names, copy=False)
        raw = replay.raw(orders, group)
        if not np.array_equal(raw, estimator._raw_predict(frame)):
            return False
        if not np.array_equal(_from_raw(estimator, raw), estimator.predict(frame)):
            return False
    return True


def _from_raw(estimator: Any, raw: np.ndarray) -> np.ndarray:
    """HistGradientBoosting's predict from its raw predictions: labels, or quantities."""
    if not is_classifier(estimator):
        return estimator._loss.link.inverse(raw.ravel())
    if raw.shape[1] == 1:
        return estimator.classes_[(raw.ravel() > 0).astype(int)]
    return estimator.classes_[np.argmax(raw, axis=1)]
