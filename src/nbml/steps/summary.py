"""Metrics for people: which way is better, what each one means, numbers to read.

Shared by the evaluate stage (the model card), the report stage (the summary
at the top of the index), the live status of ``reports/status.js``, the
comparison page and the pull-request report: METRIC_INFO is the one place that
says which way each metric is better. Plain
Python, no data libraries: what it says about a metric is the same everywhere.
It also names the columns a model uses (:func:`columns_used`), for the card and
the index alike.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

# name -> (higher is better, one line in plain words); each task's metrics in the order
# people read them (the first is the headline when evaluate.metrics is auto)
METRIC_INFO: dict[str, tuple[bool, str]] = {
    "accuracy": (True, "share of test rows whose class is predicted right"),
    "balanced_accuracy": (
        True,
        "accuracy averaged over the classes, so a small class counts as much as a big one",
    ),
    "f1_macro": (
        True,
        "per class, the balance of precision and recall (F1), averaged over the classes",
    ),
    "roc_auc_ovr": (
        True,
        "chance that a row of a class gets a higher score for it than a row of another "
        "class (1: always, 0.5: a coin toss)",
    ),
    "log_loss": (
        False,
        "how little probability the model gave the right class, on average (0 is perfect)",
    ),
    "precision": (True, "of the rows predicted as this class, the share that are"),
    "recall": (True, "of the rows of this class, the share predicted as it"),
    "f1": (True, "the balance of precision and recall (their harmonic mean)"),
    "support": (True, "test rows of this class"),
    "r2": (
        True,
        "share of the target's variance the model explains (1: all, 0: no better than the mean)",
    ),
    "rmse": (
        False,
        "typical size of an error, in the target's unit (root mean squared error; "
        "large errors weigh more)",
    ),
    "mae": (False, "average size of an error, in the target's unit (mean absolute error)"),
    "mse": (False, "mean squared error, in the target's unit squared"),
    "median_absolute_error": (
        False,
        "the middle error size: half the test rows are predicted closer than this",
    ),
}
SIGNIFICANT = 3
MAX_SIGNIFICANT = 12

# The feature kinds of data/features/feature_types.json a model takes as input, in the
# order the card and the index name them, with the words they are named by.
USED_KINDS = (
    ("numeric", "numeric"),
    ("categorical", "categorical"),
    ("boolean", "boolean"),
    ("dates", "date"),
)


def columns_by_kind(feature_types: Mapping[str, object]) -> dict[str, list[str]]:
    """The columns a model uses, by kind ('numeric', 'categorical', 'boolean', 'date').

    ``feature_types`` is featurize's record (data/features/feature_types.json):
    lists of names for numbers, categories and booleans, and a mapping of date
    columns to their format. Every column the model takes is in one of them.
    """
    return {
        word: [str(name) for name in (feature_types.get(key) or [])] for key, word in USED_KINDS
    }


def columns_used(feature_types: Mapping[str, object]) -> list[str]:
    """Every column a model uses: numbers, categories, booleans, then dates."""
    return [name for names in columns_by_kind(feature_types).values() for name in names]


def higher_is_better(name: str) -> bool:
    """True unless the metric is an error or a loss (log_loss, rmse, mae go down)."""
    return METRIC_INFO.get(name, (True, ""))[0]


def not_beaten(scores: Mapping[str, float], baseline: Mapping[str, float | None]) -> list[str]:
    """The metrics on which the model does no better than the baseline (ties included)."""
    found = []
    for name, value in scores.items():
        base = baseline.get(name)
        if base is None or value is None or math.isnan(value) or math.isnan(base):
            continue
        if not (value > base if higher_is_better(name) else value < base):
            found.append(name)
    return found


def _and(names: list[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def baseline_verdict(
    scores: Mapping[str, float], baseline: Mapping[str, float | None], guess: str
) -> str:
    """'' when the model beats the baseline on every metric, else a sentence saying where not.

    ``guess`` says what the baseline does ("always answering the training mean (3.5)").
    A model no better than a guess is the first thing a reader of the summary
    must see, whatever the headline number looks like.
    """
    names = not_beaten(scores, baseline)
    if not names:
        return ""
    return (
        f"The model does no better than {guess} on {_and(names)}: look in explore's report "
        "for a few extreme values or columns without signal, and at the train parameters."
    )


def reading_order(names: Iterable[str]) -> list[str]:
    """``names`` in METRIC_INFO's order (accuracy, ... or r2, rmse, ...), unknown ones last."""
    known = list(METRIC_INFO)
    return sorted(names, key=lambda n: (known.index(n) if n in known else len(known), n))


def definition(name: str) -> str:
    """One line in plain words for a metric ('' for one this project does not know)."""
    return METRIC_INFO.get(name, (True, ""))[1]


def _with_digits(value: float, digits: int) -> str:
    if value == 0 or not math.isfinite(value):
        return "0" if value == 0 else str(value)
    exponent = math.floor(math.log10(abs(value)))
    decimals = max(digits - 1 - exponent, 0)
    return f"{value:.{decimals}f}"


def fmt(value: float | int | None, others: Iterable[float | int | None] = ()) -> str:
    """Three significant digits, more when needed to tell ``value`` from each of ``others``.

    Whole numbers (counts) are shown whole; ``None`` is shown as a dash.
    """
    if value is None:
        return "–"
    if isinstance(value, bool) or (isinstance(value, int)):
        return str(int(value))
    value = float(value)
    rivals = [float(o) for o in others if o is not None and float(o) != value]
    digits = SIGNIFICANT
    while digits < MAX_SIGNIFICANT and any(
        _with_digits(value, digits) == _with_digits(o, digits) for o in rivals
    ):
        digits += 1
    return _with_digits(value, digits)


def fmt_all(values: list[float | int | None]) -> list[str]:
    """Each value formatted so that no two different values look the same."""
    return [fmt(v, values) for v in values]


@dataclass(frozen=True)
class Change:
    """One tracked metric now and at an older revision, read for a person."""

    name: str
    new: float | None
    old: float | None

    @property
    def delta(self) -> float | None:
        if self.new is None or self.old is None:
            return None
        return self.new - self.old

    @property
    def verdict(self) -> str:
        """'better', 'worse', 'same', 'new' (no old value) or 'gone' (no new value)."""
        if self.old is None:
            return "new"
        if self.new is None:
            return "gone"
        if self.new == self.old:
            return "same"
        return "better" if (self.new > self.old) == higher_is_better(self.name) else "worse"

    @property
    def mark(self) -> str:
        """An arrow for the number's direction, and whether that is good: '▲ better'."""
        if self.verdict in ("new", "gone", "same"):
            return {"new": "new", "gone": "gone", "same": "= same"}[self.verdict]
        arrow = "▲" if self.new > self.old else "▼"  # type: ignore[operator]
        return f"{arrow} {self.verdict}"

    def change_text(self) -> str:
        """'+0.0116 ▲ better', '= same', 'new' or 'gone'."""
        if self.delta is None or self.verdict == "same":
            return self.mark
        return f"{self.delta:+.3g} {self.mark}"

    def text(self) -> str:
        """'0.988 (+0.0116 ▲ better)': the value, its change and the mark."""
        return f"{fmt(self.new, [self.old])} ({self.change_text()})"


def changes(new: Mapping[str, float], old: Mapping[str, float] | None) -> list[Change]:
    """Every metric of ``new`` (then any only in ``old``) against ``old`` (None: not there)."""
    old = dict(old or {})
    names = list(new) + [n for n in old if n not in new]
    return [Change(n, _number(new.get(n)), _number(old.get(n))) for n in names]


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def from_dvc_diff(
    diff: Mapping[str, Mapping[str, Mapping[str, object]]], file: str
) -> list[Change]:
    """Changes from ``dvc metrics diff --json --all`` output, for one metrics file.

    DVC gives ``{file: {metric: {"old": .., "new": .., "diff": ..}}}``; a metric
    absent on one side has no ``old`` or no ``new``.
    """
    entries = diff.get(file) or {}
    return [
        Change(name, _number(values.get("new")), _number(values.get("old")))
        for name, values in entries.items()
    ]
