"""Small scikit-learn transformers of the preprocessing: dates to numbers, booleans to 0/1.

They sit inside the saved model, so it still takes the raw columns (a date as
text, "yes"/"no"). The model file is written with skops, which rebuilds them
from their attributes without pickle once their type names are trusted
(:data:`nbml.steps.model.TRUSTED_TYPES`); their fitted state is therefore
only plain strings, numbers and lists, never ``pandas.Timestamp`` objects
(which skops refuses to load).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin

from nbml.steps.kinds import FALSE_WORDS, TRUE_WORDS, parse_dates

DATE_PARTS = ("year", "month", "day", "weekday", "dayofyear")
TIME_PARTS = ("hour", "minute")
# sin/cos pairs of the cyclic parts (date_cycles): December sits next to January.
CYCLES = {"month": 12, "weekday": 7, "dayofyear": 366, "time": 24}
# pandas' accessor of each part
_ACCESSORS = {"weekday": "day_of_week", "dayofyear": "day_of_year"}


def _frame(X: Any) -> pd.DataFrame:
    return X if isinstance(X, pd.DataFrame) else pd.DataFrame(X)


class DateParts(TransformerMixin, BaseEstimator):
    """Each date column as numbers: year, month, day, weekday (Monday 0), day of year,
    and hour and minute when the training values have times of day.

    ``formats`` holds one strptime format per column ("" for datetime values or
    ISO 8601 text); ``cycles`` replaces month, weekday, day of year and time of
    day by their sine and cosine. Missing or unreadable dates give NaN parts.
    """

    def __init__(self, formats: list[str] | None = None, cycles: bool = False):
        self.formats = formats
        self.cycles = cycles

    def _format(self, j: int) -> str:
        return (self.formats or [])[j] if j < len(self.formats or []) else ""

    def fit(self, X: Any, y: Any = None) -> DateParts:
        X = _frame(X)
        self.feature_names_in_ = np.asarray([str(c) for c in X.columns], dtype=object)
        self.n_features_in_ = X.shape[1]
        self.with_time_ = []
        for j in range(X.shape[1]):
            parsed = parse_dates(X.iloc[:, j], self._format(j)).dropna()
            has_time = bool(((parsed.dt.hour != 0) | (parsed.dt.minute != 0)).any())
            self.with_time_.append(has_time)
        return self

    def parts(self, j: int) -> list[str]:
        """The names of the numbers made from column ``j``, in output order."""
        with_time = self.with_time_[j]
        if not self.cycles:
            return list(DATE_PARTS + (TIME_PARTS if with_time else ()))
        cyclic = ["month", "weekday", "dayofyear"] + (["time"] if with_time else [])
        return ["year", "day"] + [f"{p}_{f}" for p in cyclic for f in ("sin", "cos")]

    def _numbers(self, when: pd.Series, part: str) -> np.ndarray:
        name, _, fn = part.partition("_")
        if name == "time":
            value = when.dt.hour + when.dt.minute / 60
        else:
            value = getattr(when.dt, _ACCESSORS.get(name, name))
        value = value.astype("float64").to_numpy(na_value=np.nan)
        if not fn:
            return value
        angle = 2 * np.pi * value / CYCLES[name]
        return np.sin(angle) if fn == "sin" else np.cos(angle)

    def transform(self, X: Any) -> np.ndarray:
        X = _frame(X)
        columns = []
        for j in range(X.shape[1]):
            when = parse_dates(X.iloc[:, j], self._format(j))
            columns += [self._numbers(when, part) for part in self.parts(j)]
        return np.column_stack(columns) if columns else np.empty((len(X), 0))

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        columns = enumerate(self.feature_names_in_)
        names = [f"{col}_{part}" for j, col in columns for part in self.parts(j)]
        return np.asarray(names, dtype=object)


def boolean_numbers(values: pd.Series) -> np.ndarray:
    """1.0 for True/yes/1, 0.0 for False/no/0 (any case), NaN for anything else."""
    words = pd.Series(values).astype("string").str.strip().str.lower()
    ones, zeros = words.isin(TRUE_WORDS).to_numpy(bool), words.isin(FALSE_WORDS).to_numpy(bool)
    return np.where(ones, 1.0, np.where(zeros, 0.0, np.nan))


class BooleanValues(TransformerMixin, BaseEstimator):
    """Each True/False, yes/no or 0/1 column as one number, 1 for true; other values NaN."""

    def fit(self, X: Any, y: Any = None) -> BooleanValues:
        X = _frame(X)
        self.feature_names_in_ = np.asarray([str(c) for c in X.columns], dtype=object)
        self.n_features_in_ = X.shape[1]
        return self

    def transform(self, X: Any) -> np.ndarray:
        X = _frame(X)
        columns = [boolean_numbers(X.iloc[:, j]) for j in range(X.shape[1])]
        return np.column_stack(columns) if columns else np.empty((len(X), 0))

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        return np.asarray(list(self.feature_names_in_), dtype=object)
