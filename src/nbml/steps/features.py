"""The preprocessing that turns raw columns into model inputs.

Every column's kind is decided on the training split
(:func:`nbml.steps.feature_types.infer_feature_types`). :func:`build_preprocessor`
turns the kinds into one ColumnTransformer whose width is bounded: a category gives at most
``featurize.max_categories`` columns however many values it has, or one column
of category codes for an estimator that splits on categories itself
(HistGradientBoosting, ``featurize.category_codes``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from pandas.api import types as ptypes
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.model_selection import KFold, StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler, TargetEncoder
from sklearn.utils.multiclass import type_of_target

from nbml.steps.feature_types import FeatureTypes
from nbml.steps.transformers import BooleanValues, DateParts

# A category's values with fewer training rows than this are pooled as
# "infrequent" once the column has more values than featurize.max_categories.
POOL_MIN_ROWS = 5
# Folds and seed of the target encoding's cross-fitting (same split, same bytes).
TARGET_ENCODING_FOLDS = 5
TARGET_ENCODING_SEED = 0
# The seed of featurize.fit_sample's rows (any would do; fixed: same rows, same bytes).
FIT_SAMPLE_SEED = 0
# The ColumnTransformer part whose outputs are category codes (featurize.category_codes).
CODES_PART = "codes"
# HistGradientBoosting splits on at most this many values of a category (its max_bins).
MAX_CODES = 255


# -- the preprocessor ------------------------------------------------------------
def _target_width(y: pd.Series | None) -> tuple[str, int]:
    """TargetEncoder's target type for ``y`` and how many columns it gives per column."""
    if y is None:
        return "", 0
    if ptypes.is_float_dtype(y):
        return "continuous", 1
    # the type follows from the distinct labels (type_of_target would sort every row's)
    distinct = np.asarray(pd.Series(y).drop_duplicates().to_numpy())
    kind = type_of_target(distinct)
    return kind, (len(distinct) if kind == "multiclass" else 1)


def encoding_of(
    levels: int,
    max_categories: int,
    target_encode_above: int | None,
    target_width: int,
    codes: bool = False,
) -> str:
    """How a category is encoded: 'codes' (one column of category codes, when ``codes``),
    'onehot', 'pooled' (bounded one-hot) or 'target'."""
    if levels <= max_categories:
        return "codes" if codes and levels <= MAX_CODES else "onehot"
    wide = target_encode_above is not None and levels > target_encode_above
    if wide and 0 < target_width <= max_categories:
        return "target"
    return "pooled"


def _target_encoder(kind: str) -> TargetEncoder:
    folds = KFold if kind == "continuous" else StratifiedKFold
    cv = folds(TARGET_ENCODING_FOLDS, shuffle=True, random_state=TARGET_ENCODING_SEED)
    return TargetEncoder(target_type=kind, cv=cv)


def _encoder(how: str, max_categories: int, target_kind: str) -> Any:
    if how == "target":
        return _target_encoder(target_kind)
    if how == "codes":
        # 0..k-1 in sorted order; a value training never saw becomes missing (NaN), which
        # HistGradientBoosting sends where its split sends missing values
        return OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=np.nan)
    if how == "pooled":
        return OneHotEncoder(
            handle_unknown="infrequent_if_exist",
            max_categories=max_categories,
            min_frequency=POOL_MIN_ROWS,
            sparse_output=False,
        )
    return OneHotEncoder(handle_unknown="ignore", sparse_output=False)


# ColumnTransformer part name and encoder step name of each encoding
_ENCODING_PARTS = {
    "codes": (CODES_PART, "codes"),
    "onehot": ("cat", "onehot"),
    "pooled": ("pooled", "onehot"),
    "target": ("target", "encode"),
}


def _category_parts(
    types: FeatureTypes,
    max_categories: int,
    target_encode_above: int | None,
    y: Any,
    codes: bool = False,
) -> dict[str, tuple[str, Pipeline, list[str]]]:
    """The ColumnTransformer parts of the categories, by encoding."""
    kind, width = _target_width(y)
    groups: dict[str, list[str]] = {}
    for col in types.categorical:
        levels = types.levels.get(col, 0)
        how = encoding_of(levels, max_categories, target_encode_above, width, codes)
        groups.setdefault(how, []).append(col)
    parts = {}
    for how, cols in groups.items():
        name, step = _ENCODING_PARTS[how]
        impute = ("impute", SimpleImputer(strategy="most_frequent"))
        encode = (step, _encoder(how, max_categories, kind))
        parts[how] = (name, Pipeline([impute, encode]), cols)
    return parts


def build_preprocessor(
    types: FeatureTypes,
    numeric_impute: str = "median",
    scale: bool = True,
    max_categories: int = 20,
    target_encode_above: int | None = None,
    date_cycles: bool = False,
    y: pd.Series | None = None,
    category_codes: bool = False,
) -> ColumnTransformer:
    """Numbers imputed and scaled; categories one-hot (bounded) or target encoded;
    booleans as 0/1; dates as numeric parts; every other column dropped.

    ``y`` (the training labels) is needed for a target encoding; without it a
    many-valued category is always pooled one-hot. With ``category_codes`` a
    category of at most ``max_categories`` values becomes one column of codes
    (part :data:`CODES_PART`), for an estimator told to split on them as
    categories (:func:`nbml.steps.model.split_on_codes`).
    """

    def numbers() -> list[tuple[str, object]]:
        steps: list[tuple[str, object]] = [("impute", SimpleImputer(strategy=numeric_impute))]
        return steps + ([("scale", StandardScaler())] if scale else [])

    categories = _category_parts(types, max_categories, target_encode_above, y, category_codes)
    transformers: list[tuple[str, Any, list[str]]] = []
    if types.numeric:
        transformers.append(("num", Pipeline(numbers()), list(types.numeric)))
    # where the one-hot columns would be: the other parts keep their order
    transformers += [categories[how] for how in ("codes", "onehot") if how in categories]
    if types.boolean:
        steps = [("read", BooleanValues()), ("impute", SimpleImputer(strategy="most_frequent"))]
        transformers.append(("bool", Pipeline(steps), list(types.boolean)))
    if types.dates:
        parts = DateParts(formats=list(types.dates.values()), cycles=date_cycles)
        transformers.append(("date", Pipeline([("parts", parts), *numbers()]), list(types.dates)))
    transformers += [categories[how] for how in ("pooled", "target") if how in categories]
    pre = ColumnTransformer(transformers, remainder="drop", verbose_feature_names_out=True)
    return pre.set_output(transform="pandas")


# -- fitting on a big training split -------------------------------------------
def fit_preprocessor(
    preprocessor: ColumnTransformer, X: pd.DataFrame, y: Any, fit_sample: int | None
) -> ColumnTransformer:
    """Fit the preprocessor on ``X``, or on a seeded sample of ``fit_sample`` rows of it.

    With at most ``fit_sample`` rows (or None) every row is used, exactly as
    ``preprocessor.fit``. Above, the fit runs on FIT_SAMPLE_SEED's sample of
    rows plus, for every category or boolean level the sample lacks, up to
    POOL_MIN_ROWS of that level's rows (found by counting the levels on every
    row, which is cheap): the encoders know every level of the training split,
    and one that the full split would pool as rare (fewer than POOL_MIN_ROWS
    rows) is pooled. The sample's counts decide an imputer's most frequent
    value and which levels a pooled one-hot keeps; the numeric statistics
    (median, mean, spread) are the sample's, close estimates of the split's.

    Why: the exact fit sorts every row (``SimpleImputer`` median: 46 of 95 s,
    and most of featurize's 8.7 GB, at 10^7 rows), and ``ColumnTransformer.fit``
    transforms every row of every part only to drop the result; on 1,000,000
    rows (the default) featurize took 25 s and 3.8 GB. A target encoding is
    cross-fitted on every row again by train.
    """
    if fit_sample is None or len(X) <= fit_sample:
        return preprocessor.fit(X, y)
    rows = _fit_sample_rows(preprocessor, X, fit_sample)
    picked = y.iloc[rows] if isinstance(y, pd.Series) else np.asarray(y)[rows]
    return preprocessor.fit(X.iloc[rows], picked)


def _fit_sample_rows(preprocessor: ColumnTransformer, X: pd.DataFrame, size: int) -> np.ndarray:
    """Positions of a seeded sample of ``size`` rows, completed with every level it lacks."""
    rng = np.random.default_rng(FIT_SAMPLE_SEED)
    picked = np.sort(rng.choice(len(X), size=size, replace=False))
    extra = [picked]
    for col in _level_columns(preprocessor):
        values = X[col]
        seen = values.iloc[picked].dropna().unique()
        lacking = values.notna().to_numpy() & ~values.isin(seen).to_numpy()
        if lacking.any():
            rare = values[lacking]
            extra.append(np.flatnonzero(lacking)[rare.groupby(rare).cumcount() < POOL_MIN_ROWS])
    return np.unique(np.concatenate(extra))


def _level_columns(preprocessor: ColumnTransformer) -> list[str]:
    """The columns whose levels the encoders learn: categories and booleans."""
    return [
        col
        for name, _part, cols in preprocessor.transformers
        if name not in ("num", "date")
        for col in cols
    ]


# -- what each column became ---------------------------------------------------
def _widths(part: Any, columns: list[str]) -> dict[str, tuple[int, str]]:
    """Output columns made from each source column by one fitted ColumnTransformer part."""
    last = part.steps[-1][1] if isinstance(part, Pipeline) else part
    first = part.steps[0][1] if isinstance(part, Pipeline) else part
    found = {}
    for j, col in enumerate(columns):
        if isinstance(last, OneHotEncoder):
            pooled = (getattr(last, "infrequent_categories_", None) or [None] * len(columns))[j]
            kept = len(last.categories_[j]) - (len(pooled) if pooled is not None else 0)
            how = f"one-hot, {len(pooled)} rare values pooled" if pooled is not None else "one-hot"
            found[col] = (kept + (pooled is not None), how)
        elif isinstance(last, TargetEncoder):
            width = len(last.classes_) if last.target_type_ == "multiclass" else 1
            found[col] = (width, "target encoding (cross-fitted)")
        elif isinstance(last, OrdinalEncoder):
            found[col] = (1, f"category codes ({len(last.categories_[j])} values)")
        elif isinstance(first, DateParts):
            found[col] = (len(first.parts(j)), "date parts: " + ", ".join(first.parts(j)))
        elif isinstance(first, BooleanValues):
            found[col] = (1, "0/1 number")
        else:
            found[col] = (1, "number" + (", scaled" if "scale" in dict(part.steps) else ""))
    return found


def becomes(types: FeatureTypes, preprocessor: ColumnTransformer) -> pd.DataFrame:
    """The kinds table with what each column became in the fitted preprocessor."""
    made: dict[str, tuple[int, str]] = {}
    for _name, part, columns in preprocessor.transformers_:
        if not isinstance(part, str):
            made.update(_widths(part, list(columns)))
    table = types.as_frame().drop(columns="use")
    table["becomes"] = [made.get(c, (0, "dropped"))[1] for c in table["column"]]
    table["outputs"] = [made.get(c, (0, ""))[0] for c in table["column"]]
    return table
