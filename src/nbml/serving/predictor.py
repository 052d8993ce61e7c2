"""Rows in, labels and class probabilities (or quantities) out, identical to the saved model's.

A one-row DataFrame through the ColumnTransformer costs milliseconds, almost
all of it pandas overhead. For the preprocessing ``featurize`` builds
(impute, scale, one-hot) the fitted parameters are read out once and applied
with numpy to plain rows; the estimator then sees the same float64 matrix
the pipeline would give it; a HistGradientBoostingClassifier's trees are
then walked with numpy for small batches (:mod:`nbml.serving.trees`), and so
are a HistGradientBoostingRegressor's, whose answers are numbers. At
start-up every way scores rows of the test split (with missing values and
an unseen category added) and must agree exactly with the pipeline; a way
that does not is dropped, and with the preprocessing of another kind every
request goes through the pipeline on a DataFrame.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import is_regressor
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import (
    ExtraTreesClassifier,
    HistGradientBoostingClassifier,
    RandomForestClassifier,
)
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler
from sklearn.tree import DecisionTreeClassifier

from nbml.errors import ServeError
from nbml.messages import say
from nbml.serving.schema import BOOLEAN, NUMBER, ColumnSpec
from nbml.serving.trees import compile_forest

CLASSIFICATION = "classification"
REGRESSION = "regression"
# Classifiers whose predict() is classes_[argmax(predict_proba())] in scikit-learn's
# own code: for them the label is read from the probabilities, not computed twice.
ARGMAX_PREDICT = (
    HistGradientBoostingClassifier,
    RandomForestClassifier,
    ExtraTreesClassifier,
    DecisionTreeClassifier,
)
SELF_CHECK_ROWS = 300
# Up to this many rows the numpy tree walk is faster than scikit-learn's
# per-tree calls (measured: 0.08 ms vs 4 ms for 1 row, 0.4 vs 5 for 8, even at 64).
FOREST_MAX_ROWS = 32
Row = tuple[Any, ...]


def frame_from_rows(rows: list[Row], specs: list[ColumnSpec]) -> pd.DataFrame:
    """Rows as the DataFrame the model was trained on: numbers float64, text str, None missing."""
    data: dict[str, Any] = {}
    for i, spec in enumerate(specs):
        values = [row[i] for row in rows]
        if spec.kind == NUMBER:
            data[spec.name] = np.array(values, dtype=np.float64)
        elif spec.kind == BOOLEAN:
            data[spec.name] = pd.array(values, dtype="boolean")
        else:
            data[spec.name] = pd.array(values, dtype="str")
    return pd.DataFrame(data)


@dataclass(frozen=True)
class NumericBlock:
    """Imputed (and maybe scaled) numeric columns: one ColumnTransformer part."""

    index: list[int]
    fill: np.ndarray
    mean: np.ndarray | None
    scale: np.ndarray | None

    def apply(self, rows: list[Row]) -> np.ndarray:
        x = np.array([[row[i] for i in self.index] for row in rows], dtype=np.float64)
        missing = np.isnan(x)
        if missing.any():
            x[missing] = np.broadcast_to(self.fill, x.shape)[missing]
        if self.mean is not None:
            x -= self.mean
        if self.scale is not None:
            x /= self.scale
        return x


@dataclass(frozen=True)
class OneHotBlock:
    """Imputed, one-hot encoded categorical columns; unknown values give all zeros."""

    index: list[int]
    fill: list[Any]
    categories: list[dict[Any, int]]
    width: int

    def apply(self, rows: list[Row]) -> np.ndarray:
        out = np.zeros((len(rows), self.width), dtype=np.float64)
        offset = 0
        for j, i in enumerate(self.index):
            positions = self.categories[j]
            for r, row in enumerate(rows):
                value = self.fill[j] if row[i] is None else row[i]
                hit = positions.get(value)
                if hit is not None:
                    out[r, offset + hit] = 1.0
            offset += len(positions)
        return out


@dataclass(frozen=True)
class CodesBlock:
    """Imputed categorical columns as codes (OrdinalEncoder); unknown values give NaN."""

    index: list[int]
    fill: list[Any]
    categories: list[dict[Any, int]]

    def apply(self, rows: list[Row]) -> np.ndarray:
        out = np.full((len(rows), len(self.index)), np.nan, dtype=np.float64)
        for j, i in enumerate(self.index):
            positions = self.categories[j]
            for r, row in enumerate(rows):
                hit = positions.get(self.fill[j] if row[i] is None else row[i])
                if hit is not None:
                    out[r, j] = hit
        return out


Block = NumericBlock | OneHotBlock | CodesBlock


def _imputer_fill(imputer: Any) -> np.ndarray | None:
    ok = (
        isinstance(imputer, SimpleImputer)
        and not imputer.add_indicator
        and pd.isna(imputer.missing_values)
    )
    return np.asarray(imputer.statistics_) if ok else None


def _numeric_block(steps: list[Any], index: list[int]) -> NumericBlock | None:
    fill = _imputer_fill(steps[0])
    if fill is None or np.isnan(fill.astype(np.float64)).any() or len(steps) > 2:
        return None
    mean = scale = None
    if len(steps) == 2:
        scaler = steps[1]
        if not isinstance(scaler, StandardScaler):
            return None
        mean = scaler.mean_ if scaler.with_mean else None
        scale = scaler.scale_ if scaler.with_std else None
    return NumericBlock(index, fill.astype(np.float64), mean, scale)


def _imputed_encoder(steps: list[Any], kind: type) -> tuple[list[Any], Any] | None:
    """The fill values and the encoder of an (imputer, encoder of ``kind``) part whose
    imputer fills every missing value; None for any other part."""
    fill = _imputer_fill(steps[0])
    if fill is None or len(steps) != 2 or not isinstance(steps[1], kind):
        return None
    if any(pd.isna(v) for v in fill):
        return None
    return list(fill), steps[1]


def _positions(encoder: Any) -> list[dict[Any, int]]:
    """Each column's fitted categories -> their position (plain Python values as keys)."""
    return [
        {c.item() if isinstance(c, np.generic) else c: k for k, c in enumerate(cs)}
        for cs in encoder.categories_
    ]


def _onehot_block(steps: list[Any], index: list[int]) -> OneHotBlock | None:
    found = _imputed_encoder(steps, OneHotEncoder)
    if found is None:
        return None
    fill, enc = found
    infrequent = getattr(enc, "_infrequent_enabled", False)
    if enc.drop is not None or enc.handle_unknown != "ignore" or infrequent:
        return None
    cats = _positions(enc)
    return OneHotBlock(index, fill, cats, sum(len(c) for c in cats))


def _codes_block(steps: list[Any], index: list[int]) -> CodesBlock | None:
    found = _imputed_encoder(steps, OrdinalEncoder)
    if found is None:
        return None
    fill, enc = found
    unknown_missing = enc.handle_unknown == "use_encoded_value" and pd.isna(enc.unknown_value)
    if not unknown_missing or getattr(enc, "_infrequent_enabled", False):
        return None
    return CodesBlock(index, fill, _positions(enc))


def compile_blocks(pre: Any, specs: list[ColumnSpec]) -> list[Block] | None:
    """The fitted preprocessing as numpy blocks, or None when it is of another kind."""
    if not isinstance(pre, ColumnTransformer):
        return None
    position = {s.name: i for i, s in enumerate(specs)}
    blocks: list[Block] = []
    for _name, trans, cols in pre.transformers_:
        if isinstance(trans, str) and trans == "drop":
            continue
        if not isinstance(trans, Pipeline) or any(c not in position for c in cols):
            return None
        steps, index = [s for _, s in trans.steps], [position[c] for c in cols]
        if isinstance(steps[-1], OneHotEncoder):
            block: Block | None = _onehot_block(steps, index)
        elif isinstance(steps[-1], OrdinalEncoder):
            block = _codes_block(steps, index)
        elif {specs[i].kind for i in index} == {NUMBER}:
            block = _numeric_block(steps, index)
        else:
            block = None
        if block is None:
            return None
        blocks.append(block)
    return blocks or None


def _plain_labels(values: np.ndarray) -> list[Any]:
    return [v.item() if isinstance(v, np.generic) else v for v in values]


class Predictor:
    """The served model as a function of plain rows (tuples in the columns' order)."""

    def __init__(self, model: Any, specs: list[ColumnSpec]):
        self.model = model
        self.specs = specs
        self.task = _task_of(model)
        classes = model.classes_ if self.task == CLASSIFICATION else []
        self.classes: list[Any] = _plain_labels(np.asarray(classes))
        self.estimator = _unnamed(model[-1] if isinstance(model, Pipeline) else model)
        self.inputs = _input_of(self.estimator)
        pre = model[:-1] if isinstance(model, Pipeline) and len(model) == 2 else None
        self.blocks = compile_blocks(model[0], specs) if pre is not None else None
        self.fast_label = isinstance(self.estimator, ARGMAX_PREDICT)
        self.forest = compile_forest(self.estimator) if self.blocks is not None else None

    @property
    def fast(self) -> bool:
        """True when requests skip the DataFrame (the start-up check passed)."""
        return self.blocks is not None

    def reference(self, rows: list[Row]) -> tuple[list[Any], np.ndarray]:
        """What the saved model answers for these rows, through a DataFrame."""
        frame = frame_from_rows(rows, self.specs)
        if self.task == REGRESSION:
            return _plain_labels(self.model.predict(frame)), np.empty((len(rows), 0))
        return _plain_labels(self.model.predict(frame)), self.model.predict_proba(frame)

    def predict(self, rows: list[Row]) -> tuple[list[Any], np.ndarray]:
        """Labels and class probabilities (one row per input row, classes in model order).

        A regressor answers its predicted values, and probabilities of no class.
        """
        if self.blocks is None:
            return self.reference(rows)
        parts = [block.apply(rows) for block in self.blocks]
        x = parts[0] if len(parts) == 1 else np.hstack(parts)
        walk = self.forest is not None and len(rows) <= FOREST_MAX_ROWS
        if self.task == REGRESSION:
            values = self.forest.predict(x) if walk else self.estimator.predict(self.inputs(x))  # type: ignore[union-attr]
            return _plain_labels(values), np.empty((len(rows), 0))
        if walk:
            proba = self.forest.predict_proba(x)
        else:
            proba = self.estimator.predict_proba(self.inputs(x))
        if self.fast_label:
            labels = np.asarray(self.estimator.classes_).take(np.argmax(proba, axis=1))
        else:
            labels = self.estimator.predict(self.inputs(x))
        return _plain_labels(labels), proba

    def self_check(self, sample: pd.DataFrame) -> bool:
        """Score ``sample`` every way; keep only the ways whose answers are all identical."""
        if self.blocks is None:
            return False
        rows = check_rows(sample.head(SELF_CHECK_ROWS), self.specs)
        expected = self.reference(rows)
        if self.forest is not None and not self._agrees(rows, expected, FOREST_MAX_ROWS):
            say("serving: trees walked by scikit-learn (the numpy tree walk differs)")
            self.forest = None
        if not self._agrees(rows, expected, len(rows)):
            say("serving: rows go through the pipeline on a DataFrame (fast path differs)")
            self.blocks = self.forest = None
            return False
        return True

    def _agrees(self, rows: list[Row], expected: tuple[list[Any], np.ndarray], size: int) -> bool:
        """Do batches of ``size`` rows get exactly the ``expected`` labels and probabilities?"""
        try:
            parts = [self.predict(rows[i : i + size]) for i in range(0, len(rows), size)]
        except Exception:  # any failure means: not the model's answers
            return False
        labels = [label for part in parts for label in part[0]]
        proba = np.vstack([part[1] for part in parts])
        return labels == expected[0] and np.array_equal(proba, expected[1])


def _task_of(model: Any) -> str:
    """classification (labels and probabilities) or regression (numbers); else refused."""
    if hasattr(model, "predict_proba") and hasattr(model, "classes_"):
        return CLASSIFICATION
    if is_regressor(model[-1] if isinstance(model, Pipeline) else model):
        return REGRESSION
    raise ServeError(
        f"{type(model).__name__} has no predict_proba and is no regressor: only "
        "classifiers with class probabilities and regressors are served"
    )


def check_rows(sample: pd.DataFrame, specs: list[ColumnSpec]) -> list[Row]:
    """Rows for the start-up check: real rows, each column missing in turn, an unseen category."""
    base = [
        tuple(None if pd.isna(v) else v for v in (_cell(sample, r, s) for s in specs))
        for r in range(len(sample))
    ]
    rows = list(base)
    for k in range(len(specs)):
        for r, row in enumerate(base[: 2 * len(specs)]):
            if r % len(specs) == k or r < 2:
                rows.append(row[:k] + (None,) + row[k + 1 :])
    for k, spec in enumerate(specs):
        if spec.kind not in (NUMBER, BOOLEAN) and base:
            rows.append(base[0][:k] + ("\x00never seen",) + base[0][k + 1 :])
    rows.append(tuple(None for _ in specs))
    return rows


def _cell(sample: pd.DataFrame, r: int, spec: ColumnSpec) -> Any:
    if spec.name not in sample.columns:
        return None
    value = sample[spec.name].iloc[r]
    return value.item() if isinstance(value, np.generic) else value


def _unnamed(estimator: Any) -> Any:
    """A shallow copy without ``feature_names_in_``: it gets a matrix of the same columns,
    and would otherwise warn on every call that the matrix has no column names.

    Not for a HistGradientBoosting model with categorical inputs: it encodes them
    with its own fitted ColumnTransformer, which expects the names too
    (:func:`_input_of`)."""
    if getattr(estimator, "_preprocessor", None) is not None:
        return estimator
    unnamed = copy.copy(estimator)
    if "feature_names_in_" in vars(unnamed):
        del unnamed.feature_names_in_
    return unnamed


def _input_of(estimator: Any) -> Callable[[np.ndarray], Any]:
    """What the estimator is called with for a matrix of its inputs: the matrix, or the
    DataFrame it was fitted on (its column names, without a copy)."""
    names = getattr(estimator, "feature_names_in_", None)
    if names is None:
        return lambda x: x
    return lambda x: pd.DataFrame(x, columns=names, copy=False)
