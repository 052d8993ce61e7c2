"""The request contract, generated from the training split.

Each raw source column the model was fit on (target excluded) becomes one
field of a pydantic ``Row`` model: numbers for numeric columns, text for text
columns, ``null`` for missing, as in the training data. Unknown columns are
refused, and so is text in a numeric column; the allowed categories are shown
as examples, so ``/docs`` and ``/openapi.json`` document the real columns.
Columns the model drops may be sent or left out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Annotated, Any

import numpy as np
import pandas as pd
from pandas.api import types as ptypes
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, Strict, create_model
from pydantic_core import PydanticCustomError

NUMBER, TEXT, BOOLEAN = "number", "text", "boolean"
# Categories listed in the schema, per column; the rest are still accepted.
MAX_EXAMPLES = 50


@dataclass(frozen=True)
class ColumnSpec:
    """One request column: its name, kind of value, and what training saw in it."""

    name: str
    kind: str
    used: bool = True
    categories: list[Any] = field(default_factory=list)
    minimum: float | None = None
    maximum: float | None = None
    example: Any = None


def _plain(value: Any) -> Any:
    """A numpy or pandas scalar as a JSON-ready Python value (missing as None)."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    return value.item() if isinstance(value, np.generic) else value


def column_kind(values: pd.Series) -> str:
    if ptypes.is_bool_dtype(values) or _booleans_with_gaps(values):
        return BOOLEAN
    if ptypes.is_numeric_dtype(values):
        return NUMBER
    return TEXT


def _booleans_with_gaps(values: pd.Series) -> bool:
    """An object column of True/False and missing values: how a CSV column of True/False
    with empty cells reads, and how prepare stores pandas' nullable booleans. A request
    sends such values as JSON true/false, not as text."""
    if values.dtype != object:
        return False
    present = values.dropna()
    return len(present) > 0 and all(isinstance(v, (bool, np.bool_)) for v in present.unique())


def column_spec(
    name: str, values: pd.Series, used: bool, categorical: bool, listed: bool = True
) -> ColumnSpec:
    """Describe one training column: kind, range or categories, an example value.

    ``listed``: whether the values training saw are listed as its categories. Only
    for a column the model takes as categories or booleans: an identifier, a date or
    free text has as many values as rows, which would fill /metadata and the try-it
    page with the training split's own identifiers (emails, names) and dates.
    """
    kind = column_kind(values)
    present = values.dropna()
    example = _plain(present.iloc[0]) if len(present) else None
    categories: list[Any] = []
    if listed and (kind != NUMBER or categorical):
        categories = sorted((_plain(v) for v in present.unique()), key=str)
    low = high = None
    if kind == NUMBER and len(present):
        low, high = float(present.min()), float(present.max())
    return ColumnSpec(str(name), kind, used, categories, low, high, example)


def feature_specs(
    train: pd.DataFrame,
    columns: list[str],
    used: set[str],
    categorical: set[str],
    listed: set[str] | None = None,
) -> list[ColumnSpec]:
    """The request columns, in the model's column order; the values seen are listed for
    the columns in ``listed`` (None: every column)."""
    return [
        column_spec(c, train[c], c in used, c in categorical, listed is None or c in listed)
        for c in columns
    ]


def _finite(value: float) -> float:
    """Infinity (JSON's ``Infinity``, or a number too large such as 1e400) is refused.

    prepare refuses inf in training data; the model never saw one, and the
    pipeline's imputer raises on it (which was a 500). NaN stays a missing value.
    """
    if math.isinf(value):
        raise PydanticCustomError("infinite_number", "Input should be a finite number")
    return value


def _value_type(kind: str) -> Any:
    # Strict: "3.5" in a numeric column is text, refused, not quietly converted;
    # a JSON integer is still a number.
    if kind == NUMBER:
        return Annotated[float, Strict(), AfterValidator(_finite)] | None
    base = {TEXT: str, BOOLEAN: bool}[kind]
    return Annotated[base, Strict()] | None


def _description(spec: ColumnSpec) -> str:
    if spec.categories:
        shown = ", ".join(map(str, spec.categories[:MAX_EXAMPLES]))
        more = " ..." if len(spec.categories) > MAX_EXAMPLES else ""
        return f"{spec.kind}; seen in training: {shown}{more}; null if missing"
    if spec.minimum is not None:
        return f"{spec.kind}; training range {spec.minimum:g} to {spec.maximum:g}; null if missing"
    return f"{spec.kind}; null if missing"


def row_model(specs: list[ColumnSpec]) -> type[BaseModel]:
    """A pydantic model of one request row: one field per column, named as the column."""
    fields: dict[str, Any] = {}
    for i, spec in enumerate(specs):
        examples = spec.categories[:MAX_EXAMPLES] if spec.categories else [spec.example]
        info = Field(
            ... if spec.used else None,
            alias=spec.name,
            description=_description(spec) + ("" if spec.used else "; not used by the model"),
            examples=examples,
        )
        fields[f"c{i}"] = (_value_type(spec.kind) if spec.used else Any, info)
    config = ConfigDict(extra="forbid", populate_by_name=False)
    return create_model("Row", __config__=config, **fields)


def request_model(row: type[BaseModel], max_rows: int, example: dict[str, Any]) -> type[BaseModel]:
    """``{"rows": [Row, ...]}``, at most ``max_rows`` rows."""
    rows_type = Annotated[list[row], Field(min_length=1, max_length=max_rows)]  # type: ignore[valid-type]
    config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"rows": [example]}]})
    return create_model("PredictRequest", __config__=config, rows=(rows_type, ...))


class Prediction(BaseModel):
    """One row's answer from a classifier."""

    label: str | int | float | bool
    probabilities: dict[str, float]


class ValuePrediction(BaseModel):
    """One row's answer from a regressor: the predicted quantity."""

    value: float


class PredictResponse(BaseModel):
    """The answers, in request order, and what in the rows training never saw."""

    predictions: list[Prediction | ValuePrediction]
    warnings: list[str] | None = Field(
        None,
        description="present when a category column has a value training never saw: "
        "one sentence per column, naming the values and their rows",
    )


def example_row(specs: list[ColumnSpec], frame: pd.DataFrame | None) -> dict[str, Any]:
    """A real row (from ``frame``, e.g. the test split) as a request row; else typical values."""
    if frame is not None and len(frame):
        first = frame.iloc[0]
        return {s.name: _plain(first[s.name]) for s in specs if s.name in frame.columns}
    return {s.name: s.example for s in specs}
