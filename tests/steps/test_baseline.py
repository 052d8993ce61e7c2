"""Unit tests of nbml.steps.baseline: what guessing scores, for both tasks."""

import numpy as np
import pandas as pd
import pytest

from nbml.errors import MetricError, NbmlError
from nbml.steps import baseline

NAMES = ["accuracy", "balanced_accuracy", "f1_macro", "roc_auc_ovr", "log_loss"]


def test_classification_baseline_answers_the_training_majority():
    y_train = pd.Series(["a"] * 6 + ["b"] * 3 + ["c"])
    y_test = pd.Series(["a", "b", "b", "c"])
    result = baseline.baseline("classification", y_train, y_test, np.array(["a", "b", "c"]), NAMES)
    assert result["strategy"] == "majority class" and result["answer"] == "a"
    scores = result["metrics"]
    assert scores["accuracy"] == pytest.approx(0.25)
    assert scores["balanced_accuracy"] == pytest.approx(1 / 3, abs=1e-6)
    assert scores["roc_auc_ovr"] == pytest.approx(0.5)  # the same score for every row
    # probabilities are the training shares: log loss of the true classes' shares
    expected = -np.mean(np.log([0.6, 0.3, 0.3, 0.1]))
    assert scores["log_loss"] == pytest.approx(expected, abs=1e-6)
    assert "most common class (a)" in baseline.describe(result, "label")


def test_classification_baseline_is_the_majority_of_training_not_of_test():
    y_train = pd.Series(["b", "b", "a"])
    y_test = pd.Series(["a", "a", "a", "b"])
    result = baseline.baseline(
        "classification", y_train, y_test, np.array(["a", "b"]), ["accuracy"]
    )
    assert result["answer"] == "b" and result["metrics"]["accuracy"] == pytest.approx(0.25)


def test_regression_baseline_predicts_the_training_mean():
    y_train = pd.Series([1.0, 2.0, 3.0, np.nan])
    y_test = pd.Series([2.0, 4.0])
    result = baseline.baseline("regression", y_train, y_test)
    assert result["strategy"] == "training mean" and result["answer"] == pytest.approx(2.0)
    scores = result["metrics"]
    assert scores["rmse"] == pytest.approx(np.sqrt((0 + 4) / 2))
    assert scores["mae"] == pytest.approx(1.0)
    assert scores["r2"] == pytest.approx(1 - 2 / 1)  # SSE 4 over the test variance sum 2
    assert "training mean of price (2)" in baseline.describe(result, "price")


def test_the_mean_baseline_is_scored_with_the_run_metrics_and_zero_r2_on_its_own_data():
    y = pd.Series([1.0, 2.0, 3.0, 6.0])
    result = baseline.baseline("regression", y, y, names=["r2", "median_absolute_error"])
    assert result["metrics"] == {"r2": 0.0, "median_absolute_error": 1.5}


def test_unknown_task_and_missing_classes_are_refused():
    y = pd.Series(["a", "b"])
    with pytest.raises(MetricError, match="unknown task 'ranking'.*classification, regression"):
        baseline.baseline("ranking", y, y)
    with pytest.raises(NbmlError, match="needs the classes"):
        baseline.baseline("classification", y, y)


def test_a_model_no_better_than_the_baseline_is_warned_about_on_stderr(capsys):
    y_train = pd.Series([1.0, 2.0, 3.0, 1e9])
    y_test = pd.Series([1.0, 2.0, 3.0])
    reference = baseline.baseline("regression", y_train, y_test, names=["r2", "mae"])
    worse = {"r2": reference["metrics"]["r2"] - 1, "mae": reference["metrics"]["mae"] * 2}
    said = baseline.warn_if_not_beaten(worse, reference, "y")
    assert said.startswith("The model does no better than always answering the training mean")
    assert "on r2 and mae" in said
    assert capsys.readouterr().err == f"nbml warning: {said}\n"
    assert baseline.warn_if_not_beaten({"r2": 0.9, "mae": 0.1}, reference, "y") == ""
    assert capsys.readouterr().err == ""
