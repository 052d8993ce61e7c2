"""Figures for the stage reports.

Figures are built with ``matplotlib.figure.Figure`` rather than pyplot, so a
notebook shows each exactly once (returned from a cell) and nothing leaks
between cells. The confusion matrix, ROC and precision-recall figures are
scikit-learn's display classes, built from the plot data evaluate writes, so
they read the same CSV files as ``dvc plots`` and the comparison page.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.figure import Figure

if TYPE_CHECKING:
    from sklearn.metrics import ConfusionMatrixDisplay, PrecisionRecallDisplay, RocCurveDisplay

_WIDTH = 7.0


def class_order(labels: Iterable[Any]) -> list[Any]:
    """Distinct class labels: numbers by value (2 before 10), then the rest as text."""

    def key(label: Any) -> tuple[int, float, str]:
        try:
            return (0, float(label), "")
        except (TypeError, ValueError):
            return (1, 0.0, str(label))

    return sorted(set(labels), key=key)


def class_colours(n: int) -> list[Any]:
    """n distinguishable colours: matplotlib's 10-colour cycle, or 20 when more classes."""
    palette = colormaps["tab10" if n <= 10 else "tab20"].colors
    return [palette[i % len(palette)] for i in range(n)]


def grid(
    n: int, cols: int, width: float = _WIDTH, row_height: float = 2.4, extra_height: float = 0.0
) -> tuple[Figure, list]:
    """A figure with ``n`` panels in rows of ``cols``; unused cells are hidden."""
    rows = max(1, math.ceil(n / cols))
    fig = Figure(figsize=(width, row_height * rows + extra_height), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False).ravel().tolist()
    for ax in axes[n:]:
        ax.set_visible(False)
    return fig, axes[:n]


def legend_below(fig: Figure, ax: object, ncols: int) -> None:
    """One legend for all panels, under the figure, from one panel's lines."""
    fig.legend(*ax.get_legend_handles_labels(), loc="outside lower center", ncols=ncols, fontsize=8)


def _computed(result: Any) -> Any:
    """A small result (counts, shares) itself; one from a Dask frame computed on its cluster."""
    return result.compute() if type(result).__module__.startswith("dask.") else result


def class_balance(df: pd.DataFrame, target: str) -> Figure:
    """Rows per class (counted on the cluster for a Dask frame)."""
    counts = _computed(df[target].value_counts())
    counts = counts.reindex(class_order(counts.index))
    fig = Figure(figsize=(_WIDTH, 2.6), layout="constrained")
    ax = fig.subplots()
    ax.barh(counts.index.astype(str), counts.values, color="#4c78a8")
    for y, n in enumerate(counts.values):
        ax.annotate(f" {n}", (n, y), va="center", fontsize=9)
    ax.set_xlabel("rows")
    ax.set_title(f"Class balance of '{target}'")
    return fig


def numeric_by_class(
    df: pd.DataFrame, target: str, columns: list[str], max_panels: int = 12
) -> Figure:
    """Histograms by class of the first ``max_panels`` columns, in the order given.

    Pass the columns most telling first (``eda.class_separation``). A grid of
    dozens of small panels is unreadable, and slow to draw; the title says
    when columns were left out.
    """
    shown = columns[:max_panels]
    fig, axes = grid(len(shown), cols=3)
    if len(columns) > len(shown):
        fig.suptitle(
            f"The first {len(shown)} of {len(columns)} numeric columns (explore.max_panels)",
            fontsize=9,
        )
    classes = class_order(df[target].dropna().astype(str))
    colours = class_colours(len(classes))
    for ax, col in zip(axes, shown, strict=True):
        values = df[col].dropna()
        bins = np.histogram_bin_edges(values, bins=20) if len(values) else 10
        for label, colour in zip(classes, colours, strict=True):
            ax.hist(
                df.loc[df[target].astype(str) == label, col].dropna(),
                bins=bins,
                alpha=0.5,
                # one filled outline per class instead of a patch per bar:
                # the same picture, drawn in about half the time
                histtype="stepfilled",
                label=label,
                color=colour,
            )
        ax.set_title(str(col), fontsize=9)
        ax.tick_params(labelsize=7)
        # the shapes are the point (the table above has the numbers); count
        # tick labels on every panel would cost a third of the drawing time
        ax.set_yticks([])
    if axes:
        legend_below(fig, axes[0], ncols=min(len(classes), 6))
    return fig


def categorical_by_class(
    df: pd.DataFrame, target: str, columns: list[str], max_levels: int = 12
) -> Figure:
    """Rows of each class within each level of a categorical column (stacked bars)."""
    fig, axes = grid(len(columns), cols=2, row_height=2.6)
    classes = class_order(df[target].dropna().astype(str))
    colour_of = dict(zip(classes, class_colours(len(classes)), strict=True))
    for ax, col in zip(axes, columns, strict=True):
        table = pd.crosstab(df[col].astype("string").fillna("(missing)"), df[target].astype(str))
        table = table.loc[table.sum(axis=1).sort_values(ascending=False).index[:max_levels]]
        left = np.zeros(len(table))
        levels = table.index.astype(str)
        for label in class_order(table.columns):  # stacked bars, drawn directly
            counts = table[label].to_numpy()
            ax.barh(levels, counts, left=left, height=0.8, label=label, color=colour_of[label])
            left += counts
        ax.set_title(str(col), fontsize=9)
        ax.set_ylabel("")
        ax.tick_params(labelsize=7)
    if axes:
        legend_below(fig, axes[0], ncols=6)
    return fig


def over_time(table: pd.DataFrame, column: str, period: str, target: str) -> Figure:
    """Rows per period (bars) and, below, the target's mean and median or the class shares.

    ``table`` is :func:`nbml.steps.eda.over_time`'s: indexed by period start, a
    ``rows`` column, then ``mean`` and ``median`` (a quantity) or one share per class.
    """
    fig = Figure(figsize=(_WIDTH, 4.2), layout="constrained")
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=[1, 1.6])
    starts = table.index.to_numpy()
    width = np.diff(starts).min() * 0.8 if len(starts) > 1 else np.timedelta64(1, "D")
    top.bar(starts, table["rows"], width=width, color="#4c78a8")
    top.set_ylabel("rows", fontsize=8)
    top.set_title(f"'{column}', {period}: rows and {target}", fontsize=10)
    if "mean" in table.columns:
        bottom.plot(starts, table["mean"], marker=".", label="mean", color="#4c78a8")
        bottom.plot(starts, table["median"], marker=".", label="median", color="#f58518")
        bottom.set_ylabel(str(target), fontsize=8)
    else:
        classes = [c for c in table.columns if c != "rows"]  # most frequent first
        colours = class_colours(len(classes))
        bottom.stackplot(starts, *(table[c] for c in classes), labels=classes, colors=colours)
        bottom.set_ylim(0, 1)
        bottom.set_ylabel(f"share of {target}", fontsize=8)
    bottom.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    for ax in (top, bottom):
        ax.tick_params(labelsize=7)
    return fig


def missing_values(df: pd.DataFrame) -> Figure | None:
    """Share of missing values per column, for the columns that have any (else None)."""
    share = _computed(df.isna().mean())
    share = share[share > 0].sort_values()
    if share.empty:
        return None
    fig = Figure(figsize=(_WIDTH, 0.3 * len(share) + 1.0), layout="constrained")
    ax = fig.subplots()
    ax.barh(share.index.astype(str), share.values * 100, color="#e45756")
    ax.set_xlabel("% missing")
    ax.set_xlim(0, max(5.0, float(share.max()) * 110))
    ax.set_title("Missing values")
    return fig


def correlation(df: pd.DataFrame) -> Figure:
    """Pearson correlation between numeric columns."""
    corr = df.corr(numeric_only=True)
    fig = Figure(figsize=(_WIDTH * 0.8, _WIDTH * 0.65), layout="constrained")
    ax = fig.subplots()
    image = ax.imshow(corr.values, vmin=-1, vmax=1, cmap="RdBu_r")
    labels = [str(c) for c in corr.columns]
    # smaller labels as columns add up, so neighbours do not overlap (~40 fit at 4 pt)
    size = max(4.0, min(8.0, 160 / max(len(labels), 1)))
    upright = len(labels) > 12  # slanted labels of many columns run into each other
    ax.set_xticks(
        range(len(labels)),
        labels,
        rotation=90 if upright else 45,
        ha="center" if upright else "right",
        fontsize=size,
    )
    ax.set_yticks(range(len(labels)), labels, fontsize=size)
    if len(labels) <= 12:
        for (i, j), v in np.ndenumerate(corr.values):
            ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=7)
    fig.colorbar(image, ax=ax, shrink=0.8)
    ax.set_title("Correlation (numeric columns)")
    return fig


def confusion_labels(frames: Iterable[pd.DataFrame]) -> list[str]:
    """Every class of some confusion plot data, as text, in class order.

    Labels are compared as text: pandas may read one column of a CSV as
    numbers and the other as text when one holds a class the other lacks.
    """
    found = {str(v) for df in frames for v in pd.concat([df["actual"], df["predicted"]])}
    return class_order(found)


def draw_confusion(
    ax: Axes, rows: pd.DataFrame, labels: list[str] | None = None, fontsize: float | None = None
) -> ConfusionMatrixDisplay:
    """scikit-learn's confusion matrix display of (actual, predicted) rows, classes in order."""
    actual, predicted = rows["actual"].astype(str), rows["predicted"].astype(str)
    labels = labels or confusion_labels([rows])
    # plot data holds a count per (actual, predicted) pair: each pair weighs
    # its count (integers, so the matrix stays counts)
    counts = rows["count"].astype("int64") if "count" in rows else None
    # lazy: explore draws with this module and never imports scikit-learn (~2 s of its start)
    from sklearn.metrics import ConfusionMatrixDisplay

    display = ConfusionMatrixDisplay.from_predictions(
        actual,
        predicted,
        labels=labels,
        sample_weight=counts,
        cmap="Blues",
        colorbar=False,
        values_format="d",
        ax=ax,
        text_kw={"fontsize": fontsize} if fontsize else None,
    )
    ax.set_xticks(range(len(labels)), labels, rotation=30, ha="right", fontsize=fontsize)
    ax.set_yticks(range(len(labels)), labels, fontsize=fontsize)
    return display


def confusion_matrix(rows: pd.DataFrame) -> Figure:
    """Counts of (actual, predicted) pairs from confusion plot data."""
    fig = Figure(figsize=(4.6, 4.0), layout="constrained")
    ax = fig.subplots()
    draw_confusion(ax, rows)
    ax.set_xlabel("predicted")
    ax.set_ylabel("actual")
    ax.set_title("Confusion matrix (test split)")
    return fig


# kind -> scikit-learn display (in sklearn.metrics) and the plot-data columns of its x and y
CURVES: dict[str, tuple[str, str, str]] = {
    "roc": ("RocCurveDisplay", "fpr", "tpr"),
    "precision_recall": ("PrecisionRecallDisplay", "recall", "precision"),
}


def draw_curves(
    ax: Axes, kind: str, parts: dict[str, pd.DataFrame], colours: list[Any]
) -> RocCurveDisplay | PrecisionRecallDisplay:
    """One scikit-learn display drawing a curve per named part, from evaluate's plot data.

    The display draws ROC curves as straight lines between their points (the
    classifier can reach any mix of two neighbouring thresholds) and
    precision-recall curves as steps, with the chance-level diagonal on ROC.
    """
    # lazy: as in draw_confusion
    from sklearn import metrics

    display_name, x, y = CURVES[kind]
    display = getattr(metrics, display_name)(
        **{
            x: [p[x].to_numpy() for p in parts.values()],
            y: [p[y].to_numpy() for p in parts.values()],
        },
        name=[str(n) for n in parts],
    )
    # one solid line per curve: the multi-curve default (dashed, faded) is for CV folds
    styles = [{"color": c, "linestyle": "-", "alpha": 0.9} for c in colours]
    roc = kind == "roc"
    return display.plot(
        ax=ax,
        curve_kwargs=styles,
        plot_chance_level=roc,
        chance_level_kw={"color": "grey", "linestyle": ":"} if roc else None,
    )


def curves(rows: pd.DataFrame, kind: str, title: str) -> Figure:
    """One curve per class from long-format curve data (kind: roc or precision_recall)."""
    fig = Figure(figsize=(4.6, 4.0), layout="constrained")
    ax = fig.subplots()
    classes = class_order(rows["class"])
    parts = {label: rows[rows["class"] == label] for label in classes}
    draw_curves(ax, kind, parts, class_colours(len(classes)))
    ax.legend(fontsize=8, loc="lower right" if kind == "roc" else "lower left")
    ax.set_title(title)
    return fig


def importance(rows: pd.DataFrame, top: int = 15, score: str = "balanced accuracy") -> Figure:
    """Permutation importance per source column, largest on top (``score``: what drops)."""
    rows = rows.head(top).iloc[::-1]
    fig = Figure(figsize=(_WIDTH, 0.32 * len(rows) + 1.2), layout="constrained")
    ax = fig.subplots()
    ax.barh(rows["feature"].astype(str), rows["importance"], xerr=rows["std"], color="#54a24b")
    ax.set_xlabel(f"drop in {score} when shuffled")
    ax.set_title("Feature importance (permutation, test split)")
    return fig
