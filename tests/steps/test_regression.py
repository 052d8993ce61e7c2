"""Regression metrics, bounded plot data, and the explore tables of a numeric target."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from nbml.errors import MetricError
from nbml.steps import eda, evaluation, regression
from nbml.steps.task import CLASSIFICATION, REGRESSION


def test_regression_metrics_match_their_definitions():
    y = np.array([1.0, 2.0, 3.0, 4.0])
    pred = np.array([1.0, 2.0, 3.0, 8.0])  # one error of 4
    scores = regression.compute_metrics(y, pred, list(regression.METRICS))
    assert scores["mae"] == 1.0
    assert scores["rmse"] == 2.0
    assert scores["median_absolute_error"] == 0.0
    assert scores["r2"] == round(1 - 16 / 5, 6)


def test_metric_names_per_task():
    assert regression.metric_names("auto", REGRESSION) == [
        "r2",
        "rmse",
        "mae",
        "median_absolute_error",
    ]
    assert regression.metric_names("auto", CLASSIFICATION) == list(evaluation.METRICS)
    assert regression.metric_names(["rmse"], REGRESSION) == ["rmse"]
    with pytest.raises(MetricError) as info:
        regression.metric_names(["accuracy", "r2"], REGRESSION)
    assert str(info.value).startswith(
        "params.yaml evaluate.metrics: accuracy cannot score a regression task"
    )
    with pytest.raises(MetricError, match="rmse cannot score a classification task"):
        regression.metric_names(["rmse"], CLASSIFICATION)


def test_plot_data_is_a_bounded_seeded_sample(tmp_path):
    n = 200_000
    rng = np.random.default_rng(0)
    y = rng.normal(100, 20, size=n)
    pred = y + rng.normal(size=n)
    versus = regression.predicted_actual_rows(y, pred, seed=1)
    assert len(versus) == regression.MAX_PLOT_POINTS
    pd.testing.assert_frame_equal(versus, regression.predicted_actual_rows(y, pred, seed=1))
    residuals = regression.residual_rows(y, pred, seed=1)
    np.testing.assert_allclose(residuals["residual"], versus["actual"] - versus["predicted"])
    for name, rows in (("versus", versus), ("residuals", residuals)):
        path = evaluation.write_csv(rows, tmp_path / f"{name}.csv")
        assert path.stat().st_size < 100_000  # ~50 kB at any number of test rows
    small = regression.predicted_actual_rows(y[:10], pred[:10], seed=1)
    np.testing.assert_array_equal(small["actual"], y[:10])  # every row, in order


def test_the_other_tasks_plot_files_are_headers_only(tmp_path):
    unused = regression.unused_plot_files(REGRESSION)
    assert set(unused) == {"confusion", "roc", "precision_recall"}
    path = evaluation.write_csv(unused["roc"], tmp_path / "roc.csv")
    assert path.read_text() == "class,fpr,tpr\n"
    assert set(regression.unused_plot_files(CLASSIFICATION)) == {"predicted_actual", "residuals"}


def test_target_tables_of_a_numeric_target():
    rng = np.random.default_rng(0)
    x = rng.normal(size=300)
    df = pd.DataFrame(
        {"strong": x, "noise": rng.normal(size=300), "inverse": -(x**3), "y": 2 * x + 1}
    )
    summary = eda.target_summary(df.assign(y=df["y"].where(df.index > 0)), "y")
    assert summary.loc["missing", "y"] == 1 and summary.loc["count", "y"] == 299
    table = eda.target_correlations(df, "y", ["noise", "strong", "inverse"])
    assert table["column"].tolist() == ["strong", "inverse", "noise"]
    assert table.loc[0, "r"] == 1.0 and table.loc[1, "spearman"] == -1.0
