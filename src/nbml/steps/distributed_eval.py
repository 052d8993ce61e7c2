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

from nbml.steps.cluster import computed

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
