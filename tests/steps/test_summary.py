"""Unit tests of nbml.steps.summary: number formatting, metric directions, the metrics diff."""

import pytest

from nbml.steps import summary


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (0.988372, "0.988"),
        (0.013815, "0.0138"),
        (1.0, "1.00"),
        (1049.155, "1049"),
        (12.345, "12.3"),
        (0.0, "0"),
        (38, "38"),
        (None, "–"),
    ],
)
def test_three_significant_digits(value, shown):
    assert summary.fmt(value) == shown


def test_more_digits_only_when_needed_to_tell_two_values_apart():
    assert summary.fmt(0.98812, [0.98838]) == "0.9881"
    assert summary.fmt(0.98838, [0.98812]) == "0.9884"
    assert summary.fmt(0.988, [0.5]) == "0.988"
    assert summary.fmt_all([0.12341, 0.12344, 0.5]) == ["0.12341", "0.12344", "0.500"]
    # equal values stay short: they are the same number
    assert summary.fmt_all([0.98837, 0.98837]) == ["0.988", "0.988"]


@pytest.mark.parametrize(
    ("name", "higher"),
    [
        ("accuracy", True),
        ("roc_auc_ovr", True),
        ("r2", True),
        ("log_loss", False),
        ("rmse", False),
        ("mae", False),
    ],
)
def test_metric_direction(name, higher):
    assert summary.higher_is_better(name) is higher
    assert summary.definition(name)  # every known metric has words


def test_a_lower_loss_is_better_and_a_lower_accuracy_worse():
    by_name = {
        c.name: c
        for c in summary.changes(
            {"accuracy": 0.95, "log_loss": 0.10, "rmse": 3.0},
            {"accuracy": 0.97, "log_loss": 0.20, "rmse": 2.0},
        )
    }
    assert by_name["accuracy"].verdict == "worse" and by_name["accuracy"].mark == "▼ worse"
    assert by_name["log_loss"].verdict == "better" and by_name["log_loss"].mark == "▼ better"
    assert by_name["rmse"].verdict == "worse" and by_name["rmse"].mark == "▲ worse"
    assert by_name["log_loss"].text() == "0.100 (-0.1 ▼ better)"


def test_same_new_and_gone_metrics():
    rows = summary.changes({"accuracy": 0.9, "f1_macro": 0.8}, {"accuracy": 0.9, "old": 1.0})
    assert [(c.name, c.verdict) for c in rows] == [
        ("accuracy", "same"),
        ("f1_macro", "new"),
        ("old", "gone"),
    ]
    assert rows[0].change_text() == "= same"
    assert [c.verdict for c in summary.changes({"accuracy": 0.9}, None)] == ["new"]


def test_changes_from_dvc_metrics_diff_json():
    diff = {
        "outputs/metrics.json": {
            "accuracy": {"old": 0.97, "new": 0.988372, "diff": 0.018372},
            "log_loss": {"old": 0.01, "new": 0.013815, "diff": 0.003815},
            "f1_macro": {"new": 0.98},
        },
        "outputs/per_class.json": {"Adelie.recall": {"old": 1.0, "new": 0.97, "diff": -0.03}},
    }
    rows = {c.name: c for c in summary.from_dvc_diff(diff, "outputs/metrics.json")}
    assert set(rows) == {"accuracy", "log_loss", "f1_macro"}
    assert rows["accuracy"].mark == "▲ better"
    assert rows["log_loss"].mark == "▲ worse"
    assert rows["f1_macro"].verdict == "new"
    assert summary.from_dvc_diff({}, "outputs/metrics.json") == []


def test_reading_order_puts_each_tasks_headline_first():
    assert summary.reading_order(["mae", "zeta", "rmse", "r2", "median_absolute_error"]) == [
        "r2",
        "rmse",
        "mae",
        "median_absolute_error",
        "zeta",
    ]
    assert summary.reading_order(["log_loss", "roc_auc_ovr", "accuracy"])[0] == "accuracy"


def test_not_beaten_takes_each_metrics_direction_and_counts_a_tie():
    scores = {"r2": -0.3, "rmse": 10.0, "mae": 4.0, "median_absolute_error": 2.0, "x": 1.0}
    base = {"r2": 0.0, "rmse": 9.0, "mae": 4.0, "median_absolute_error": 3.0, "x": None}
    assert summary.not_beaten(scores, base) == ["r2", "rmse", "mae"]
    assert summary.not_beaten({"r2": float("nan")}, {"r2": 0.0}) == []
    said = summary.baseline_verdict(scores, base, "always answering the training mean (5)")
    assert said.startswith("The model does no better than always answering the training "
                           "mean (5) on r2, rmse and mae:")  # fmt: skip
    assert summary.baseline_verdict({"r2": 0.9}, {"r2": 0.0}, "guessing") == ""
