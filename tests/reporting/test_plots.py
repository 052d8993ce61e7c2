"""Unit tests of nbml.reporting.plots on tiny in-memory frames."""

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import ConfusionMatrixDisplay, PrecisionRecallDisplay, RocCurveDisplay

from nbml.reporting import compare, plots


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
    ax = plots.curves(rows, "roc", "ROC").axes[0]
    *lines, chance = ax.get_lines()  # the display's chance-level diagonal comes last
    assert [line.get_label() for line in lines] == [str(c) for c in range(12)]
    assert len({line.get_color() for line in lines}) == 12
    assert chance.get_label().startswith("Chance level")


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


# -- scikit-learn's displays -----------------------------------------------------
@pytest.fixture
def displays(monkeypatch) -> list:
    """Every scikit-learn display whose plot() runs, in order (the real plot still runs)."""
    drawn: list = []
    for cls in (ConfusionMatrixDisplay, PrecisionRecallDisplay, RocCurveDisplay):
        original = cls.plot

        def spy(self, *args, _original=original, **kwargs):
            drawn.append(self)
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(cls, "plot", spy)
    return drawn


ROC = pd.DataFrame(
    {
        "class": ["10"] * 4 + ["2"] * 3,
        "fpr": [0, 0, 0.5, 1, 0, 0.25, 1],
        "tpr": [0, 0.6, 0.8, 1, 0, 0.9, 1],
    }
)


def test_roc_is_a_roc_display_with_straight_lines_between_points(displays):
    ax = plots.curves(ROC, "roc", "ROC").axes[0]
    [display] = displays
    assert isinstance(display, RocCurveDisplay)
    assert display.name == ["2", "10"]  # plots.class_order: 2 before 10
    *lines, chance = ax.get_lines()
    assert lines == display.line_ and chance is display.chance_level_
    assert [line.get_color() for line in lines] == plots.class_colours(2)
    for line, label in zip(lines, ["2", "10"], strict=True):
        part = ROC[ROC["class"] == label]
        # a step line would be drawn "steps-post", through corners that are not ROC points
        assert line.get_drawstyle() == "default"
        assert np.array_equal(line.get_xydata(), part[["fpr", "tpr"]].to_numpy())
    assert np.array_equal(chance.get_xydata(), [[0, 0], [1, 1]])


def test_precision_recall_is_a_precision_recall_display(displays):
    rows = ROC.rename(columns={"fpr": "recall", "tpr": "precision"})
    ax = plots.curves(rows, "precision_recall", "PR").axes[0]
    [display] = displays
    assert isinstance(display, PrecisionRecallDisplay) and display.name == ["2", "10"]
    assert ax.get_lines() == display.line_
    assert {line.get_drawstyle() for line in ax.get_lines()} == {"steps-post"}


def test_confusion_matrix_is_a_display_in_class_order(displays):
    rows = pd.DataFrame({"actual": [10, 10, 2, 2, 2], "predicted": ["10", "2", "2", "2", "x"]})
    ax = plots.confusion_matrix(rows).axes[0]
    [display] = displays
    assert isinstance(display, ConfusionMatrixDisplay)
    assert list(display.display_labels) == ["2", "10", "x"]
    assert display.confusion_matrix.tolist() == [[2, 0, 1], [1, 1, 0], [0, 0, 0]]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["2", "10", "x"]
    assert ax.get_xlabel() == "predicted" and ax.get_ylabel() == "actual"


def test_comparison_overlays_are_displays_too(displays):
    fig = compare.overlay_curves({"one": ROC, "two": ROC.assign(tpr=ROC["tpr"] / 2)}, "roc", "t")
    assert [type(d) for d in displays] == [RocCurveDisplay, RocCurveDisplay]  # one per class
    assert [d.name for d in displays] == [["one", "two"], ["one", "two"]]
    for ax in fig.axes:
        assert {line.get_drawstyle() for line in ax.get_lines()} == {"default"}
    displays.clear()
    conf = pd.DataFrame({"actual": ["b", "a"], "predicted": ["a", "a"]})
    compare.confusion_grid({"one": conf, "two": conf.assign(actual=["c", "c"])})
    assert [list(d.display_labels) for d in displays] == [["a", "b", "c"]] * 2


def test_confusion_counts_weigh_their_pair_and_one_line_per_row_counts_one(displays):
    counts = pd.DataFrame(
        {"actual": ["a", "a", "b", "b"], "predicted": ["a", "b", "a", "b"], "count": [5, 1, 0, 7]}
    )
    ax = plots.confusion_matrix(counts).axes[0]
    assert displays[-1].confusion_matrix.tolist() == [[5, 1], [0, 7]]
    assert ax.texts[0].get_text() == "5"
    # plot data of an older revision: one line per test row, no count column
    rows = pd.DataFrame({"actual": ["a", "a", "b"], "predicted": ["a", "a", "b"]})
    plots.confusion_matrix(rows)
    assert displays[-1].confusion_matrix.tolist() == [[2, 0], [0, 1]]


def test_target_by_level_draws_one_box_per_level_from_the_table_alone():
    """The boxes come from the quantile table: the same figure at any number of rows."""
    from nbml.reporting import regression_plots
    from nbml.steps import eda

    rng = np.random.default_rng(0)
    df = pd.DataFrame(
        {
            "shop": rng.choice(["a", "b", "c"], 5000),
            "open": rng.choice(["yes", "no"], 5000),
        }
    )
    df["sales"] = rng.normal(size=5000) + df["shop"].map({"a": 0, "b": 5, "c": 10})
    table = eda.target_by_level(df, "sales", ["open", "shop"], max_levels=12)
    fig = regression_plots.target_by_level(table, "sales", max_panels=1)
    (ax,) = [a for a in fig.axes if a.get_visible()]
    assert ax.get_title().startswith("shop (separation 0.9")
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert sorted(labels) == ["a", "b", "c"]
    shop = table[table["column"] == "shop"].set_index("level")
    # each box spans that level's 25-75% quantiles of the target
    boxes = [line.get_xdata() for line in ax.lines if len(set(line.get_xdata())) == 2]
    assert any(np.allclose(sorted(set(x)), [shop.loc["c", "25%"], shop.loc["c", "75%"]])
               for x in boxes)  # fmt: skip


@pytest.mark.parametrize("classification", [False, True])
def test_over_time_draws_one_bar_per_period_and_the_target_below(classification):
    from nbml.steps import eda

    rng = np.random.default_rng(1)
    days = pd.date_range("2021-01-01", periods=3000, freq="D")
    y = rng.choice(["a", "b"], 3000, p=[0.3, 0.7]) if classification else rng.normal(size=3000)
    df = pd.DataFrame({"when": days.strftime("%Y-%m-%d"), "y": y})
    found = eda.over_time(df, "y", "when", "%Y-%m-%d", classification)
    fig = plots.over_time(found.table, "when", found.period, "y")
    top, bottom = fig.axes[:2]
    assert len(top.patches) == len(found.table) <= eda.MAX_PERIODS
    legend = [t.get_text() for t in bottom.get_legend().get_texts()]
    assert legend == (["b", "a"] if classification else ["mean", "median"])  # most frequent first
