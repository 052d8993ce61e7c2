"""Regression results per slice: the error by quantile of the actual target, and the weakest slice.

The regression counterpart of :mod:`nbml.steps.per_class`: the test rows are
cut into a few bins of equal size by their actual value (quartiles by
default), and each bin gets its rows, mae and rmse. The table is bounded (at
most ``bins`` rows at any size) and goes to the same tracked metrics file as
the per-class results, so ``dvc metrics show`` lists it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from nbml.steps.summary import fmt

COLUMNS = ["slice", "low", "high", "rows", "mae", "rmse"]
BINS = 4


def _edges(actual: np.ndarray, bins: int) -> np.ndarray:
    """Quantile edges of the actual values; repeated edges (few distinct values) merged."""
    return np.unique(np.quantile(actual, np.linspace(0, 1, bins + 1)))


def _row(i: int, edges: np.ndarray, err: np.ndarray) -> dict[str, Any]:
    return slice_row(i, edges, len(err), np.abs(err).sum(), (err**2).sum())


def slice_row(
    i: int, edges: np.ndarray, rows: int, abs_sum: float, square_sum: float
) -> dict[str, Any]:
    """Slice i's row of the table from its rows and summed absolute and squared errors
    (the cluster passes sums computed on its workers)."""
    return {
        "slice": f"q{i + 1}",
        "low": round(float(edges[i]), 6),
        "high": round(float(edges[min(i + 1, len(edges) - 1)]), 6),
        "rows": int(rows),
        "mae": round(float(abs_sum / rows), 6),
        "rmse": round(float(np.sqrt(square_sum / rows)), 6),
    }


def error_by_quantile(y_true: Any, y_pred: Any, bins: int = BINS) -> pd.DataFrame:
    """One row per quantile bin of the actual target: its range, rows, mae and rmse.

    Bin ``i`` holds the rows with ``low < actual <= high`` (the first also its
    ``low``); rows without an actual value are left out; bins with no rows
    (repeated values) are merged away.
    """
    actual, predicted = np.asarray(y_true, dtype=float), np.asarray(y_pred, dtype=float)
    keep = ~np.isnan(actual)
    actual, predicted = actual[keep], predicted[keep]
    if not len(actual):
        return pd.DataFrame(columns=COLUMNS)
    edges = _edges(actual, bins)
    which = np.searchsorted(edges[1:-1], actual, side="left")
    errors = predicted - actual
    bins_kept = [i for i in range(max(len(edges) - 1, 1)) if (which == i).any()]
    rows = [_row(i, edges, errors[which == i]) for i in bins_kept]
    return pd.DataFrame(rows, columns=COLUMNS)


def as_metrics(table: pd.DataFrame) -> dict[str, dict[str, float | int]]:
    """The table as ``{slice: {low, high, rows, mae, rmse}}``, for ``dvc metrics``."""
    return {
        str(row["slice"]): {k: row[k] for k in COLUMNS[1:]} for row in table.to_dict("records")
    }


def from_metrics(tree: dict[str, dict[str, Any]]) -> pd.DataFrame:
    """The table back from the metrics file."""
    return pd.DataFrame([{"slice": k, **v} for k, v in tree.items()], columns=COLUMNS)


def where(row: dict[str, Any], target: str, first: bool, last: bool) -> str:
    """Where a slice lies, in words: 'price is above 31.2', 'price is at most 9.5'."""
    low, high = fmt(row["low"], [row["high"]]), fmt(row["high"], [row["low"]])
    if first and last:
        return f"{target} is from {low} to {high}"
    if last:
        return f"{target} is above {low}"
    if first:
        return f"{target} is at most {high}"
    return f"{target} is above {low} and at most {high}"


def readable(table: pd.DataFrame, target: str) -> pd.DataFrame:
    """The table as people read it: where each slice lies, its rows and errors (3 digits)."""
    records = table.to_dict("records")
    last = len(records) - 1
    return pd.DataFrame(
        {
            "test rows where": [where(r, target, i == 0, i == last) for i, r in enumerate(records)],
            "rows": [int(r["rows"]) for r in records],
            "mae": [fmt(r["mae"]) for r in records],
            "rmse": [fmt(r["rmse"]) for r in records],
        },
        columns=["test rows where", "rows", "mae", "rmse"],
    )


def weakest_sentence(table: pd.DataFrame, target: str) -> str:
    """The slice with the largest mae, in words.

    "Largest errors where price is above 31.2: mae 4.1 (rmse 5.3, 25 test rows)."
    """
    records = table.to_dict("records")
    if not records:
        return "No test rows with an actual value to slice."
    i = max(range(len(records)), key=lambda k: (records[k]["mae"], -k))
    row = records[i]
    place = where(row, target, i == 0, i == len(records) - 1)
    others = [r["mae"] for k, r in enumerate(records) if k != i]
    return (
        f"Largest errors where {place}: mae {fmt(row['mae'], others)} "
        f"(rmse {fmt(row['rmse'])}, {row['rows']} test rows)."
    )
