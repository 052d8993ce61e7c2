"""Validate a source table before anything is trained, reporting every problem at once.

``prepare`` calls :func:`validate_source` right after loading the data. The
checks run through a pandera schema inferred from the data and the params
(every column present, none entirely empty, one kind of value per column,
and the types declared in ``prepare.schema``, which override the inferred
ones); the target's classes are then checked by :func:`nbml.steps.data.check_dataset`.
Every problem found, in every column, is collected into one
:class:`nbml.steps.data.DataError` naming the source, the column, what was expected
and what was found.

The functions take a DataFrame and the name of its source for messages; they
do not care how the frame was loaded (:func:`nbml.steps.data.load_source` turns a
missing, empty or unreadable file into the same kind of error).

At evaluation time, :func:`unseen_categories` lists the values of categorical
columns that the fitted model never saw in training.
"""

from __future__ import annotations

import difflib
from collections import Counter
from typing import Any

import numpy as np
import pandas as pd
from pandas.api import types as ptypes
from sklearn.compose import ColumnTransformer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder

from nbml.messages import shorten, warn
from nbml.steps.compute import is_dask, small
from nbml.steps.data import DataError, check_dataset, source_label
from nbml.steps.task import CLASSIFICATION

# The types a column can be declared as in params.yaml prepare.schema.
SCHEMA_TYPES: dict[str, str] = {
    "float": "float64",
    "int": "Int64",
    "str": "str",
    "bool": "boolean",
    "category": "category",
}
_EXAMPLES = 5


def _where_rows(rows: list[int]) -> str:
    """' (row 5)', ' (rows 5, 7)' or ' (263 rows, e.g. 5, 7, 9, 12, 20)'; '' for none."""
    if not rows:
        return ""
    listed = shorten(rows, "rows")
    if len(rows) > _EXAMPLES:
        return f" ({listed})"
    return f" (row{'s' if len(rows) > 1 else ''} {listed})"


def _show(values: list[Any], limit: int = _EXAMPLES, noun: str = "values") -> str:
    return shorten(values, noun, limit, show=repr)


# -- the schema ----------------------------------------------------------------
def _kind(value: Any) -> str:
    """What a single cell holds: number, text, bool or another type's name."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)) or ptypes.is_number(value):
        return "number"
    if isinstance(value, str):
        try:
            float(value)
        except ValueError:
            return "text"
        return "number"
    return type(value).__name__


def _dominant_kind(values: pd.Series) -> tuple[str, Counter[str]]:
    # each distinct value's kind once, weighted by its count: a text column
    # of millions of rows holds few distinct values, and _kind is Python
    kinds: Counter[str] = Counter()
    for value, n in values.value_counts(dropna=True, sort=False).items():
        kinds[_kind(value)] += int(n)
    return (kinds.most_common(1)[0][0] if kinds else ""), kinds


def _single_kind(values: pd.Series) -> pd.Series:
    """Element-wise: True where the value is of the column's most common kind."""
    dominant, kinds = _dominant_kind(values)
    if len(kinds) <= 1:
        return pd.Series(True, index=values.index)
    if "bool" in kinds:
        # True == 1 for isin's hashing: compare value by value
        return values.isna() | values.map(lambda v: _kind(v) == dominant)
    wrong = [v for v in values.dropna().unique() if _kind(v) != dominant]
    return values.isna() | ~values.isin(wrong)


def build_schema(df: pd.DataFrame, overrides: dict[str, str] | None = None) -> Any:
    """A pandera schema inferred from the frame, with the declared types applied."""
    # lazy: pandera costs ~0.2 s to import; evaluate imports this module for
    # report_unseen only, which never needs it
    import pandera.pandas as pa

    overrides = overrides or {}
    columns = {}
    for name in df.columns:
        checks = [
            pa.Check(
                lambda s: bool(s.notna().any()),
                name="not_entirely_empty",
                error="not_entirely_empty",
            ),
        ]
        declared = overrides.get(name)
        textual = ptypes.is_object_dtype(df[name]) or ptypes.is_string_dtype(df[name])
        if declared is None and textual:
            checks.append(
                pa.Check(_single_kind, name="one_kind_of_value", error="one_kind_of_value")
            )
        columns[name] = pa.Column(
            SCHEMA_TYPES[declared] if declared else None,
            checks=checks,
            nullable=True,
            coerce=declared is not None,
            required=True,
        )
    return pa.DataFrameSchema(columns, strict=False, ordered=False)


def _describe_failures(
    failures: pd.DataFrame, df: pd.DataFrame, declared_types: dict[str, str]
) -> list[str]:
    """Turn pandera's failure-case table into one sentence per column and check."""
    problems: list[str] = []
    for (column, check), group in failures.groupby(["column", "check"], sort=False, dropna=False):
        values = list(group["failure_case"])
        rows = [int(i) for i in group["index"].dropna()] if "index" in group else []
        where_rows = _where_rows(rows)
        if check == "not_entirely_empty":
            problems.append(
                f"column '{column}': entirely empty ({len(df)} rows, no value); "
                "fill it or list it in params.yaml data.drop"
            )
        elif check == "one_kind_of_value":
            dominant, kinds = _dominant_kind(df[column])
            problems.append(_mixed_message(str(column), dominant, kinds, values, where_rows))
        elif str(check).startswith(("coerce_dtype", "dtype")):
            declared = declared_types.get(str(column), str(check))
            problems.append(
                f"column '{column}': expected {declared} values (params.yaml prepare.schema), "
                f"found values that are not: {_show(values)}{where_rows}"
            )
        elif str(column) in ("nan", "None") or column is None:
            problems.append(f"{check}: {_show(values)}")
        else:
            problems.append(f"column '{column}': failed {check}: {_show(values)}{where_rows}")
    return list(dict.fromkeys(problems))


def _mixed_message(
    column: str, dominant: str, kinds: Counter[str], values: list[Any], where_rows: str
) -> str:
    """The 'mixed types' problem of one column (also said by the cluster's check)."""
    others = ", ".join(f"{n} {k}" for k, n in kinds.most_common() if k != dominant)
    return (
        f"column '{column}': mixed types: expected only {dominant} values "
        f"({kinds[dominant]} found), also found {others}: {_show(values)}{where_rows}; "
        f"fix the values, or declare the column's type in params.yaml prepare.schema "
        f"(e.g. {column}: str)"
    )


# -- the entry point -----------------------------------------------------------
def validate_source(
    df: pd.DataFrame,
    source: str,
    target: str,
    test_size: float,
    min_rows_per_class: int,
    schema: dict[str, str] | None = None,
    drop: list[str] | None = None,
    task: str = CLASSIFICATION,
) -> pd.DataFrame:
    """Check a loaded source table: its labelled rows, or DataError listing every problem.

    ``source`` names the data in messages (a file path or a bundled name);
    ``schema`` maps column names to a type in :data:`SCHEMA_TYPES`, overriding
    what is inferred from the data (params.yaml ``prepare.schema``); columns
    in ``drop`` (params.yaml ``data.drop``) are not checked, as no stage uses them;
    ``task`` (prepare's decision) says whether the target is checked as classes.
    """
    if is_dask(df):
        # lazy: Dask is imported only when compute.scheduler names a cluster
        from nbml.steps import cluster

        return cluster.validate_source(
            df, source, target, test_size, min_rows_per_class, schema, drop, task
        )
    where = source_label(source)
    if df.shape[1] == 0:
        raise DataError(where, ["no columns: the table is empty"])
    if len(df) == 0:
        cols = shorten(df.columns, "columns", 30)
        raise DataError(where, [f"no rows: only a header was found (columns: {cols})"])
    problems = _duplicate_name_problems(df)
    frame = df.loc[:, ~pd.Index(map(str, df.columns)).duplicated()]
    frame.columns = [str(c) for c in frame.columns]
    schema = dict(schema or {})
    problems += _declared_type_problems(schema, frame)
    problems += _unknown_drop_problems(drop, frame)
    overrides = {k: v for k, v in schema.items() if k in frame.columns and v in SCHEMA_TYPES}
    if target not in frame.columns:
        problems.append(
            f"target column '{target}' (params.yaml data.target) not found; "
            f"columns are: {shorten(frame.columns, 'columns', 30)}"
        )
    checked = [c for c in frame.columns if c not in set(drop or []) or c == target]
    validated, found = _apply_schema(frame, checked, overrides)
    problems += found + _infinite_problems(validated, checked)
    labelled = None
    if target in frame.columns:
        try:
            labelled = check_dataset(validated, target, test_size, min_rows_per_class, where, task)
        except DataError as exc:
            problems.extend(exc.problems)
    if problems or labelled is None:
        raise DataError(where, problems)
    return labelled


def infinite_message(column: str, count: int, where_rows: str) -> str:
    """The problem of a column holding inf or -inf (also said by the cluster's check)."""
    return (
        f"column '{column}': infinite values: {count} inf or -inf{where_rows}, which no model "
        "can use (a division by zero upstream?); replace them with numbers, or leave those "
        "cells empty to have them imputed"
    )


def _infinite_problems(frame: pd.DataFrame, checked: list[str]) -> list[str]:
    """One problem per checked float column holding inf or -inf.

    pandas reads 'inf' and 'Infinity' in a CSV as such floats, and a Parquet file
    keeps them; the stages after prepare would stop on them deep in a plot or a
    fit, naming no column.
    """
    problems = []
    for column in checked:
        values = frame[column]
        if not ptypes.is_float_dtype(values):
            continue
        infinite = np.isinf(values.to_numpy(dtype=np.float64, na_value=np.nan))
        if infinite.any():
            # by index label, as pandera's problems are: the file's row after prepare.sample
            labels = frame.index[infinite]
            rows = [
                int(i)
                for i in (labels if ptypes.is_integer_dtype(labels) else np.flatnonzero(infinite))
            ]
            problems.append(infinite_message(column, len(rows), _where_rows(rows)))
    return problems


def _duplicate_name_problems(df: pd.DataFrame) -> list[str]:
    """One problem per column name that appears more than once."""
    names = list(map(str, df.columns))
    problems = []
    for name, n in Counter(names).items():
        if n > 1:
            positions = [i + 1 for i, c in enumerate(names) if c == name]
            problems.append(
                f"column name '{name}' appears {n} times "
                f"(columns {shorten(positions, 'columns', 30)}); "
                "each column needs a unique name"
            )
    return problems


def _declared_type_problems(schema: dict[str, str], frame: pd.DataFrame) -> list[str]:
    """prepare.schema entries naming a column the data lacks, or an unknown type."""
    problems = []
    for name, kind in schema.items():
        if name not in frame.columns:
            problems.append(
                f"params.yaml prepare.schema names column '{name}', which the data does not "
                f"have (columns: {shorten(frame.columns, 'columns', 30)})"
            )
        elif kind not in SCHEMA_TYPES:
            problems.append(
                f"params.yaml prepare.schema.{name}: unknown type '{kind}'; "
                f"allowed: {', '.join(SCHEMA_TYPES)}"
            )
    return problems


def _unknown_drop_problems(drop: list[str] | None, frame: pd.DataFrame) -> list[str]:
    """params.yaml data.drop entries naming a column the data lacks (a typo, most often).

    Told here, with the other problems, rather than in explore: a misspelt
    name would otherwise leave the column it meant checked, and an empty one
    refused with a hint to list it in data.drop, where it seems to be.
    """
    columns = [str(c) for c in frame.columns]
    problems = []
    for name in drop or []:
        if str(name) in columns:
            continue
        close = difflib.get_close_matches(str(name), columns, n=1, cutoff=0.6)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        problems.append(
            f"params.yaml data.drop names column '{name}', which the data does not have{hint}; "
            f"columns: {shorten(columns, 'columns', 30)}"
        )
    return problems


def _apply_schema(
    frame: pd.DataFrame, checked: list[str], overrides: dict[str, str]
) -> tuple[pd.DataFrame, list[str]]:
    """Validate (and coerce) the checked columns; return the frame and the problems found."""
    # lazy: pandera costs ~0.2 s to import; evaluate imports this module for
    # report_unseen only, which never needs it
    import pandera.pandas as pa

    # inplace: pandera would otherwise copy the whole table first (2 GB and 8 s at 10^7
    # rows); only a declared type (prepare.schema) changes a column, in a copy of its own
    part = frame[checked]
    try:
        validated = build_schema(part, overrides).validate(part, lazy=True, inplace=True)
    except pa.errors.SchemaErrors as exc:
        return frame, _describe_failures(exc.failure_cases, frame, overrides)
    if not overrides:
        return frame, []  # nothing was coerced: the same table, no copy of it
    return pd.concat([validated, frame.drop(columns=checked)], axis=1)[frame.columns], []


# -- evaluation time -------------------------------------------------------------
def _encoders(model: Any) -> list[tuple[list[str], Any]]:
    """(columns, fitted OneHotEncoder) pairs anywhere inside a fitted model."""
    found: list[tuple[list[str], Any]] = []

    def walk(node: Any, columns: list[str] | None) -> None:
        if isinstance(node, Pipeline):
            for _, step in node.steps:
                walk(step, columns)
        elif isinstance(node, ColumnTransformer):
            for _, sub, cols in getattr(node, "transformers_", []):
                if isinstance(cols, (list, tuple, pd.Index)) and sub not in ("drop", "passthrough"):
                    walk(sub, [str(c) for c in cols])
        elif isinstance(node, OneHotEncoder) and hasattr(node, "categories_"):
            names = columns or [str(c) for c in getattr(node, "feature_names_in_", [])]
            found.append((names, node))

    walk(model, None)
    return found


def unseen_categories(model: Any, X: pd.DataFrame) -> dict[str, dict[str, int]]:
    """Per categorical column, the values in ``X`` the model's encoder never saw, with counts."""
    unseen: dict[str, dict[str, int]] = {}
    for columns, encoder in _encoders(model):
        for column, known in zip(columns, encoder.categories_, strict=False):
            if column not in X.columns:
                continue
            values = X[column].dropna()
            # on a cluster only the counts come back
            counts = small(values[~values.isin(list(known))].value_counts()).sort_index()
            if counts.sum():
                unseen[column] = {str(k): int(v) for k, v in counts.items()}
    return unseen


UNSEEN_SHOWN = 5
# what each OneHotEncoder setting does with a value it never saw
_UNSEEN_AS = {
    "ignore": "as no known category (all zeros)",
    "infrequent_if_exist": "as the pooled rare values (infrequent)",
}


def report_unseen(model: Any, X: pd.DataFrame, where: str) -> dict[str, dict[str, int]]:
    """Warn (on stderr, which the runner echoes) about categories training never saw."""
    unseen = unseen_categories(model, X)
    handling = {c: enc.handle_unknown for cols, enc in _encoders(model) for c in cols}
    for column, counts in unseen.items():
        # a few examples: a column of ids can have as many new values as rows
        listed = shorten(
            [f"'{v}' ({n} row{'s' if n > 1 else ''})" for v, n in counts.items()],
            "values",
            UNSEEN_SHOWN,
        )
        encoded = _UNSEEN_AS.get(handling.get(column, "ignore"), _UNSEEN_AS["ignore"])
        warn(
            f"{where}: column '{column}' has value(s) that training never saw: {listed}. "
            f"The model encodes them {encoded}."
        )
    return unseen
