"""Unit tests of nbml.steps.evaluation on tiny in-memory frames."""

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin

from nbml.steps import evaluation


def test_metrics_and_curves_for_three_classes():
    y = pd.Series(["a", "b", "c", "a", "b", "c"])
    classes = np.array(["a", "b", "c"])
    proba = np.eye(3)[[0, 1, 2, 0, 2, 2]] * 0.8 + 0.2 / 3
    pred = classes[proba.argmax(axis=1)]
    scores = evaluation.compute_metrics(y, pred, proba, classes, list(evaluation.METRICS))
    assert scores["accuracy"] == pytest.approx(5 / 6, abs=1e-6)
    assert 0 < scores["log_loss"] and 0 <= scores["roc_auc_ovr"] <= 1
    roc = evaluation.roc_rows(y, proba, classes)
    assert set(roc["class"]) == {"a", "b", "c"} and roc["tpr"].between(0, 1).all()


def test_binary_curves_have_both_classes():
    y = pd.Series(["no", "yes", "yes", "no"])
    proba = np.array([[0.9, 0.1], [0.2, 0.8], [0.4, 0.6], [0.7, 0.3]])
    classes = np.array(["no", "yes"])
    assert set(evaluation.precision_recall_rows(y, proba, classes)["class"]) == {"no", "yes"}
    auc = evaluation.compute_metrics(y, classes[proba.argmax(1)], proba, classes, ["roc_auc_ovr"])
    assert auc["roc_auc_ovr"] == 1.0


def test_unknown_metric_lists_known_ones():
    with pytest.raises(evaluation.MetricError, match=r"unknown metric\(s\) r2; known: accuracy"):
        evaluation.check_metric_names(["accuracy", "r2"])


def _scored(n: int, seed: int = 0) -> tuple[pd.Series, np.ndarray, np.ndarray, np.ndarray]:
    """n test rows of three classes with noisy probabilities: one distinct score a row."""
    rng = np.random.default_rng(seed)
    classes = np.array(["a", "b", "c"])
    truth = rng.integers(0, 3, n)
    logits = rng.normal(size=(n, 3)) + np.eye(3)[truth] * 1.5
    proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return pd.Series(classes[truth]), classes[proba.argmax(axis=1)], proba, classes


def test_confusion_counts_one_line_per_pair_summing_to_the_rows():
    y, pred, _, classes = _scored(100_000)
    counts = evaluation.confusion_counts(y, pred, classes)
    assert list(counts.columns) == ["actual", "predicted", "count"]
    assert len(counts) == 9  # every pair of the three classes, zeros included
    assert counts["count"].sum() == 100_000
    right = counts.query("actual == predicted")["count"].sum()
    assert right == (np.asarray(y) == pred).sum()


def test_confusion_counts_keep_pairs_never_predicted():
    counts = evaluation.confusion_counts(pd.Series(["a", "b"]), np.array(["a", "a"]), ["a", "b"])
    assert counts.set_index(["actual", "predicted"])["count"].to_dict() == {
        ("a", "a"): 1,
        ("a", "b"): 0,
        ("b", "a"): 1,
        ("b", "b"): 0,
    }


def test_plot_files_stay_small_at_100000_rows(tmp_path):
    """Every plot CSV stays far below 1 MB; the curves keep their ends and their area."""
    y, pred, proba, classes = _scored(100_000)
    frames = {
        "confusion": evaluation.confusion_counts(y, pred, classes),
        "roc": evaluation.roc_rows(y, proba, classes),
        "pr": evaluation.precision_recall_rows(y, proba, classes),
    }
    for name, frame in frames.items():
        path = evaluation.write_csv(frame, tmp_path / f"{name}.csv")
        assert path.stat().st_size < 100_000, name
    roc = frames["roc"]
    for label in classes:
        curve = roc[roc["class"] == label]
        assert len(curve) <= evaluation.MAX_CURVE_POINTS + 1
        assert (curve[["fpr", "tpr"]].iloc[[0, -1]].to_numpy() == [[0, 0], [1, 1]]).all()
        # the thinned curve's area is the AUC of all rows, to drawing precision
        onehot = np.asarray(y) == label
        full = evaluation.skm.roc_auc_score(onehot, proba[:, list(classes).index(label)])
        assert np.trapezoid(curve["tpr"], curve["fpr"]) == pytest.approx(full, abs=0.01)


def test_thin_curve_keeps_short_curves_whole():
    x = np.array([0.0, 0.5, 1.0])
    assert evaluation.thin_curve(x, x).tolist() == [0, 1, 2]


def test_importance_on_a_bounded_sample_scores_only_that_many_rows(monkeypatch):
    """Each repeat predicts a sample of max_rows rows, not the whole test split."""
    seen: list[int] = []

    class Model(ClassifierMixin, BaseEstimator):
        classes_ = np.array(["a", "b"])

        def fit(self, X, y):  # permutation_importance only scores; nothing to fit
            return self

        def predict(self, X):
            seen.append(len(X))
            return np.where(X["x"] > 0, "a", "b")

    rng = np.random.default_rng(0)
    X = pd.DataFrame({"x": rng.normal(size=50_000), "noise": rng.normal(size=50_000)})
    y = pd.Series(np.where(X["x"] > 0, "a", "b"))
    monkeypatch.setattr(evaluation, "stage_threads", lambda: 1)
    rows = evaluation.importance_rows(Model(), X, y, repeats=3, seed=0, max_rows=500)
    assert set(seen) == {500}
    assert rows.iloc[0]["feature"] == "x" and rows.iloc[0]["importance"] > 0.4
