"""What a raw column holds, judged on the training split: dates, booleans, identifiers, free text.

Each detector looks at one column and returns what it found (or raises a
:class:`FeatureError` naming the column when it cannot decide safely, as for
dates whose day/month order is ambiguous); :func:`nbml.steps.feature_types.infer_feature_types`
applies them in order and records the kind and why.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from pandas.api import types as ptypes

from nbml.errors import FeatureError
from nbml.messages import shorten, warn
from nbml.steps.compute import is_dask

# Here, not beside the transformers that use them: explore judges columns without
# importing scikit-learn (about 2 s of every kernel's start).
# A format of "" means: datetime values, or text in ISO 8601 (2024-01-31, 2024-01-31T08:30).
ISO_FORMAT = "ISO8601"
TRUE_WORDS = frozenset({"true", "yes", "y", "t", "1", "1.0"})
FALSE_WORDS = frozenset({"false", "no", "n", "f", "0", "0.0"})
# A text column with this share of distinct values carries no pattern a model
# can learn from (names, ids): it is dropped, and said so.
ID_LIKE_UNIQUE_SHARE = 0.9
ID_LIKE_MIN_UNIQUE = 20
# Integer keys: nearly unique, and numbered densely (1..N; the split holds a share
# of the rows, so their range spans up to this many times the rows seen).
KEY_RANGE_PER_ROW = 3
# Free text: many distinct values, most with spaces, long on average.
TEXT_MIN_UNIQUE_SHARE = 0.5
TEXT_MIN_CHARS = 30
TEXT_SPACE_SHARE = 0.8
TEXT_SAMPLE = 1000
# A text column is dates when this share of a sample of its distinct values parses.
DATE_LIKE_SHARE = 0.9
DATE_SAMPLE = 200
# Distinct values re-checked when the sample cannot tell day/month from month/day.
DATE_FULL_CHECK = 100_000
_TIMES = ("", " %H:%M", " %H:%M:%S")
# (day first, month first) pairs: both parsing means the order is ambiguous.
_ORDERED = [(f"%d{s}%m{s}{y}", f"%m{s}%d{s}{y}") for s in "/-." for y in ("%Y", "%y")]
_UNORDERED = ["%Y/%m/%d", "%d %b %Y", "%d %B %Y", "%b %d, %Y", "%B %d, %Y", "%b %d %Y"]


def parse_dates(values: pd.Series, fmt: str = "") -> pd.Series:
    """Datetimes from datetime values (their wall-clock time) or text in ``fmt`` (offsets
    converted to UTC); what does not parse is NaT."""
    if ptypes.is_datetime64_any_dtype(values):
        when = pd.Series(values)
        return when.dt.tz_localize(None) if when.dt.tz is not None else when
    text = pd.Series(values).astype("string").str.strip()
    return pd.to_datetime(text, format=fmt or ISO_FORMAT, errors="coerce", utc=True)


def _sample(values: pd.Series, size: int = DATE_SAMPLE) -> pd.Series:
    """The first ``size`` distinct non-missing values, as stripped text."""
    return pd.Series(pd.unique(values.dropna())[:size]).astype(str).str.strip()


def _share_parsed(sample: pd.Series, fmt: str) -> float:
    return float(parse_dates(sample, fmt).notna().mean()) if len(sample) else 0.0


def _could_be_dates(sample: pd.Series) -> bool:
    """Most values hold a digit and are not plain numbers (years and epochs are numbers)."""
    if sample.empty:
        return False
    numbers = pd.to_numeric(sample, errors="coerce").notna()
    return bool(sample.str.contains(r"\d").mean() >= DATE_LIKE_SHARE and not numbers.any())


def date_format(values: pd.Series, column: str) -> str | None:
    """The format text dates are written in (ISO 8601 or a strptime format), or None.

    Raises FeatureError when the values read as day/month and as month/day alike.
    """
    sample = _sample(values)
    if not _could_be_dates(sample):
        return None
    if _share_parsed(sample, ISO_FORMAT) >= DATE_LIKE_SHARE:
        return ISO_FORMAT
    for time in _TIMES:
        for day_first, month_first in _ORDERED:
            pair = [day_first + time, month_first + time]
            fits = [f for f in pair if _share_parsed(sample, f) >= DATE_LIKE_SHARE]
            if len(fits) == 2:
                fits = _day_month_order(values, column, pair)
            if fits:
                return fits[0]
        for fmt in _UNORDERED:
            if _share_parsed(sample, fmt + time) >= DATE_LIKE_SHARE:
                return fmt + time
    several = _several_formats(sample)
    if several:
        shown = ", ".join(f"'{fmt}' ({share:.0%})" for fmt, share in several)
        warn(
            f"column '{column}': its values read as dates only in several formats ({shown} "
            "of a sample), so it is used as text, not as a date; write the dates in one "
            "format, or list the column in params.yaml data.drop"
        )
    return None


def _several_formats(sample: pd.Series) -> list[tuple[str, float]]:
    """The formats that together read the sample as dates when no one of them does, each
    with the share of the sample it reads first, most first; [] when they do not."""
    formats = [ISO_FORMAT] + [
        f + time for time in _TIMES for pair in _ORDERED for f in (*pair, *_UNORDERED)
    ]
    unread = pd.Series(True, index=sample.index)
    found: list[tuple[str, float]] = []
    while unread.mean() > 1 - DATE_LIKE_SHARE:
        reads = {f: parse_dates(sample[unread], f).notna() for f in dict.fromkeys(formats)}
        best = max(reads, key=lambda f: int(reads[f].sum()))
        if not reads[best].any():
            return []
        found.append((best, float(reads[best].sum()) / len(sample)))
        unread[reads[best][reads[best]].index] = False
    return found if len(found) > 1 else []


def _day_month_order(values: pd.Series, column: str, pair: list[str]) -> list[str]:
    """Both orders read the sample: the one that reads more distinct values, else refuse."""
    every = _sample(values, DATE_FULL_CHECK)
    day_first, month_first = (_share_parsed(every, f) for f in pair)
    if day_first == month_first:  # every day is 12 or less: either order fits
        raise FeatureError(ambiguous_dates(column, every.iloc[0], pair))
    return [pair[0] if day_first > month_first else pair[1]]


def ambiguous_dates(column: str, example: str, formats: list[str]) -> str:
    day_first, month_first = formats
    return (
        f"column '{column}': day/month or month/day? '{example}' reads both ways (no day "
        f"over 12). Set params.yaml data.dates: {{{column}: '{day_first}'}} or "
        f"{{{column}: '{month_first}'}}"
    )


def check_date_format(values: pd.Series, column: str, fmt: str) -> None:
    """A format from data.dates must read the column's values (FeatureError if not)."""
    sample = _sample(values)
    if ptypes.is_datetime64_any_dtype(values) or sample.empty:
        return
    parsed = parse_dates(sample, "" if fmt == "auto" else fmt)
    if parsed.notna().mean() < DATE_LIKE_SHARE and fmt == "auto":
        raise FeatureError(
            f"params.yaml data.dates.{column}: auto found no date format that reads the "
            f"column's values ({shorten(sample, limit=3, show=repr)}); give the strptime format"
        )
    if parsed.notna().mean() < DATE_LIKE_SHARE:
        bad = shorten(sample[parsed.isna()], noun="values", limit=3, show=repr)
        raise FeatureError(
            f"params.yaml data.dates.{column}: format '{fmt}' does not read the column's "
            f"values ({bad}); give the strptime format they are written in, e.g. '%d/%m/%Y'"
        )


def is_boolean(values: pd.Series) -> bool:
    """Two distinct values that read as true and false: True/False, yes/no, 0/1, y/n."""
    if ptypes.is_bool_dtype(values):
        return True
    present = pd.unique(values.dropna())
    if len(present) != 2:
        return False
    words = {str(v).strip().lower() for v in present}
    return len(words & TRUE_WORDS) == 1 and len(words & FALSE_WORDS) == 1


def identifier_reason(values: pd.Series) -> str:
    """Why a text or integer column looks like an identifier; '' when it does not."""
    numeric = ptypes.is_numeric_dtype(values)
    if numeric and not ptypes.is_integer_dtype(values):
        return ""
    present = values.dropna()
    distinct = present.nunique()
    if numeric:
        monotonic = present.is_monotonic_increasing or present.is_monotonic_decreasing
        return key_reason(len(present), distinct, present.min(), present.max(), monotonic)
    share = distinct / max(len(present), 1)
    if distinct < ID_LIKE_MIN_UNIQUE or share < ID_LIKE_UNIQUE_SHARE:
        return ""
    return f"identifier: {share:.0%} of {len(present)} values distinct"


def key_reason(present: int, distinct: int, low: int, high: int, monotonic: bool = False) -> str:
    """Why integers (``present`` values, ``distinct`` of them, ``low``..``high``) look like
    row numbers: nearly unique and numbered densely or in order; '' when they do not."""
    share = distinct / max(present, 1)
    if distinct < ID_LIKE_MIN_UNIQUE or share < ID_LIKE_UNIQUE_SHARE:
        return ""
    span = float(high) - float(low) + 1
    if monotonic or span <= KEY_RANGE_PER_ROW * present:
        return f"integer key: {share:.0%} distinct, numbered {low}..{high}"
    return ""


def source_keys(df: pd.DataFrame, target: str) -> dict[str, str]:
    """Integer columns that number the rows, judged on every row of the source: column -> why.

    prepare records them before ``prepare.sample`` and the split, because on a
    sample the rule cannot see them: keys 1..N of a 10% sample span ten times
    the rows seen, and read as a number to learn from. A Dask frame's columns
    are counted on the cluster (the stages there see a sample too).
    """
    if is_dask(df):
        # lazy: Dask is imported only when compute.scheduler names a cluster
        from nbml.steps import cluster

        return cluster.source_keys(df, target)
    found: dict[str, str] = {}
    for col in integer_columns(df, target):
        if reason := identifier_reason(df[col]):
            found[str(col)] = f"{reason}, on all {len(df):,} rows of the source"
    return found


def integer_columns(df: pd.DataFrame, target: str) -> list[str]:
    """The columns other than the target that hold integers (booleans are not)."""
    return [
        c
        for c, dtype in df.dtypes.items()
        if c != target and ptypes.is_integer_dtype(dtype) and not ptypes.is_bool_dtype(dtype)
    ]


def write_keys(keys: dict[str, str], path: Path) -> Path:
    """Record :func:`source_keys` for explore and featurize (stable JSON)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(keys, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return path


def read_keys(path: Path) -> dict[str, str]:
    """The integer keys prepare found in the source; none when it recorded none."""
    if not Path(path).is_file():
        return {}
    return {str(k): str(v) for k, v in json.loads(Path(path).read_text(encoding="utf-8")).items()}


def free_text_reason(values: pd.Series) -> str:
    """Why a text column looks like free text (many distinct, long, with spaces); or ''."""
    present = values.dropna()
    distinct = present.nunique()
    if distinct < ID_LIKE_MIN_UNIQUE:
        return ""
    share = distinct / len(present)
    text = _sample(present, TEXT_SAMPLE)  # lengths from distinct values: cheap on big tables
    chars = float(text.str.len().mean())
    spaced = float(text.str.contains(" ").mean())
    if share >= TEXT_MIN_UNIQUE_SHARE and chars >= TEXT_MIN_CHARS and spaced >= TEXT_SPACE_SHARE:
        return f"free text: {share:.0%} distinct, {chars:.0f} characters on average"
    return ""
