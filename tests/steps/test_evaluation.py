"""Unit tests of nbml.steps.evaluation on tiny in-memory frames."""

import numpy as np
import pandas as pd
import pytest

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
