"""Each raw column's kind, decided on the training split, and why.

The kinds are numbers, booleans, dates (text that parses as dates, or datetime
values), categories, and columns left out with the reason (identifiers, free
text, a single value, ``data.drop``). :mod:`nbml.steps.features` builds the
preprocessing from them. This module stands apart from it because explore needs
the kinds but not scikit-learn, whose import costs about 2 s of a kernel's start.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import pandas as pd
from pandas.api import types as ptypes

from nbml.errors import FeatureError
from nbml.messages import shorten
from nbml.steps import kinds
from nbml.steps.compute import is_dask
from nbml.steps.data import client_rows, feature_columns
from nbml.steps.kinds import ISO_FORMAT

NUMERIC, CATEGORICAL, BOOLEAN, DATE = "numeric", "categorical", "boolean", "date"
TIMEDELTA_REASON = "timedelta: convert it to a number to use it"


@dataclass
class FeatureTypes:
    """Which raw columns feed the model, and how; ``kinds`` says why, for every column."""

    numeric: list[str] = field(default_factory=list)
    categorical: list[str] = field(default_factory=list)
    boolean: list[str] = field(default_factory=list)
    # date column -> the format its text is written in ("" for datetime values)
    dates: dict[str, str] = field(default_factory=dict)
    dropped: dict[str, str] = field(default_factory=dict)
    # column -> [kind, why], in the table's column order
    kinds: dict[str, list[str]] = field(default_factory=dict)
    # categorical column -> distinct values in the training split
    levels: dict[str, int] = field(default_factory=dict)

    def add(self, column: str, kind: str, why: str) -> None:
        self.kinds[column] = [kind, why]
        if kind == NUMERIC:
            self.numeric.append(column)
        elif kind == CATEGORICAL:
            self.categorical.append(column)
        elif kind == BOOLEAN:
            self.boolean.append(column)

    def drop(self, column: str, kind: str, why: str) -> None:
        self.kinds[column] = [kind, why]
        self.dropped[column] = why

    def as_frame(self) -> pd.DataFrame:
        """One row per column: its detected kind and why (dropped columns say so)."""
        rows = [
            (c, kind, why, "dropped" if c in self.dropped else "feature")
            for c, (kind, why) in self.kinds.items()
        ]
        return pd.DataFrame(rows, columns=["column", "kind", "why", "use"])

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def _check_names(columns: list[str], overrides: dict[str, Any]) -> None:
    for key, names in overrides.items():
        unknown = [c for c in names if c not in columns]
        if unknown:
            raise FeatureError(
                f"params.yaml data.{key} names column(s) {shorten(unknown, 'columns', 30)} "
                f"that the data does not have (columns: {shorten(columns, 'columns', 30)})"
            )


def infer_feature_types(
    df: pd.DataFrame,
    target: str,
    drop: list[str] | None = None,
    categorical: list[str] | None = None,
    dates: dict[str, str] | None = None,
    distinct: Mapping[str, int] | None = None,
    keys: Mapping[str, str] | None = None,
) -> FeatureTypes:
    """Each column's kind from its values in ``df`` (the training split), params overrides first.

    ``distinct``: each column's count of distinct values, when already counted
    (``eda.overview``: at 10^7 rows counting them takes seconds per column).
    ``keys``: integer keys prepare found on every row of the source (kinds.read_keys),
    which a sample of the rows (prepare.sample, a cluster's) cannot show.
    For a Dask frame, the values are looked at in a seeded sample (data.client_rows),
    and so are their distinct values.
    """
    if is_dask(df):
        df, distinct = client_rows(df), None
    counted = dict(distinct or {})
    drop, categorical, dates = list(drop or []), list(categorical or []), dict(dates or {})
    columns = feature_columns(df, target)
    _check_names(columns, {"drop": drop, "categorical": categorical, "dates": list(dates)})
    types = FeatureTypes()
    for col in columns:
        values = df[col]
        if col in drop:
            types.drop(col, "dropped", "listed in data.drop")
        elif col in dates:
            fmt = (kinds.date_format(values, col) or "auto") if dates[col] == "auto" else dates[col]
            kinds.check_date_format(values, col, fmt)
            _add_date(types, col, values, fmt, "listed in data.dates")
        elif ptypes.is_timedelta64_dtype(values):
            types.drop(col, "timedelta", TIMEDELTA_REASON)
        elif (distinct := _distinct(values, counted.get(col))) <= 1:
            types.drop(col, "constant", "a single value: carries no information")
        elif col in categorical and not ptypes.is_datetime64_any_dtype(values):
            # a Timestamp never reaches an encoder: skops refuses to load them
            _add_category(types, col, distinct, "listed in data.categorical")
        else:
            _detect(types, col, values, distinct, (keys or {}).get(col, ""))
    return types


def _distinct(values: pd.Series, counted: int | None) -> int:
    return int(values.nunique(dropna=True)) if counted is None else int(counted)


def _add_date(types: FeatureTypes, col: str, values: pd.Series, fmt: str, why: str) -> None:
    types.dates[col] = "" if ptypes.is_datetime64_any_dtype(values) else fmt
    types.kinds[col] = [DATE, why]


def _add_category(types: FeatureTypes, col: str, distinct: int, why: str) -> None:
    types.levels[col] = distinct
    types.add(col, CATEGORICAL, why)


def _detect(types: FeatureTypes, col: str, values: pd.Series, distinct: int, key: str) -> None:
    """The kind of a column no parameter decides, from its values (``distinct`` of them);
    ``key``: why the source's rows show it is an integer key ('' when they do not)."""
    if ptypes.is_datetime64_any_dtype(values):
        _add_date(types, col, values, "", "datetime values")
    elif (distinct == 2 or ptypes.is_bool_dtype(values)) and kinds.is_boolean(values):
        types.add(col, BOOLEAN, "two values: true/false")
    elif ptypes.is_numeric_dtype(values):
        if reason := key or kinds.identifier_reason(values):
            types.drop(col, "identifier", reason)
        else:
            types.add(col, NUMERIC, f"numbers ({distinct} distinct)")
    elif fmt := kinds.date_format(values, col):
        shown = "ISO 8601" if fmt == ISO_FORMAT else fmt
        _add_date(types, col, values, fmt, f"text that reads as dates ({shown})")
    elif reason := kinds.free_text_reason(values):
        types.drop(col, "free text", reason)
    elif reason := kinds.identifier_reason(values):
        types.drop(col, "identifier", reason)
    else:
        _add_category(types, col, distinct, f"text ({distinct} distinct values)")


@dataclass
class Table:
    """A table shown without pandas' row numbers: HTML in reports, text in the notebook."""

    frame: pd.DataFrame

    def _repr_html_(self) -> str:
        return self.frame.to_html(index=False)

    def __repr__(self) -> str:
        return self.frame.to_string(index=False)
