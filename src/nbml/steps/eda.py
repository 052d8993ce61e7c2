"""Tables for the exploratory report."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from nbml.steps import kinds
from nbml.steps.compute import is_dask, small


def overview(df: pd.DataFrame, target: str) -> pd.DataFrame:
    """One row per column: dtype, missing values, distinct values, an example."""
    if is_dask(df):
        # lazy: Dask is imported only when compute.scheduler names a cluster
        from nbml.steps import cluster

        return cluster.overview(df, target)
    rows = []
    for col in df.columns:
        values = df[col]
        missing = values.isna().to_numpy()
        # the first value present, found without copying the column (dropna would)
        first = int(missing.argmin()) if len(values) and not missing.all() else None
        rows.append(
            {
                "column": str(col),
                "role": "target" if col == target else "feature",
                "dtype": str(values.dtype),
                "missing": int(missing.sum()),
                "missing %": round(float(missing.mean()) * 100, 1) if len(values) else 0.0,
                "distinct": int(values.nunique(dropna=True)),
                "example": str(values.iloc[first] if first is not None else None),
            }
        )
    return pd.DataFrame(rows)


def distinct_counts(table: pd.DataFrame) -> dict[str, int]:
    """Column -> distinct values, from :func:`overview`'s table (for infer_feature_types)."""
    return dict(zip(table["column"], table["distinct"].astype(int), strict=True))


def class_balance(df: pd.DataFrame, target: str) -> pd.DataFrame:
    """Rows and share per class."""
    counts = small(df[target].value_counts()).sort_index()
    return pd.DataFrame({"rows": counts, "share %": (counts / counts.sum() * 100).round(1)})


def class_separation(df: pd.DataFrame, target: str, columns: list[str]) -> pd.Series:
    """How far apart the classes sit on each numeric column, largest first.

    The share of a column's variance that lies between the class means (eta
    squared): 1 when every class is a tight cluster of its own, 0 when the
    class means are equal. Rows missing the value or the label are ignored.
    """
    shares = {}
    for col in columns:
        part = df[[col, target]].dropna()
        values = part[col].astype(float)
        centred = values - values.mean()
        total = float((centred**2).sum())
        class_means = values.groupby(part[target], observed=True).transform("mean")
        between = float(((class_means - values.mean()) ** 2).sum())
        shares[col] = between / total if total > 0 else 0.0
    return pd.Series(shares, name="separation", dtype=float).sort_values(
        ascending=False, kind="stable"
    )


def numeric_by_class(df: pd.DataFrame, target: str, columns: list[str]) -> pd.DataFrame:
    """Mean ± standard deviation per class, one row per numeric column.

    Rows are ordered by ``class_separation`` (shown as the last column), so
    the columns that tell the classes apart come first.
    """
    grouped = df.groupby(target, observed=True)[columns]
    mean, std = grouped.mean().round(2), grouped.std().round(2)
    table = (mean.astype(str) + " ± " + std.astype(str)).T
    separation = class_separation(df, target, columns)
    table = table.loc[separation.index]
    table["separation"] = separation.round(3)
    table.columns.name = None
    return table


def strongest_correlations(df: pd.DataFrame, n: int = 5) -> pd.DataFrame:
    """The n most correlated pairs of numeric columns."""
    corr = df.corr(numeric_only=True)
    pairs = [
        (a, b, corr.loc[a, b]) for i, a in enumerate(corr.columns) for b in corr.columns[i + 1 :]
    ]
    table = pd.DataFrame(pairs, columns=["column", "with", "r"])
    table = table.reindex(table["r"].abs().sort_values(ascending=False).index).head(n)
    return table.round(3).reset_index(drop=True)


# -- a numeric target (regression) -----------------------------------------------
def target_summary(df: pd.DataFrame, target: str) -> pd.DataFrame:
    """Count, mean, spread and quantiles of a numeric target (its missing values counted)."""
    if is_dask(df):
        # lazy: Dask is imported only when compute.scheduler names a cluster
        from nbml.steps import cluster

        return cluster.target_summary(df, target)
    values = df[target].astype(float)
    summary = values.describe(percentiles=[0.05, 0.25, 0.5, 0.75, 0.95])
    summary["missing"] = float(values.isna().sum())
    summary["distinct"] = float(values.nunique())
    return summary.round(4).rename(target).to_frame()


def target_correlations(df: pd.DataFrame, target: str, columns: list[str]) -> pd.DataFrame:
    """Numeric columns by the strength of their correlation with the target, strongest first.

    Pearson's r for straight-line relations and Spearman's rho for any
    monotonic one; rows missing either value are left out pairwise.
    """
    y = df[target].astype(float)
    rows = [
        {
            "column": str(col),
            "r": df[col].astype(float).corr(y),
            "spearman": df[col].astype(float).corr(y, method="spearman"),
        }
        for col in columns
    ]
    table = pd.DataFrame(rows, columns=["column", "r", "spearman"])
    order = table[["r", "spearman"]].abs().max(axis=1).sort_values(ascending=False, kind="stable")
    return table.loc[order.index].round(3).reset_index(drop=True)



MISSING_LEVEL = "(missing)"
# the target's quantiles per level: the box (25-75%) and whiskers (5-95%) drawn from them
LEVEL_QUANTILES = {"5%": 0.05, "25%": 0.25, "median": 0.5, "75%": 0.75, "95%": 0.95}


def target_by_level(
    df: pd.DataFrame, target: str, columns: list[str], max_levels: int = 12
) -> pd.DataFrame:
    """A numeric target's rows, mean and quantiles within each level of each column.

    The regression counterpart of the classes per level: one row per (column,
    level), the ``max_levels`` most frequent levels of a column (a missing value
    is the level ``(missing)``), with the quantiles of :data:`LEVEL_QUANTILES`
    a box plot is drawn from. Columns come in order of ``separation``, the
    share of the target's variance that lies between the column's level means
    (eta squared, as :func:`class_separation` with the roles swapped: 0 when
    every level has the same mean, 1 when the level alone gives the target).
    """
    y = df[target].astype(float)
    labelled = y.notna().to_numpy()
    y = y[labelled]
    spread = float(((y - y.mean()) ** 2).sum())
    parts = []
    for col in columns:
        levels = df.loc[labelled, col].astype("string").fillna(MISSING_LEVEL)
        grouped = y.groupby(levels, observed=True)
        stats = grouped.agg(["size", "mean"]).rename(columns={"size": "rows"})
        between = float((stats["rows"] * (stats["mean"] - y.mean()) ** 2).sum())
        stats = stats.sort_values("rows", ascending=False, kind="stable").head(max_levels)
        quantiles = grouped.quantile(list(LEVEL_QUANTILES.values())).unstack()
        quantiles.columns = list(LEVEL_QUANTILES)
        stats = stats.join(quantiles).reset_index(names="level")
        stats.insert(0, "column", str(col))
        stats["separation"] = between / spread if spread > 0 else 0.0
        parts.append(stats)
    names = ["column", "level", "rows", "mean", *LEVEL_QUANTILES, "separation"]
    if not parts:
        return pd.DataFrame(columns=names)
    table = pd.concat(parts, ignore_index=True)[names]
    # the columns whose levels differ most first, each keeping its levels' order
    rank = table.groupby("column", sort=False)["separation"].first()
    order = {c: i for i, c in enumerate(rank.sort_values(ascending=False, kind="stable").index)}
    table = table.sort_values("column", key=lambda c: c.map(order), kind="stable")
    return table.reset_index(drop=True).round(4).round({"separation": 3})


# -- dates -------------------------------------------------------------------------
# (pandas period alias, the word for it), finest first: the finest that gives at most
# max_periods periods over the column's span is used
PERIODS = (("h", "hourly"), ("D", "daily"), ("W", "weekly"), ("M", "monthly"),
           ("Q", "quarterly"), ("Y", "yearly"))  # fmt: skip
MAX_PERIODS = 60
# classes drawn one by one over time; the rest are pooled as OTHER_CLASSES
MAX_CLASSES_OVER_TIME = 10
OTHER_CLASSES = "(other classes)"


@dataclass
class OverTime:
    """Rows per period of a date column, with the target's mean (regression) or class shares."""

    column: str
    period: str  # the word: "monthly"
    table: pd.DataFrame  # index: period start; "rows", then "mean", "median" or one share a class
    unparsed: int  # values present that do not read as dates in the column's format

    def describe(self) -> str:
        if self.table.empty:
            return f"{self.column}: no value reads as a date"
        first, last = self.table.index[0], self.table.index[-1]
        gaps = f"; {self.unparsed:,} value(s) that are not dates left out" if self.unparsed else ""
        return (
            f"{self.column}: {first:%Y-%m-%d} to {last:%Y-%m-%d}, {self.period} "
            f"({len(self.table)} periods, {int(self.table['rows'].sum()):,} rows){gaps}"
        )


def _period(when: pd.Series, max_periods: int) -> tuple[str, str]:
    low, high = when.min(), when.max()
    for alias, word in PERIODS:
        if (high.to_period(alias).ordinal - low.to_period(alias).ordinal) < max_periods:
            return alias, word
    return PERIODS[-1]


def over_time(
    df: pd.DataFrame,
    target: str,
    column: str,
    fmt: str,
    classification: bool,
    max_periods: int = MAX_PERIODS,
) -> OverTime:
    """How the rows and the target move over one date column, in at most ``max_periods`` periods.

    The period is the finest of :data:`PERIODS` that fits, so a year of hourly
    stamps is shown by week and ten years by quarter: the table and its figure
    have a bounded size at any number of rows. For classification, each
    period's share of each class (the :data:`MAX_CLASSES_OVER_TIME` most
    frequent, in that order, the rest pooled last); for regression, the
    target's mean and median.
    """
    when = kinds.parse_dates(df[column], fmt)
    if getattr(when.dt, "tz", None) is not None:
        when = when.dt.tz_convert(None)
    present = df[column].notna().to_numpy()
    parsed = when.notna().to_numpy()
    unparsed = int((present & ~parsed).sum())
    y = df[target].to_numpy()[parsed]
    when = when[parsed]
    if when.empty:
        return OverTime(column, "", pd.DataFrame({"rows": []}), unparsed)
    alias, word = _period(when, max_periods)
    starts = pd.Index(when.dt.to_period(alias).dt.start_time.to_numpy(), name=column)
    frame = pd.DataFrame({"y": y}, index=starts)
    grouped = frame.groupby(level=0)["y"]
    table = grouped.size().rename("rows").to_frame()
    if classification:
        labels = pd.Series(y, index=starts).astype(str)
        top = labels.value_counts().index[:MAX_CLASSES_OVER_TIME]
        labels = labels.where(labels.isin(top), OTHER_CLASSES)
        shares = pd.crosstab(labels.index, labels, normalize="index")
        shares.index.name = column
        table = table.join(shares[[c for c in [*top, OTHER_CLASSES] if c in shares.columns]])
    else:
        table["mean"] = grouped.mean()
        table["median"] = grouped.median()
    return OverTime(column, word, table.round(4), unparsed)
