"""Figures of a regression run: the target's distribution, predictions against actual values.

Built from the same plot data ``dvc plots`` draws (evaluate's CSV files), like
the classification figures in :mod:`nbml.reporting.plots`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from nbml.reporting.plots import _computed, grid

_WIDTH = 7.0
MAX_SCATTER_POINTS = 5000
_POINT = {"s": 8, "alpha": 0.5, "color": "#4c78a8", "linewidths": 0}


def target_distribution(df: pd.DataFrame, target: str) -> Figure:
    """Histogram of a numeric target's labelled values."""
    values = df[target].dropna().astype(float)
    fig = Figure(figsize=(_WIDTH, 2.8), layout="constrained")
    ax = fig.subplots()
    if type(values).__module__.startswith("dask."):
        ax.stairs(*_cluster_histogram(values), fill=True, color="#4c78a8")
    else:
        ax.hist(values, bins=_bins(len(values)), color="#4c78a8")
    ax.set_xlabel(str(target))
    ax.set_ylabel("rows")
    ax.set_title(f"Distribution of '{target}' ({len(values):,} labelled rows)")
    return fig


def _bins(rows: int) -> int:
    return min(40, max(10, int(np.sqrt(rows))))


def _part_histogram(part: pd.Series, bins: int, low: float, high: float) -> pd.Series:
    return pd.Series(np.histogram(part.to_numpy(), bins=bins, range=(low, high))[0])


def _cluster_histogram(values: object) -> tuple[np.ndarray, np.ndarray]:
    """Counts and bin edges of a Dask series' values, counted on its workers."""
    rows, low, high = (_computed(getattr(values, f)()) for f in ("count", "min", "max"))
    bins = _bins(int(rows))
    meta = pd.Series([], dtype="int64")
    found = _computed(values.map_partitions(_part_histogram, bins, low, high, meta=meta))
    counts = found.to_numpy().reshape(-1, bins).sum(axis=0)
    return counts, np.histogram_bin_edges([], bins=bins, range=(low, high))


def against_target(df: pd.DataFrame, target: str, columns: list[str], max_panels: int) -> Figure:
    """The target against each of the first ``max_panels`` columns (strongest first).

    At most MAX_SCATTER_POINTS rows (one seeded sample): more only blur the cloud.
    """
    df = df.sample(n=MAX_SCATTER_POINTS, random_state=0) if len(df) > MAX_SCATTER_POINTS else df
    shown = columns[:max_panels]
    fig, axes = grid(len(shown), cols=3)
    for ax, col in zip(axes, shown, strict=True):
        ax.scatter(df[col], df[target], **_POINT)
        ax.set_title(str(col), fontsize=9)
        ax.tick_params(labelsize=7)
    if shown:
        fig.supylabel(str(target), fontsize=9)
    return fig


def target_by_level(levels: pd.DataFrame, target: str, max_panels: int) -> Figure:
    """Box plots of the target per level, one panel per column, from a table of quantiles.

    ``levels`` is :func:`nbml.steps.eda.target_by_level`'s table: its columns in
    its order (most separating first, at most ``max_panels``), its levels (the
    most frequent) top to bottom; boxes span 25-75%, whiskers 5-95%, a dot marks
    the mean. Drawn from the table alone, so the figure is the same size at any
    number of rows.
    """
    shown = list(dict.fromkeys(levels["column"]))[:max_panels]
    fig, axes = grid(len(shown), cols=2, row_height=2.6)
    for ax, col in zip(axes, shown, strict=True):
        rows = levels[levels["column"] == col]
        boxes = [
            {
                "label": str(r["level"]),
                "whislo": r["5%"], "q1": r["25%"], "med": r["median"],
                "q3": r["75%"], "whishi": r["95%"], "mean": r["mean"], "fliers": [],
            }
            for _, r in rows.iterrows()
        ]  # fmt: skip
        ax.bxp(boxes, orientation="horizontal", showmeans=True, widths=0.6)
        ax.invert_yaxis()  # the most frequent level on top, as in the table
        ax.set_title(f"{col} (separation {rows['separation'].iloc[0]:.3f})", fontsize=9)
        ax.tick_params(labelsize=7)
    if shown:
        fig.supxlabel(str(target), fontsize=9)
    return fig


def value_range(frames: list[pd.DataFrame]) -> tuple[float, float]:
    """The smallest and largest actual or predicted value over some plot data."""
    both = pd.concat([pd.concat([df["actual"], df["predicted"]]) for df in frames])
    return (float(both.min()), float(both.max())) if len(both) else (0.0, 1.0)


def draw_versus(ax: Axes, rows: pd.DataFrame, limits: tuple[float, float]) -> None:
    """Predicted against actual values on ``ax``, with the line where they are equal."""
    ax.scatter(rows["actual"], rows["predicted"], **_POINT)
    ax.plot(limits, limits, color="grey", linestyle=":", label="predicted = actual")
    ax.set_xlabel("actual")
    ax.set_ylabel("predicted")


def predicted_vs_actual(rows: pd.DataFrame) -> Figure:
    """Predicted against actual values (evaluate's predicted_actual plot data)."""
    fig = Figure(figsize=(4.6, 4.2), layout="constrained")
    ax = fig.subplots()
    draw_versus(ax, rows, value_range([rows]))
    ax.legend(fontsize=8, loc="upper left")
    ax.set_title(f"Predicted vs actual (test split, {len(rows):,} rows)")
    return fig


def residuals(rows: pd.DataFrame) -> Figure:
    """Residuals (actual - predicted) against the prediction, around zero."""
    fig = Figure(figsize=(4.6, 3.6), layout="constrained")
    ax = fig.subplots()
    ax.scatter(rows["predicted"], rows["residual"], **_POINT)
    ax.axhline(0.0, color="grey", linestyle=":")
    ax.set_xlabel("predicted")
    ax.set_ylabel("actual - predicted")
    ax.set_title(f"Residuals vs predicted (test split, {len(rows):,} rows)")
    return fig
