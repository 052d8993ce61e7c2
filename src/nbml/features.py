"""Feature types and the preprocessing that turns raw columns into model inputs."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import pandas as pd
from pandas.api import types as ptypes
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

# A text column with this share of distinct values carries no pattern a
# classifier can learn from (names, ids, free text): it is dropped, and said so.
ID_LIKE_UNIQUE_SHARE = 0.9
ID_LIKE_MIN_UNIQUE = 20


class FeatureError(ValueError):
    """A feature override in params.yaml names something that is not there."""


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
    """Numeric and categorical columns from dtypes, with params overrides applied."""
    drop, categorical = list(drop or []), list(categorical or [])
    columns = [c for c in df.columns if c != target]
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
        elif values.nunique(dropna=True) <= 1:
            types.dropped[col] = "a single value: carries no information"
        elif col in categorical:
            types.categorical.append(col)
        elif ptypes.is_bool_dtype(values) or not ptypes.is_numeric_dtype(values):
            distinct = values.nunique(dropna=True)
            share = distinct / max(values.notna().sum(), 1)
            if distinct >= ID_LIKE_MIN_UNIQUE and share >= ID_LIKE_UNIQUE_SHARE:
                types.dropped[col] = f"looks like an identifier ({distinct} distinct values)"
            else:
                types.categorical.append(col)
        else:
            types.numeric.append(col)
    return types


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
