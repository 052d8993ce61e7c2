"""The task decision (data.task), its record, and the quantile-binned regression split."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from nbml.errors import DataError, TaskError
from nbml.steps import data, task
from nbml.steps.task import CLASSIFICATION, REGRESSION


def table(target: object, n: int = 100) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame({"x": rng.normal(size=n), "y": target})


def test_float_target_with_many_values_is_regression():
    decision = task.decide_task(table(np.linspace(10.0, 50.0, 100)), "y")
    assert decision.task == REGRESSION and decision.requested == "auto"
    assert "numeric with 100 distinct values on 100 labelled rows (100.0%)" in decision.reason
    assert decision.describe().startswith("task: regression (detected): target 'y'")


@pytest.mark.parametrize(
    ("values", "why"),
    [
        (np.arange(100) % 5, "numeric with only 5 distinct values"),  # a 0-4 rating
        (np.arange(100) % 20, "numeric with only 20 distinct values"),  # 20 is not > 20
        (np.array([True, False] * 50), "is boolean"),
        (np.array(["low", "high"] * 50), "holds text labels ('low', 'high')"),
    ],
)
def test_text_boolean_and_few_valued_targets_are_classification(values, why):
    decision = task.decide_task(table(values), "y")
    assert decision.task == CLASSIFICATION
    assert why in decision.reason


def test_many_values_that_are_a_small_share_of_the_rows_stay_classes():
    # 30 distinct integers over 1,000 rows: 3% of the rows, so classes
    decision = task.decide_task(table(np.arange(1000) % 30, n=1000), "y")
    assert decision.task == CLASSIFICATION


def test_missing_target_values_are_left_out_of_the_decision():
    values = np.where(np.arange(100) % 2, np.linspace(0, 1, 100), np.nan)
    decision = task.decide_task(table(values), "y")
    assert decision.task == REGRESSION and "on 50 labelled rows" in decision.reason


def test_explicit_task_overrides_the_detection():
    rating = table(np.arange(100) % 5)
    assert task.decide_task(rating, "y", "regression").task == REGRESSION
    measured = table(np.linspace(0.0, 1.0, 100))
    decision = task.decide_task(measured, "y", "classification")
    assert decision.task == CLASSIFICATION and "data.task: classification" in decision.reason
    assert decision.describe().startswith("task: classification (set by data.task)")


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (np.array(["a", "b"] * 50), "column 'y' (data.target) holds text ('a', 'b')"),
        (np.array([True, False] * 50), "column 'y' (data.target) holds booleans"),
        (np.full(100, 3.5), "column 'y' (data.target) has a single value ('3.5')"),
    ],
)
def test_wrong_explicit_regression_is_refused_naming_the_param_and_column(values, message):
    with pytest.raises(TaskError) as info:
        task.decide_task(table(values), "y", "regression")
    assert str(info.value).startswith("params.yaml data.task: ")
    assert message in str(info.value)


def test_unknown_task_and_missing_target_are_refused():
    with pytest.raises(TaskError, match="data.task: expected one of auto, classification"):
        task.decide_task(table(np.arange(100)), "y", "regress")
    with pytest.raises(DataError, match="target column 'price' not found; columns are: x, y"):
        task.decide_task(table(np.arange(100)), "price")


def test_constant_regression_target_is_refused_by_the_checks():
    with pytest.raises(DataError, match="target 'y' is constant"):
        data.check_dataset(table(np.full(100, 2.0)), "y", 0.25, 10, "t", task=REGRESSION)


def test_regression_skips_the_class_checks():
    # 100 distinct values, one row each: as classes every one would be too small
    measured = table(np.linspace(0.0, 1.0, 100))
    assert len(data.check_dataset(measured, "y", 0.25, 10, "t", task=REGRESSION)) == 100
    with pytest.raises(DataError, match="Set data.task: auto \\(or regression\\)"):
        data.check_dataset(measured, "y", 0.25, 10, "t", task=CLASSIFICATION)


def test_the_record_round_trips_and_a_bad_record_is_named(tmp_path):
    decision = task.decide_task(table(np.linspace(1.0, 2.0, 100)), "y")
    path = task.write_task(decision, tmp_path / "prepared" / "task.json")
    assert task.read_task(path) == decision
    with pytest.raises(TaskError, match="no task recorded; run `dvc repro prepare` first"):
        task.read_task(tmp_path / "missing.json")
    path.write_text('{"task": "clustering", "requested": "auto", "target": "y", "reason": ""}')
    with pytest.raises(TaskError, match="unknown task 'clustering'"):
        task.read_task(path)


def test_quantile_binned_split_covers_the_whole_range_in_both_parts():
    rng = np.random.default_rng(1)
    values = np.concatenate([rng.normal(size=180), rng.normal(50, 1, size=20)])  # a long tail
    df = pd.DataFrame({"x": np.arange(200), "y": values})
    train, test = data.split(df, "y", 0.25, seed=3, task=REGRESSION)
    again, _ = data.split(df, "y", 0.25, seed=3, task=REGRESSION)
    pd.testing.assert_frame_equal(train, again)
    assert len(test) == 50
    # each decile of the target holds 5 test rows: the tail is in both parts
    deciles = pd.qcut(df["y"].rank(method="first"), 10, labels=False)
    in_test = deciles[df["x"].isin(test["x"])].value_counts()
    assert set(in_test) == {5}
    assert (test["y"] > 40).sum() == 5 and (train["y"] > 40).sum() == 15


def test_quantile_strata_fit_a_small_test_split():
    values = pd.Series(np.arange(12, dtype=float))
    strata = task.quantile_strata(values, test_rows=3)
    assert len(set(strata)) == 3 and min(np.bincount(strata)) >= 2
    assert task.quantile_strata(values.head(3), test_rows=1) is None


def test_a_regression_sample_is_stratified_by_quantile_bins():
    df = pd.DataFrame({"x": np.arange(1000), "y": np.linspace(0.0, 1.0, 1000)})
    part = data.sample_source(df, "y", 100, seed=0, task=REGRESSION)
    assert len(part) == 100
    assert set(np.bincount(pd.cut(part["y"], 10, labels=False))) == {10}


def test_estimator_kind_against_the_task():
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    decision = task.decide_task(table(np.linspace(1.0, 2.0, 100)), "y")
    assert task.estimator_kind_problem("r", HistGradientBoostingRegressor, decision) is None
    problem = task.estimator_kind_problem("c", HistGradientBoostingClassifier, decision)
    assert problem.startswith("train.estimator: c is a classifier, but the task is regression")
    assert task.estimator_for("auto", REGRESSION).endswith("HistGradientBoostingRegressor")
    assert task.estimator_for("sklearn.svm.SVR", REGRESSION) == "sklearn.svm.SVR"
