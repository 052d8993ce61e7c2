"""Feature types and the preprocessing that turns raw columns into model inputs."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import pandas as pd
from pandas.api import types as ptypes
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from nbml.errors import FeatureError
from nbml.steps.compute import is_dask
from nbml.steps.data import client_rows, feature_columns

# A text column with this share of distinct values carries no pattern a
# classifier can learn from (names, ids, free text): it is dropped, and said so.
ID_LIKE_UNIQUE_SHARE = 0.9
ID_LIKE_MIN_UNIQUE = 20
# Dates are a frequent identifier look-alike; a text column is called
# date-like when this share of a sample of its distinct values parses as dates.
DATE_LIKE_SHARE = 0.9
DATE_SAMPLE = 200
# Reasons stay within 50 characters: pandas' default column width in reports.
DATETIME_REASON = "datetime: derive numeric columns from it to use it"
TIMEDELTA_REASON = "timedelta: convert it to a number to use it"


@dataclass
class FeatureTypes:
    """Which raw columns feed the model, and how."""

    numeric: list[str] = field(default_factory=list)
    categorical: list[str] = field(default_factory=list)
    dropped: dict[str, str] = field(default_factory=dict)

    def as_frame(self) -> pd.DataFrame:
        rows = [(c, "numeric", "") for c in self.numeric]
        rows += [(c, "categorical", "") for c in self.categorical]
        rows += [(c, "dropped", why) for c, why in self.dropped.items()]
        return pd.DataFrame(rows, columns=["column", "type", "reason"])

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def infer_feature_types(
    df: pd.DataFrame,
    target: str,
    drop: list[str] | None = None,
    categorical: list[str] | None = None,
) -> FeatureTypes:
    """Numeric and categorical columns from dtypes, with params overrides applied.

    For a Dask frame, the values are looked at in a seeded sample (data.client_rows).
    """
    if is_dask(df):
        df = client_rows(df)
    drop, categorical = list(drop or []), list(categorical or [])
    columns = feature_columns(df, target)
    for key, names in (("drop", drop), ("categorical", categorical)):
        unknown = [c for c in names if c not in columns]
        if unknown:
            raise FeatureError(
                f"params.yaml data.{key} names column(s) {', '.join(map(str, unknown))} "
                f"that the data does not have (columns: {', '.join(map(str, columns))})"
            )
    types = FeatureTypes()
    for col in columns:
        values = df[col]
        if col in drop:
            types.dropped[col] = "listed in data.drop"
        elif time_reason := _time_reason(values):
            # Timestamps one-hot encoded would make the fitted preprocessor
            # hold pandas.Timestamp objects, which skops refuses to load, and
            # a date's levels rarely recur in new rows anyway.
            types.dropped[col] = time_reason
        elif values.nunique(dropna=True) <= 1:
            types.dropped[col] = "a single value: carries no information"
        elif col in categorical:
            types.categorical.append(col)
        elif ptypes.is_bool_dtype(values) or not ptypes.is_numeric_dtype(values):
            distinct = values.nunique(dropna=True)
            share = distinct / max(values.notna().sum(), 1)
            if distinct >= ID_LIKE_MIN_UNIQUE and share >= ID_LIKE_UNIQUE_SHARE:
                if looks_like_dates(values):
                    types.dropped[col] = f"dates as text ({distinct} distinct): derive numbers"
                else:
                    types.dropped[col] = f"looks like an identifier ({distinct} distinct values)"
            else:
                types.categorical.append(col)
        else:
            types.numeric.append(col)
    return types


def _time_reason(values: pd.Series) -> str:
    """Why a datetime or timedelta column is not a feature; '' for any other column."""
    if ptypes.is_datetime64_any_dtype(values):
        return DATETIME_REASON
    if ptypes.is_timedelta64_dtype(values):
        return TIMEDELTA_REASON
    return ""


def looks_like_dates(values: pd.Series) -> bool:
    """True when most distinct values of a text column parse as dates (e.g. 2024-01-31)."""
    sample = pd.Series(values.dropna().unique()[:DATE_SAMPLE]).astype(str)
    # plain numbers ("1234") would parse as years or epochs: not dates as written
    sample = sample[sample.str.contains(r"\d") & pd.to_numeric(sample, errors="coerce").isna()]
    if sample.empty:
        return False
    parsed = pd.to_datetime(sample, errors="coerce", format="mixed")
    share = parsed.notna().sum() / values.dropna().unique()[:DATE_SAMPLE].size
    return bool(share >= DATE_LIKE_SHARE)


def build_preprocessor(
    types: FeatureTypes, numeric_impute: str = "median", scale: bool = True
) -> ColumnTransformer:
    """Impute and scale numbers, impute and one-hot categories; drop the rest."""
    numeric_steps: list[tuple[str, object]] = [("impute", SimpleImputer(strategy=numeric_impute))]
    if scale:
        numeric_steps.append(("scale", StandardScaler()))
    categorical_steps = [
        ("impute", SimpleImputer(strategy="most_frequent")),
        ("onehot", OneHotEncoder(handle_unknown="ignore", sparse_output=False)),
    ]
    transformers = []
    if types.numeric:
        transformers.append(("num", Pipeline(numeric_steps), list(types.numeric)))
    if types.categorical:
        transformers.append(("cat", Pipeline(categorical_steps), list(types.categorical)))
    pre = ColumnTransformer(transformers, remainder="drop", verbose_feature_names_out=True)
    return pre.set_output(transform="pandas")
