"""Tables for the exploratory report."""

from __future__ import annotations

import pandas as pd


def overview(df: pd.DataFrame, target: str) -> pd.DataFrame:
    """One row per column: dtype, missing values, distinct values, an example."""
    rows = []
    for col in df.columns:
        values = df[col]
        example = values.dropna().iloc[0] if values.notna().any() else None
        rows.append(
            {
                "column": str(col),
                "role": "target" if col == target else "feature",
                "dtype": str(values.dtype),
                "missing": int(values.isna().sum()),
                "missing %": round(float(values.isna().mean()) * 100, 1),
                "distinct": int(values.nunique(dropna=True)),
                "example": str(example),
            }
        )
    return pd.DataFrame(rows)


def class_balance(df: pd.DataFrame, target: str) -> pd.DataFrame:
    """Rows and share per class."""
    counts = df[target].value_counts().sort_index()
    return pd.DataFrame({"rows": counts, "share %": (counts / counts.sum() * 100).round(1)})


def numeric_by_class(df: pd.DataFrame, target: str, columns: list[str]) -> pd.DataFrame:
    """Mean (and standard deviation) of each numeric column per class."""
    grouped = df.groupby(target, observed=True)[columns]
    mean, std = grouped.mean().round(2), grouped.std().round(2)
    return mean.astype(str) + " ± " + std.astype(str)


def strongest_correlations(df: pd.DataFrame, n: int = 5) -> pd.DataFrame:
    """The n most correlated pairs of numeric columns."""
    corr = df.corr(numeric_only=True)
    pairs = [
        (a, b, corr.loc[a, b]) for i, a in enumerate(corr.columns) for b in corr.columns[i + 1 :]
    ]
    table = pd.DataFrame(pairs, columns=["column", "with", "r"])
    table = table.reindex(table["r"].abs().sort_values(ascending=False).index).head(n)
    return table.round(3).reset_index(drop=True)
