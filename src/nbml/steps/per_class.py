"""Results per class: precision, recall, F1 and support, and the weakest classes in words."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn import metrics as skm

from nbml.steps.summary import fmt

COLUMNS = ["class", "precision", "recall", "f1", "support"]


def per_class_table(y_true: pd.Series, y_pred: Any, classes: Any) -> pd.DataFrame:
    """One row per class, in the model's class order (a class never predicted scores 0)."""
    labels = list(classes)
    truth, predicted, asked = _as_codes(np.asarray(y_true), np.asarray(y_pred), labels)
    precision, recall, f1, support = skm.precision_recall_fscore_support(
        truth, predicted, labels=asked, zero_division=0
    )
    table = pd.DataFrame(
        {
            "class": [str(c) for c in labels],
            "precision": np.round(precision, 6),
            "recall": np.round(recall, 6),
            "f1": np.round(f1, 6),
            "support": support.astype("int64"),
        }
    )
    return table[COLUMNS]


def _as_codes(truth: np.ndarray, predicted: np.ndarray, labels: list[Any]) -> tuple:
    """Labels as their positions among ``labels`` when every one is found there: the same
    counts, so the same scores, without scikit-learn sorting and comparing text labels
    (0.44 s at 250,000 test rows). Otherwise the labels as they are."""
    index = pd.Index(labels)
    codes = index.get_indexer(truth), index.get_indexer(predicted)
    if not index.is_unique or (codes[0] < 0).any() or (codes[1] < 0).any():
        return truth, predicted, labels
    return codes[0], codes[1], list(range(len(labels)))


def as_metrics(table: pd.DataFrame) -> dict[str, dict[str, float | int]]:
    """The table as ``{class: {precision, recall, f1, support}}``, for ``dvc metrics``."""
    return {
        str(row["class"]): {
            "precision": float(row["precision"]),
            "recall": float(row["recall"]),
            "f1": float(row["f1"]),
            "support": int(row["support"]),
        }
        for row in table.to_dict("records")
    }


def readable(table: pd.DataFrame) -> pd.DataFrame:
    """The table with its scores as people read them (three significant digits)."""
    shown = table.copy()
    for col in ("precision", "recall", "f1"):
        shown[col] = [fmt(v) for v in shown[col]]
    return shown


def from_metrics(tree: dict[str, dict[str, Any]]) -> pd.DataFrame:
    """The table back from the per-class metrics file."""
    rows = [{"class": name, **values} for name, values in tree.items()]
    return pd.DataFrame(rows, columns=COLUMNS)


def _misread(confusion: pd.DataFrame, label: str) -> tuple[int, str | None, int]:
    """(rows of ``label`` predicted wrong, the most common wrong answer, how often)."""
    rows = confusion[(confusion["actual"] == label) & (confusion["predicted"] != label)]
    rows = rows[rows["count"] > 0].sort_values(["count", "predicted"], ascending=[False, True])
    if rows.empty:
        return 0, None, 0
    top = rows.iloc[0]
    return int(rows["count"].sum()), str(top["predicted"]), int(top["count"])


def weakest_sentence(table: pd.DataFrame, confusion: pd.DataFrame, n: int = 2) -> str:
    """The ``n`` classes with the lowest recall, in words, from the confusion counts.

    "Weakest: Chinstrap: recall 0.941, 1 of 17 misread as Adelie."
    """
    missed = table[table["recall"] < 1].sort_values(["recall", "f1", "class"]).head(n)
    if missed.empty:
        return f"Every class is recognised on all {int(table['support'].sum())} test rows."
    parts = []
    for row in missed.to_dict("records"):
        wrong, top, top_count = _misread(confusion, str(row["class"]))
        part = f"{row['class']}: recall {fmt(row['recall'])}, {wrong} of {row['support']} misread"
        if top is not None:
            part += f" as {top}" if top_count == wrong else f" (mostly as {top}: {top_count})"
        parts.append(part)
    return "Weakest: " + "; ".join(parts) + "."
