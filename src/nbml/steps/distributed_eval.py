"""evaluate on a Dask cluster: predictions stay on the workers, summaries come back.

Each partition of the scored test split is reduced to counts: rows per
(actual, predicted) pair, the summed log loss, and per class a histogram of
its probability among the rows of that class and among the others. The
metrics are computed from those counts with scikit-learn's own functions
(the counts as sample weights): accuracy, balanced accuracy and macro F1
exactly, ROC AUC and the curves from probabilities rounded to SCORE_BINS
levels (within about 1/SCORE_BINS of the exact AUC), the log loss exactly.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import dask
import dask.dataframe as dd
import numpy as np
import pandas as pd
from sklearn import metrics as skm

from nbml.steps import cluster, slices
from nbml.steps.cluster import computed
from nbml.steps.compute import is_dask

SCORE_BINS = 2000
_EPS = np.finfo(np.float64).eps


@dataclass
class Summary:
    """What a scored test split comes down to: counts, whatever its rows."""

    pairs: pd.Series  # rows per (actual, predicted)
    log_loss_sum: float
    rows: int
    positives: np.ndarray  # classes x SCORE_BINS: rows of the class, by its probability
    negatives: np.ndarray  # the same for the rows of the other classes

    def __add__(self, other: Summary) -> Summary:
        return Summary(
            self.pairs.add(other.pairs, fill_value=0),
            self.log_loss_sum + other.log_loss_sum,
            self.rows + other.rows,
            self.positives + other.positives,
            self.negatives + other.negatives,
        )


def _score_part(part: pd.DataFrame, model: Any, classes: np.ndarray) -> pd.DataFrame:
    proba = model.predict_proba(part)
    out = pd.DataFrame(proba, columns=[f"proba_{i}" for i in range(len(classes))])
    # the label of the most probable class, as the model's predict gives it
    out.insert(0, "predicted", np.asarray(classes, dtype=object)[proba.argmax(axis=1)])
    out.index = part.index
    return out


def predict(model: Any, X: dd.DataFrame) -> tuple[dd.DataFrame, dd.Series]:
    """Class probabilities and labels of every row, computed and kept on the workers."""
    classes = np.asarray(model.classes_)
    meta = _score_part(X._meta_nonempty.head(2), model, classes).iloc[:0]
    scored = X.map_partitions(_score_part, model, classes, meta=meta).persist()
    proba = scored[[c for c in scored.columns if c != "predicted"]]
    predicted = scored["predicted"]
    _PAIRED.clear()
    _PAIRED.update({id(proba): (proba, predicted), id(predicted): (proba, predicted)})
    return proba, predicted


def _summarise(
    proba: pd.DataFrame, predicted: pd.Series, truth: pd.Series, classes: list[str]
) -> Summary:
    actual = truth.astype(str).to_numpy()
    pairs = pd.Series(1, index=pd.MultiIndex.from_arrays([actual, predicted.astype(str)]))
    pairs = pairs.groupby(level=[0, 1]).sum()
    values = proba.to_numpy(dtype=float)
    index = pd.Index(classes).get_indexer(actual)
    known = index >= 0
    p_true = values[np.flatnonzero(known), index[known]] if len(values) else np.array([])
    bins = np.clip((values * SCORE_BINS).astype(int), 0, SCORE_BINS - 1)
    positives = np.zeros((len(classes), SCORE_BINS), dtype=np.int64)
    negatives = np.zeros_like(positives)
    for i in range(len(classes)):
        mine = index == i
        positives[i] = np.bincount(bins[mine, i], minlength=SCORE_BINS)
        negatives[i] = np.bincount(bins[~mine, i], minlength=SCORE_BINS)
    loss = float(-np.log(np.clip(p_true, _EPS, 1 - _EPS)).sum())
    return Summary(pairs, loss, len(actual), positives, negatives)


# The predictions of the stage (one test split), so that each function that
# gets one of them finds the other, and their summary, computed once.
_PAIRED: dict[int, tuple[dd.DataFrame, dd.Series]] = {}
_CACHE: dict[tuple[int, int], Summary] = {}


def summary(y: dd.Series, scored: Any, classes: Any) -> Summary:
    """The counts of the split scored by :func:`predict`, computed once on the workers."""
    if id(scored) not in _PAIRED:
        raise ValueError("evaluation on a cluster needs the predictions of evaluation.predict")
    proba, predicted = _PAIRED[id(scored)]
    key = (id(y), id(proba))
    if key not in _CACHE:
        labels = [str(c) for c in classes]
        parts = [
            dask.delayed(_summarise)(p, d, t, labels)
            for p, d, t in zip(
                proba.to_delayed(), predicted.to_delayed(), y.to_delayed(), strict=True
            )
        ]
        found = computed("the test split", *parts)
        total = found[0]
        for part in found[1:]:
            total = total + part
        _CACHE.clear()
        _CACHE[key] = total
    return _CACHE[key]


def _weighted(s: Summary) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    pairs = s.pairs[s.pairs > 0]
    return (
        pairs.index.get_level_values(0).to_numpy(),
        pairs.index.get_level_values(1).to_numpy(),
        pairs.to_numpy(dtype=float),
    )


def _class_curve(s: Summary, i: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(truth, score, weight) of class i against the rest, one entry per non-empty bin."""
    centers = (np.arange(SCORE_BINS) + 0.5) / SCORE_BINS
    pos, neg = s.positives[i], s.negatives[i]
    truth = np.concatenate([np.ones(SCORE_BINS), np.zeros(SCORE_BINS)])
    score = np.concatenate([centers, centers])
    weight = np.concatenate([pos, neg]).astype(float)
    keep = weight > 0
    return truth[keep], score[keep], weight[keep]


def _roc_auc(s: Summary, classes: list[str]) -> float:
    """One-vs-rest ROC AUC: of the second class for two, the mean over classes for more."""
    aucs = []
    for i in [1] if len(classes) == 2 else range(len(classes)):
        truth, score, weight = _class_curve(s, i)
        aucs.append(skm.roc_auc_score(truth, score, sample_weight=weight))
    return float(np.mean(aucs))


def compute_metrics(
    y: dd.Series, predicted: dd.Series, proba: dd.DataFrame, classes: Any, names: list[str]
) -> dict[str, float]:
    """evaluation.compute_metrics from the summary of the split scored on the cluster."""
    labels = [str(c) for c in classes]
    s = summary(y, proba, classes)
    actual, guessed, weight = _weighted(s)
    found = {
        "accuracy": lambda: skm.accuracy_score(actual, guessed, sample_weight=weight),
        "balanced_accuracy": lambda: skm.balanced_accuracy_score(
            actual, guessed, sample_weight=weight
        ),
        "f1_macro": lambda: skm.f1_score(
            actual, guessed, average="macro", labels=labels, sample_weight=weight
        ),
        "roc_auc_ovr": lambda: _roc_auc(s, labels),
        "log_loss": lambda: s.log_loss_sum / max(s.rows, 1),
    }
    return {n: round(float(found[n]()), 6) for n in names}


def confusion_counts(y: dd.Series, predicted: dd.Series, classes: Any) -> pd.DataFrame:
    """evaluation.confusion_counts' table from the summary's pair counts."""
    labels = [str(c) for c in classes]
    s = summary(y, predicted, classes)
    grid = pd.MultiIndex.from_product([labels, labels])
    counts = s.pairs.reindex(grid, fill_value=0).rename("count").reset_index()
    counts.columns = ["actual", "predicted", "count"]
    return counts.astype({"actual": str, "predicted": str, "count": "int64"})


def curves(
    y: dd.Series, proba: dd.DataFrame, classes: Any, points: Callable[..., dict[str, np.ndarray]]
) -> pd.DataFrame:
    """Per-class curves (roc_rows, precision_recall_rows) from the summary's histograms."""
    s = summary(y, proba, classes)
    parts = [
        pd.DataFrame({"class": str(label), **points(*_class_curve(s, i))})
        for i, label in enumerate(classes)
    ]
    return pd.concat(parts, ignore_index=True)


def importance_sample(
    X: dd.DataFrame, y: dd.Series, max_rows: int, seed: int
) -> tuple[pd.DataFrame, pd.Series]:
    """The seeded sample of test rows permutation importance scores, in this process."""
    frame = X.assign(__target__=y)
    n = int(len(frame))
    if n > max_rows:
        frame = frame.sample(frac=max_rows / n, random_state=seed)
    (rows,) = computed("a sample of the test split", frame)
    rows = rows.reset_index(drop=True)
    return rows.drop(columns="__target__"), rows["__target__"]


# -- regression: predicted quantities kept on the workers --------------------------------
def _predict_values(part: pd.DataFrame, model: Any) -> pd.Series:
    values = np.asarray(model.predict(part), dtype=float)
    return pd.Series(values, index=part.index, name="predicted")


def predict_values(model: Any, X: dd.DataFrame) -> dd.Series:
    """The model's prediction of every row, computed and kept on the workers."""
    meta = pd.Series([], dtype="float64", name="predicted")
    return X.map_partitions(_predict_values, model, meta=meta).persist()


def _pair(actual: pd.Series, predicted: Any) -> np.ndarray:
    """A partition's rows with an actual value as a 2 x n array: actual, predicted."""
    y = actual.to_numpy(dtype=float)
    guess = predicted.to_numpy(dtype=float) if hasattr(predicted, "to_numpy") else predicted
    p = np.broadcast_to(np.asarray(guess, dtype=float), y.shape)
    keep = ~np.isnan(y)
    return np.vstack([y[keep], p[keep]])


# The (actual, predicted) pairs of the last two scorings (the model's, the baseline's),
# persisted on the workers: the metrics, the slices and the plot sample reuse them.
_PAIRS: dict[tuple[int, Any], list[Any]] = {}


def _pairs(y: dd.Series, predicted: Any) -> list[Any]:
    key = (id(y), id(predicted) if is_dask(predicted) else float(predicted))
    if key not in _PAIRS:
        guesses = predicted.to_delayed() if is_dask(predicted) else [predicted] * y.npartitions
        parts = [dask.delayed(_pair)(a, p) for a, p in zip(y.to_delayed(), guesses, strict=True)]
        while len(_PAIRS) >= 2:
            _PAIRS.pop(next(iter(_PAIRS)))
        _PAIRS[key] = list(dask.persist(*parts))
    return _PAIRS[key]


def _moments(pair: np.ndarray) -> np.ndarray:
    """rows, mean and squared deviations of the actual values; squared and absolute errors."""
    y, error = pair[0], pair[1] - pair[0]
    mean = float(y.mean()) if len(y) else 0.0
    return np.array([len(y), mean, ((y - mean) ** 2).sum(), (error**2).sum(), np.abs(error).sum()])


def _combined(parts: list[np.ndarray]) -> np.ndarray:
    """The moments of all partitions (Chan et al.'s pairwise update of the deviations)."""
    n, mean, m2, sse, sae = parts[0]
    for other in parts[1:]:
        total = n + other[0]
        if total:
            delta = other[1] - mean
            m2 += other[2] + delta**2 * n * other[0] / total
            mean += delta * other[0] / total
        n, sse, sae = total, sse + other[3], sae + other[4]
    return np.array([n, mean, m2, sse, sae])


def _abs_errors(pair: np.ndarray) -> np.ndarray:
    return np.abs(pair[1] - pair[0])


def _median(parts: list[Any], n: int, what: str) -> float:
    """The exact median of values on the workers (the mean of the middle two for even n)."""
    middle = sorted({(n - 1) // 2, n // 2})
    found = cluster.order_statistics(parts, middle, what)
    return float(np.mean([found[k] for k in [(n - 1) // 2, n // 2]]))


def regression_metrics(y: dd.Series, predicted: Any, names: list[str]) -> dict[str, float]:
    """regression.compute_metrics on the cluster: r2, rmse and mae from sums, the median
    absolute error exact (cluster.order_statistics). ``predicted``: a Dask series or one number."""
    pairs = _pairs(y, predicted)
    n, _, m2, sse, sae = _combined(list(computed("the test split", *map(_delayed_moments, pairs))))
    if not n:
        raise ValueError("no test rows with an actual value to score")
    found = {
        "r2": lambda: 1.0 - sse / m2 if m2 > 0 else (1.0 if sse == 0 else 0.0),
        "rmse": lambda: np.sqrt(sse / n),
        "mae": lambda: sae / n,
        "median_absolute_error": lambda: _median(
            [dask.delayed(_abs_errors)(p) for p in pairs], int(n), "the test split's errors"
        ),
    }
    return {name: round(float(found[name]()), 6) for name in names}


def _delayed_moments(pair: Any) -> Any:
    return dask.delayed(_moments)(pair)


def _actual(pair: np.ndarray) -> np.ndarray:
    return pair[0]


def _slice_sums(pair: np.ndarray, inner: np.ndarray, bins: int) -> np.ndarray:
    """Per slice of the actual value: rows, summed absolute and squared errors."""
    which = np.searchsorted(inner, pair[0], side="left")
    error = pair[1] - pair[0]
    return np.vstack(
        [
            np.bincount(which, minlength=bins),
            np.bincount(which, weights=np.abs(error), minlength=bins),
            np.bincount(which, weights=error**2, minlength=bins),
        ]
    )


def error_by_quantile(y: dd.Series, predicted: dd.Series, bins: int = slices.BINS) -> pd.DataFrame:
    """slices.error_by_quantile on the cluster: the same quartile edges (exact) and errors."""
    pairs = _pairs(y, predicted)
    n = int(_combined(list(computed("the test split", *map(_delayed_moments, pairs))))[0])
    if not n:
        return pd.DataFrame(columns=slices.COLUMNS)
    actual = [dask.delayed(_actual)(p) for p in pairs]
    edges = np.unique(cluster.quantiles(actual, n, np.linspace(0, 1, bins + 1), "the test split"))
    count = max(len(edges) - 1, 1)
    sums = sum(
        computed(
            "the test split",
            *[dask.delayed(_slice_sums)(p, edges[1:-1], count) for p in pairs],
        )
    )
    rows = [
        slices.slice_row(i, edges, int(sums[0][i]), sums[1][i], sums[2][i])
        for i in range(count)
        if sums[0][i]
    ]
    return pd.DataFrame(rows, columns=slices.COLUMNS)


def _sampled(pair: np.ndarray, share: float, seed: int, index: int) -> np.ndarray:
    keep = np.random.default_rng([seed, index]).random(pair.shape[1]) < share
    return pair[:, keep]


def regression_sample(
    y: dd.Series, predicted: dd.Series, seed: int, max_points: int
) -> pd.DataFrame:
    """At most ``max_points`` seeded (actual, predicted) rows of the test split, here."""
    pairs = _pairs(y, predicted)
    n = int(_combined(list(computed("the test split", *map(_delayed_moments, pairs))))[0])
    share = min(1.0, 2 * max_points / max(n, 1))
    parts = [dask.delayed(_sampled)(p, share, seed, i) for i, p in enumerate(pairs)]
    rows = np.hstack(computed("a sample of the test split", *parts))
    if rows.shape[1] > max_points:
        keep = np.random.default_rng(seed).choice(rows.shape[1], size=max_points, replace=False)
        rows = rows[:, np.sort(keep)]
    return pd.DataFrame({"actual": rows[0], "predicted": rows[1]})
