"""Unit tests of the comparison helpers on tiny in-memory inputs (no DVC runs)."""

from __future__ import annotations

import pandas as pd

from nbml.reporting import compare
from nbml.reporting.pr_report import experiments_table

METRICS = "outputs/metrics.json"


def _entry(rev: str, name: str | None, lr: float, loss: float, acc: float) -> dict:
    return {
        "rev": rev,
        "name": name,
        "data": {
            "params": {
                "params.yaml": {
                    "data": {
                        "train": {"kwargs": {"learning_rate": lr}},
                        "evaluate": {"metrics": ["log_loss"]},
                    }
                }
            },
            "metrics": {METRICS: {"data": {"log_loss": loss, "accuracy": acc}}},
        },
        "error": None,
    }


def _exp_show() -> list[dict]:
    good = _entry("b" * 40, "good-exp", 0.2, 0.01, 0.9)
    bad = _entry("c" * 40, "bad-exp", -1, 0.005, 0.99)  # never to be credited: it failed
    bad["error"] = {"msg": "Experiment run failed", "type": ""}
    head = _entry("a" * 40, "main", 0.1, 0.02, 0.95)
    head["experiments"] = [
        {"executor": {"state": "success"}, "name": "good-exp", "revs": [good]},
        {"executor": {"state": "failed"}, "name": "bad-exp", "revs": [bad]},
    ]
    return [_entry("workspace", None, 0.1, 0.02, 0.95), head]


def test_parse_exp_show_reads_workspace_commit_and_experiments() -> None:
    revs = compare.parse_exp_show(_exp_show(), METRICS)
    assert [(r.name, r.kind, r.state) for r in revs] == [
        ("workspace", "workspace", "success"),
        ("main", "commit", "success"),
        ("good-exp", "experiment", "success"),
        ("bad-exp", "experiment", "failed"),
    ]
    assert revs[2].params["train.kwargs.learning_rate"] == 0.2
    assert revs[2].metrics == {"log_loss": 0.01, "accuracy": 0.9}


def test_best_values_respect_lower_is_better_and_skip_failed_runs() -> None:
    revs = compare.parse_exp_show(_exp_show(), METRICS)
    assert compare.best_values(revs, ["log_loss", "accuracy"]) == {
        "log_loss": 0.01,  # lower is better; the failed 0.005 does not count
        "accuracy": 0.95,
    }
    assert compare.differing_params([r for r in revs if r.ok]) == ["train.kwargs.learning_rate"]


def test_metrics_table_marks_best_and_greys_failed() -> None:
    revs = compare.parse_exp_show(_exp_show(), METRICS)
    table = compare.metrics_table(revs, ["log_loss", "accuracy"], ["train.kwargs.learning_rate"])
    assert '<td class="best">0.01 ★</td>' in table
    assert "log_loss ↓" in table and "accuracy ↑" in table
    assert "<tr class=failed><td>bad-exp (failed)" in table
    md = experiments_table(revs)
    assert "| good-exp | success | 0.01 | 0.9 |" in md
    assert "| bad-exp | failed | - | - |" in md


def test_flatten_keeps_lists_as_values() -> None:
    assert compare.flatten({"a": {"b": 1, "c": [1, 2]}, "d": {}}) == {
        "a.b": 1,
        "a.c": [1, 2],
        "d": {},
    }


def test_figures_overlay_every_revision() -> None:
    roc = pd.DataFrame({"class": ["x", "x", "y", "y"], "fpr": [0, 1, 0, 1], "tpr": [0, 1, 0, 1]})
    fig = compare.overlay_curves({"one": roc, "two": roc}, "fpr", "tpr", "ROC")
    assert [len(ax.lines) for ax in fig.axes if ax.get_visible()] == [2, 2]
    conf = pd.DataFrame({"actual": ["x", "y"], "predicted": ["x", "x"]})
    grid = compare.confusion_grid({"one": conf, "two": conf, "three": conf})
    assert sum(ax.get_visible() for ax in grid.axes) == 3
    assert compare.png(grid)[:4] == b"\x89PNG"
