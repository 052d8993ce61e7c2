"""Unit tests of nbml.reporting.plots on tiny in-memory frames."""

import numpy as np
import pandas as pd
import pytest

from nbml.reporting import plots


def test_histograms_stop_at_max_panels_and_say_so(frame):
    frame = frame.assign(**{f"x{i}": np.arange(len(frame)) * i for i in range(5)})
    columns = ["size", *[f"x{i}" for i in range(5)]]
    fig = plots.numeric_by_class(frame, "label", columns, max_panels=4)
    shown = [ax.get_title() for ax in fig.axes if ax.get_visible()]
    assert shown == columns[:4]
    assert "first 4 of 6 numeric columns" in fig.get_suptitle()
    assert plots.numeric_by_class(frame, "label", columns[:2]).get_suptitle() == ""


def test_missing_values_chart_shows_only_columns_with_gaps(frame):
    fig = plots.missing_values(frame)
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert labels == ["colour"]
    assert plots.missing_values(frame.drop(columns="colour")) is None


def test_class_labels_in_natural_order_with_distinct_colours():
    assert plots.class_order(["10", "2", "b", "1", "a", "2"]) == ["1", "2", "10", "a", "b"]
    assert len(set(plots.class_colours(12))) == 12
    rows = pd.DataFrame(
        {
            "class": [str(c) for c in range(12) for _ in range(2)],
            "fpr": [0, 1] * 12,
            "tpr": [0, 1] * 12,
        }
    )
    ax = plots.curves(rows, "fpr", "tpr", "ROC").axes[0]
    assert [line.get_label() for line in ax.get_lines()] == [str(c) for c in range(12)]
    assert len({line.get_color() for line in ax.get_lines()}) == 12


@pytest.mark.parametrize("n", [5, 30, 60])
def test_correlation_labels_do_not_overlap(n):
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    df = pd.DataFrame(
        np.random.default_rng(0).normal(size=(50, n)), columns=[f"feature_{i}" for i in range(n)]
    )
    fig = plots.correlation(df)
    renderer = FigureCanvasAgg(fig).get_renderer()
    fig.draw(renderer)
    ax = fig.axes[0]
    for labels, lo, hi in ((ax.get_xticklabels(), "x0", "x1"), (ax.get_yticklabels(), "y0", "y1")):
        boxes = sorted(
            (getattr(b, lo), getattr(b, hi))
            for b in (t.get_window_extent(renderer) for t in labels)
        )
        assert all(
            end <= start + 0.5 for (_, end), (start, _) in zip(boxes, boxes[1:], strict=False)
        )


def test_confusion_table_sums_counts_and_reads_one_line_per_row():
    counts = pd.DataFrame(
        {"actual": ["a", "a", "b", "b"], "predicted": ["a", "b", "a", "b"], "count": [5, 1, 0, 7]}
    )
    table = plots.confusion_table(counts)
    assert table.loc["a", "a"] == 5 and table.loc["b", "b"] == 7 and table.loc["b", "a"] == 0
    # plot data of an older revision: one line per test row, no count column
    rows = pd.DataFrame({"actual": ["a", "a", "b"], "predicted": ["a", "a", "b"]})
    assert plots.confusion_table(rows).to_dict() == {"a": {"a": 2, "b": 0}, "b": {"a": 0, "b": 1}}
    assert plots.confusion_matrix(counts).axes[0].texts[0].get_text() == "5"
