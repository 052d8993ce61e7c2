"""Load the source dataset, check it is fit for training, split it.

The source is either a bundled dataset (by name) or a CSV/Parquet file under
the raw folder (dvc.yaml ``vars.paths.raw``), which prepare declares as a
dependency: a file anywhere else would be an input DVC does not track.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from palmerpenguins import load_penguins
from pandas.api import types as ptypes

from nbml.errors import DataError
from nbml.messages import progress, shorten, warn
from nbml.project import paths
from nbml.steps.compute import CLIENT_ROWS, active, is_dask, small
from nbml.steps.resources import (
    CSV_READ_FACTOR,
    PARQUET_READ_FACTOR,
    PREPARE_FACTOR,
    SPLIT_ROW_BYTES,
    MemoryEstimate,
    check_memory,
)
from nbml.steps.task import (
    CLASSIFICATION,
    REGRESSION,
    TaskDecision,
    detect_task,
    quantile_strata,
)


def _sklearn(name: str) -> Callable[[], pd.DataFrame]:
    def load() -> pd.DataFrame:
        # lazy: explore reads with this module and never imports scikit-learn (~2 s)
        from sklearn import datasets

        bunch = getattr(datasets, f"load_{name}")(as_frame=True)
        frame = bunch.frame.copy()
        # class names instead of 0/1/2, so reports and metrics read naturally
        frame["target"] = pd.Categorical.from_codes(bunch.target, bunch.target_names).astype(str)
        return frame

    return load


# Datasets that ship inside installed packages: no download, work offline.
BUNDLED: dict[str, Callable[[], pd.DataFrame]] = {
    "penguins": load_penguins,
    "iris": _sklearn("iris"),
    "wine": _sklearn("wine"),
    "breast_cancer": _sklearn("breast_cancer"),
}


CSV_SUFFIXES = (".csv", ".tsv", ".txt")
PARQUET_SUFFIXES = (".parquet", ".pq")
AUTO = "auto"
CSV_OPTIONS = ("delimiter", "encoding", "decimal")
# data.csv.encoding auto: a byte-order mark, else utf-8 if the sample decodes
# as such (plain ASCII does), else charset-normalizer's guess from the sample's
# lines that hold non-ASCII bytes (ASCII lines read the same in every candidate).
ENCODING_SAMPLE_BYTES = 1024 * 1024  # read from head, middle and tail of the file
_SAMPLE_CHUNKS = 16
EVIDENCE_BYTES = 64 * 1024  # of non-ASCII lines handed to charset-normalizer
# When candidates fit the text equally well, the commonest Windows encoding of
# Western files wins; charset-normalizer often names cp1250 for it.
PREFERRED_ENCODING = "cp1252"
# A guess is doubtful when its text holds this share of odd characters, or a
# rival decoding differently is this close in mess and in language coherence.
_DOUBTFUL_MESS = 0.1
_TIE_MESS = 0.01
_TIE_COHERENCE = 0.05
FALLBACK_ENCODING = "latin-1"  # decodes any byte: the last resort
DELIMITERS = ",;\t|"
_DELIMITER_NAMES = {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";", "pipe": "|"}
_COMMA_NUMBER = re.compile(r"^[+-]?\d+,\d+$")
_DOT_NUMBER = re.compile(r"^[+-]?\d+\.\d+$")
# A number as people write it: decimal comma and/or thousands separators
# ("39,1", "3.750,0", "1,234.5", "3 750"); pandas leaves such a column as text.
_WRITTEN_NUMBER = re.compile(r"^[+-]?(\d+|\d{1,3}([.,' \u00a0]\d{3})+)([.,]\d+)?$")
# Share of a text column's values that must look like numbers for a warning.
WRITTEN_NUMBER_SHARE = 0.9
SNIFF_BYTES = 64 * 1024
# The params.yaml entry errors about the source name, when the name itself is wrong.
SOURCE_PARAM = "params.yaml data.source"


@dataclass(frozen=True)
class CsvDialect:
    """How a CSV file is written: field delimiter, text encoding, decimal mark."""

    delimiter: str
    encoding: str
    decimal: str

    def describe(self) -> str:
        shown = "tab" if self.delimiter == "\t" else repr(self.delimiter)
        return f"delimiter {shown}, encoding {self.encoding}, decimal {self.decimal!r}"

    def read_options(self) -> dict[str, Any]:
        """read_csv's keywords for this dialect (pandas' and dask's, which takes the same)."""
        return {
            "sep": self.delimiter,
            "encoding": self.encoding,
            "decimal": self.decimal,
            # "a; b" is a common way to write "a;b": the spaces are not data
            "skipinitialspace": True,
        }


def is_file_source(source: str) -> bool:
    """True when data.source names a file rather than a bundled dataset."""
    if source in BUNDLED:
        return False
    return (
        "/" in source
        or "\\" in source
        or source.startswith("~")
        or source.lower().endswith(CSV_SUFFIXES + PARQUET_SUFFIXES)
    )


def source_label(source: str) -> str:
    """How messages about the loaded data name it: the params.yaml entry that chose it."""
    return f"data.source={source}"


def feature_columns(df: pd.DataFrame, target: str) -> list[str]:
    """Every column but the target: what the feature rules and the model may use."""
    return [c for c in df.columns if c != target]


def resolve_source_path(source: str, root: Path, raw_dir: str | Path) -> Path:
    """The absolute path of a file source, refusing anything outside the raw folder.

    The check is on the path as written (``..`` folded, symlinks not followed):
    DVC may link tracked files to its cache, and the file is still under raw.
    """
    raw = Path(os.path.normpath(root / raw_dir))
    path = Path(os.path.normpath(root / source))
    raw_rel = raw.relative_to(root).as_posix() if raw.is_relative_to(root) else str(raw)
    where = SOURCE_PARAM
    if not path.is_relative_to(raw) or path == raw:
        hint = ""
        if (raw / Path(source).name).is_file():
            hint = f" (did you mean {raw_rel}/{Path(source).name}?)"
        raise DataError(
            where,
            [
                f"'{source}' is not inside {raw_rel}/, the raw data folder that the prepare "
                f"stage declares as its dependency (dvc.yaml vars.paths.raw); move the file "
                f"there, track it with `dvc add`, and set data.source to its path relative "
                f"to the project root{hint}"
            ],
        )
    if not path.name.lower().endswith(CSV_SUFFIXES + PARQUET_SUFFIXES):
        kinds = ", ".join(CSV_SUFFIXES + PARQUET_SUFFIXES)
        raise DataError(where, [f"'{source}': unsupported file type (expected one of {kinds})"])
    if not path.is_file():
        raise DataError(
            where,
            [
                f"'{source}' does not exist; after a fresh clone run `dvc pull` "
                f"(or `dvc checkout`) to fetch files tracked with `dvc add`"
            ],
        )
    return path


def csv_options(options: Mapping[str, Any] | None) -> dict[str, str]:
    """Validate data.csv: each of delimiter, encoding, decimal is 'auto' or a value."""
    given = dict(options or {})
    where = "params.yaml data.csv"
    problems: list[str] = []
    unknown = sorted(set(given) - set(CSV_OPTIONS))
    if unknown:
        problems.append(f"unknown key(s) {', '.join(unknown)}; known: {', '.join(CSV_OPTIONS)}")
    out = {key: str(given.get(key) if given.get(key) is not None else AUTO) for key in CSV_OPTIONS}
    delim = _DELIMITER_NAMES.get(out["delimiter"].lower(), out["delimiter"])
    if delim != AUTO and len(delim) != 1:
        problems.append(f"delimiter {out['delimiter']!r} must be one character, 'tab' or 'auto'")
    out["delimiter"] = delim
    if out["encoding"] != AUTO:
        try:
            codecs.lookup(out["encoding"])
        except LookupError:
            problems.append(f"encoding {out['encoding']!r} is not a known text encoding")
    if out["decimal"] not in (AUTO, ".", ","):
        problems.append(f"decimal {out['decimal']!r} must be '.', ',' or 'auto'")
    if problems:
        raise DataError(where, problems)
    return out


@dataclass(frozen=True)
class EncodingGuess:
    """A detected text encoding and, when the evidence was thin, why it may be wrong."""

    encoding: str
    doubt: str | None = None


def _whole_lines(block: bytes, first: bool, last: bool) -> bytes:
    """A block cut to whole lines, so a multi-byte character is never split."""
    start = 0 if first else block.find(b"\n") + 1
    end = len(block) if last else block.rfind(b"\n") + 1
    return block[start:end] if end > start else b""


def encoding_sample(path: Path, limit: int = ENCODING_SAMPLE_BYTES) -> bytes:
    """At most ``limit`` bytes of whole lines, spread from the head to the tail of a file.

    A big file is never read whole to guess its encoding: evenly spaced
    chunks see both a header written by one program and rows appended later.
    """
    size = path.stat().st_size
    with open(path, "rb") as fh:
        if size <= limit:
            return fh.read()
        chunk = limit // _SAMPLE_CHUNKS
        parts = []
        for i in range(_SAMPLE_CHUNKS):
            fh.seek((size - chunk) * i // (_SAMPLE_CHUNKS - 1))
            parts.append(_whole_lines(fh.read(chunk), i == 0, i == _SAMPLE_CHUNKS - 1))
    return b"".join(parts)


def _evidence(lines: Iterable[bytes], limit: int = EVIDENCE_BYTES) -> bytes:
    """The lines holding non-ASCII bytes, up to ``limit`` bytes: all there is to tell apart."""
    found: list[bytes] = []
    size = 0
    for line in lines:
        if not line.isascii():
            found.append(line)
            size += len(line)
            if size >= limit:
                break
    return b"".join(found)


def detect_encoding(raw: bytes) -> EncodingGuess:
    """The encoding of a sample: BOM, else utf-8 if it decodes, else charset-normalizer's."""
    if raw.startswith(codecs.BOM_UTF8):
        return EncodingGuess("utf-8-sig")
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return EncodingGuess("utf-16")
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return guess_legacy_encoding(_evidence(raw.splitlines(keepends=True)))
    return EncodingGuess("utf-8")


def guess_legacy_encoding(evidence: bytes) -> EncodingGuess:
    """charset-normalizer's best encoding for text that is not utf-8, doubts included."""
    # lazy: only a CSV that is not utf-8 needs it (~40 ms to import in every stage)
    from charset_normalizer import from_bytes

    matches = from_bytes(evidence)
    best = matches.best()
    if best is None:
        return EncodingGuess(
            FALLBACK_ENCODING, "no text encoding decodes it cleanly (binary data, or mixed ones?)"
        )
    rivals = [
        m
        for m in matches
        if m.encoding not in best.could_be_from_charset
        and m.chaos <= best.chaos + _TIE_MESS
        and m.coherence >= best.coherence - _TIE_COHERENCE
    ]
    # each match stands for every encoding that decodes the evidence the same way
    preferred = [m for m in (best, *rivals) if PREFERRED_ENCODING in m.could_be_from_charset]
    chosen = preferred[0] if preferred else best
    name = codecs.lookup(PREFERRED_ENCODING if preferred else best.encoding).name
    others = sorted({codecs.lookup(m.encoding).name for m in (best, *rivals) if m is not chosen})
    if best.chaos >= _DOUBTFUL_MESS:
        return EncodingGuess(
            name, f"its text looks garbled in every encoding ({best.chaos:.0%} odd characters)"
        )
    if others:
        return EncodingGuess(name, f"{', '.join(others[:3])} would read it differently, as likely")
    return EncodingGuess(name)


def detect_delimiter(text: str) -> str:
    """The field delimiter of a CSV sample: csv.Sniffer, else the commonest candidate."""
    lines = [line for line in text.splitlines() if line.strip()][:50]
    sample = "\n".join(lines)
    try:
        return csv.Sniffer().sniff(sample, delimiters=DELIMITERS).delimiter
    except csv.Error:
        header = lines[0] if lines else ""
        counts = {d: header.count(d) for d in DELIMITERS}
        best = max(counts, key=lambda d: counts[d])
        return best if counts[best] else ","


def detect_decimal(text: str, delimiter: str) -> str:
    """',' when numbers in the sample are written like 3,14 more often than 3.14."""
    if delimiter == ",":
        # an unquoted decimal comma cannot appear in a comma-separated file
        return "."
    comma = dot = 0
    rows = csv.reader(text.splitlines()[1:200], delimiter=delimiter)
    for row in rows:
        for cell in row:
            cell = cell.strip()
            comma += bool(_COMMA_NUMBER.match(cell))
            dot += bool(_DOT_NUMBER.match(cell))
    return "," if comma > dot else "."


def _encoding(path: Path, given: str) -> EncodingGuess:
    """data.csv.encoding, or the one detected from a bounded sample; doubts are warned about."""
    if given != AUTO:
        return EncodingGuess(given)
    guess = detect_encoding(encoding_sample(path))
    if guess.doubt:
        warn(
            f"{path}: text encoding detected as {guess.encoding}, but {guess.doubt}; if names "
            "or values look wrong, set params.yaml data.csv.encoding (e.g. cp1252, cp1251, "
            "shift_jis)"
        )
    return guess


def _refuse_binary(path: Path, head: bytes, given: str) -> None:
    """NUL bytes belong only in UTF-16 text: declared in data.csv, or announced by a BOM.

    Checked before the encoding is guessed: some single-byte encoding decodes
    any bytes, so a binary file would otherwise "parse", and BOM-less UTF-16
    would be read as garbage; both must be said instead.
    """
    if b"\x00" not in head:
        return
    if given == AUTO:
        utf16 = head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))
    else:
        utf16 = codecs.lookup(given).name.startswith("utf-16")
    if not utf16:
        raise DataError(
            f"{path}",
            [
                "not a CSV text file: it holds NUL bytes (binary data, e.g. a spreadsheet "
                "renamed; UTF-16 text without a byte-order mark needs params.yaml "
                "data.csv.encoding, e.g. utf-16-le)"
            ],
        )


def sniff_csv(path: Path, options: Mapping[str, Any] | None = None) -> CsvDialect:
    """The dialect of a CSV file: values from data.csv, 'auto' ones detected."""
    opts = csv_options(options)
    with open(path, "rb") as fh:
        head = fh.read(SNIFF_BYTES)
    _refuse_binary(path, head, opts["encoding"])
    encoding = _encoding(path, opts["encoding"]).encoding
    # cut at the last full line, so a multi-byte character is never split
    text = head[: head.rfind(b"\n") + 1 or len(head)].decode(encoding, errors="replace")
    if encoding == "utf-8-sig":
        text = text.lstrip("\ufeff")
    delimiter = opts["delimiter"] if opts["delimiter"] != AUTO else detect_delimiter(text)
    decimal = opts["decimal"] if opts["decimal"] != AUTO else detect_decimal(text, delimiter)
    # In a comma-separated file a decimal comma can only stand inside quotes
    # ("39,1"), where pandas reads it, so ',' for both is allowed there.
    if decimal == delimiter and delimiter != ",":
        raise DataError(
            f"{path}",
            [f"data.csv: decimal mark and delimiter are both {delimiter!r}; set one of them"],
        )
    return CsvDialect(delimiter, encoding, decimal)


def _header_problems(path: Path, dialect: CsvDialect, df: pd.DataFrame) -> list[str]:
    """What is wrong with a CSV header that pandas would silently work around.

    pandas turns the first columns into an index when the header has fewer
    fields than the rows (a title line above it), and renames a repeated
    name 'x' to 'x.1'; both would feed the wrong columns to the model.
    """
    header = pd.read_csv(
        path,
        sep=dialect.delimiter,
        encoding=dialect.encoding,
        header=None,
        nrows=1,
        dtype=str,
        keep_default_na=False,
        skipinitialspace=True,
    )
    names = [str(name).strip() for name in header.iloc[0]] if len(header) else []
    n_rows = df.shape[1] + (0 if isinstance(df.index, pd.RangeIndex) else df.index.nlevels)
    if len(names) < n_rows:
        return [
            f"the first line has {len(names)} field(s) but the rows have {n_rows} (a title "
            "or comment line above the header?); the first line must hold the column names"
        ]
    problems = []
    for name in dict.fromkeys(names):
        positions = [i + 1 for i, other in enumerate(names) if other == name]
        if name and len(positions) > 1:
            shown = shorten(positions, "columns", 30)
            problems.append(
                f"column name '{name}' appears {len(positions)} times (columns {shown}); "
                "each column needs a unique name"
            )
    return problems


# The end of a CSV file looked at for a last line cut short (an interrupted copy).
TAIL_BYTES = 1 << 16


def _truncation_problems(path: Path, dialect: CsvDialect, df: pd.DataFrame) -> list[str]:
    """A last line that is cut short: no line break after it and fewer fields than the header.

    pandas fills a short row's missing fields with NaN, so a file cut in the middle
    of a row (a copy or download that stopped) would train on a half row, its last
    value cut too ('4' for '45.86'). A file whose last line is whole but has no line
    break, and a last line inside a quoted multi-line value, are not refused.
    """
    if codecs.lookup(dialect.encoding).name.startswith(("utf-16", "utf-32")):
        return []  # a byte offset may fall inside a character; no such file is cut here
    with open(path, "rb") as fh:
        size = fh.seek(0, os.SEEK_END)
        fh.seek(max(0, size - TAIL_BYTES))
        tail = fh.read()
    if not tail or tail.endswith((b"\n", b"\r")) or (b"\n" not in tail and size > TAIL_BYTES):
        return []
    last = tail.rsplit(b"\n", 1)[-1].decode(dialect.encoding, errors="replace")
    if last.count('"') % 2:
        return []  # the end of a quoted value that began on an earlier line
    fields = next(csv.reader([last], delimiter=dialect.delimiter, skipinitialspace=True), [])
    expected = df.shape[1] + (0 if isinstance(df.index, pd.RangeIndex) else df.index.nlevels)
    if len(fields) >= expected:
        return []
    return [
        f"the last line has {len(fields)} of the header's {expected} fields and the file ends "
        f"without a line break ({last[:40]!r}): it looks cut short (an interrupted copy, "
        "download or export); get the whole file again, or remove that line"
    ]


# Cells (rows x columns) read at a time: about 64 MB as floats, whatever the table's size.
READ_CHUNK_CELLS = 1 << 23
# Reading a big file says how far it got each time this many more cells were read
# (2 million rows of 24 columns: a few seconds). Counted in cells, not seconds, so
# the lines, which the executed notebook keeps, are the same on every run.
READ_PROGRESS_CELLS = 50_000_000


def parser_chunk_rows(columns: int) -> int:
    """The rows pandas' C parser converts at a time in a table this wide.

    Its heuristic (``TextReader``): the largest power of two below 2**20 /
    columns. Each such piece infers its own column types, which a whole read
    then reconciles; pieces that are multiples of it see the same rows.
    """
    heuristic = 2**20 // max(columns, 1)
    rows = 1
    while rows * 2 < heuristic:
        rows *= 2
    return rows


def read_chunk_rows(columns: int) -> int:
    """Rows read at a time: a multiple of the parser's own pieces, about READ_CHUNK_CELLS cells."""
    unit = parser_chunk_rows(columns)
    return max(unit, READ_CHUNK_CELLS // max(columns, 1) // unit * unit)


def _read_pieces(reader: Any, name: Path | io.BytesIO) -> pd.DataFrame:
    """Every row of a CSV reader, read a bounded piece at a time, then joined column by column.

    A whole ``read_csv`` of a big file holds the parsed pieces of every
    column and then copies them into the frame (and maps the file as well):
    5.6 GB for a 2.1 GB table of 10^7 rows. Here a piece's numbers are copied
    into the final arrays and the piece let go, so the peak is the table and
    one piece. The values and types are those of a whole read.
    """
    empty = reader.get_chunk(0)  # the column names; no row is read
    width = max(empty.shape[1], 1)
    rows = read_chunk_rows(width)
    pieces: list[pd.DataFrame] = []
    read = 0
    while True:
        try:
            pieces.append(reader.get_chunk(rows))
        except StopIteration:
            break
        before, read = read, read + len(pieces[-1])
        if read * width // READ_PROGRESS_CELLS > before * width // READ_PROGRESS_CELLS:
            progress(f"reading {Path(str(name)).name}: {read:,} rows so far")
    return _join_pieces(pieces) if pieces else empty


def _join_pieces(pieces: list[pd.DataFrame]) -> pd.DataFrame:
    """The pieces of a table as one frame, with the column types a whole read gives.

    The parser gives each column of a piece an array of its own, so once a
    column is joined its pieces are let go: the peak is the table and one
    column. The list is emptied.
    """
    if len(pieces) == 1:
        return pieces.pop()
    names = pieces[0].columns
    indexes = [piece.index for piece in pieces]
    if all(isinstance(index, pd.RangeIndex) for index in indexes):
        index: pd.Index = pd.RangeIndex(sum(len(piece) for piece in pieces))
    else:  # rows with one field more than the header: pandas made the first an index
        index = indexes[0].append(indexes[1:])
    parts = [[piece.iloc[:, i] for piece in pieces] for i in range(len(names))]
    pieces.clear()
    columns = []
    for i in range(len(names)):
        columns.append(_concatenated(parts[i], index))
        parts[i] = []
        _trim_malloc()  # the pieces' arrays went back to the C allocator, not the system
    return pd.concat(columns, axis=1)


def _concatenated(parts: list[pd.Series], index: pd.Index) -> pd.Series:
    """One column from its pieces, typed as a whole read types it.

    Pieces of different types (text in one, only gaps in another) concatenate
    to objects; a whole read then builds its frame from those objects, which
    makes text of them when every value is text or missing. So does this.
    """
    column = pd.concat(parts)
    if column.dtype == object:
        column = pd.Series(column.to_numpy(), name=column.name)
    return column.set_axis(index)


def _read_table(
    path: Path | io.BytesIO, dialect: CsvDialect, name: Path | None = None
) -> pd.DataFrame:
    """pandas.read_csv in a dialect, in bounded pieces; a decoding error is left to the caller."""
    path_name = name or path
    try:
        with pd.read_csv(path, **dialect.read_options(), iterator=True) as reader:
            return _read_pieces(reader, path_name)
    except pd.errors.EmptyDataError:
        raise DataError(
            f"{path_name}", ["the file holds no columns (empty or only blank lines)"]
        ) from None
    except pd.errors.ParserError as exc:
        raise DataError(
            f"{path_name}", [f"cannot be read as CSV with {dialect.describe()}: {exc}"]
        ) from None


def _read_decoded(
    path: Path, dialect: CsvDialect, detected: bool
) -> tuple[pd.DataFrame, CsvDialect]:
    """Read the table; when a detected encoding fails past the sample, detect it once more.

    The second guess looks at every line of the file that holds non-ASCII
    bytes (up to EVIDENCE_BYTES of them), a full read only on this rare path.
    """
    try:
        return _read_table(path, dialect), dialect
    except UnicodeDecodeError as exc:
        failure = exc
    if detected:
        with open(path, "rb") as fh:
            guess = detect_encoding(_evidence(fh))
        if guess.encoding != dialect.encoding:
            retry = replace(dialect, encoding=guess.encoding)
            try:
                df = _read_table(path, retry)
            except UnicodeDecodeError as exc:
                failure = exc
            else:
                doubt = f"; but {guess.doubt}" if guess.doubt else ""
                warn(
                    f"{path}: its sample read as {dialect.encoding}, but later lines do not "
                    f"({failure.reason}); read as {guess.encoding}, detected from the lines "
                    f"with non-ASCII bytes{doubt}; set params.yaml data.csv.encoding to be sure"
                )
                return df, retry
    raise DataError(
        f"{path}", [f"cannot be read as CSV with {dialect.describe()}: {failure}"]
    ) from None


def read_csv(
    path: Path, options: Mapping[str, Any] | None = None, dialect: CsvDialect | None = None
) -> pd.DataFrame:
    """Read a CSV file in its detected (or configured) dialect; errors name the file."""
    dialect = dialect or sniff_csv(path, options)
    df, dialect = _read_decoded(path, dialect, csv_options(options)["encoding"] == AUTO)
    problems = _header_problems(path, dialect, df) + _truncation_problems(path, dialect, df)
    if problems:
        raise DataError(f"{path}", problems)
    # spaces around a name would make data.target or data.drop not find it
    df.columns = [c.strip() if isinstance(c, str) else c for c in df.columns]
    for column in numbers_read_as_text(df):
        _warn_numbers_as_text(path, dialect, df[column], column)
    df.attrs["dialect"] = dialect.describe()
    return df


def numbers_read_as_text(df: pd.DataFrame) -> list[str]:
    """Text columns whose values are numbers written with a decimal comma or thousands marks."""
    found = []
    for column in df.columns:
        values = df[column]
        if ptypes.is_numeric_dtype(values) or ptypes.is_bool_dtype(values):
            continue
        # each distinct value once, weighted by its count (millions of rows, few values)
        counts = values.value_counts(dropna=True, sort=False)
        text = pd.Series(counts.index, dtype=object).astype(str).str.strip()
        written = text.str.fullmatch(_WRITTEN_NUMBER.pattern).to_numpy(dtype=bool)
        plain = pd.to_numeric(text, errors="coerce").notna().to_numpy()
        weights = counts.to_numpy()
        share = (weights * written).sum() / weights.sum() if len(text) else 0.0
        # all-plain numbers mixed with words are the validator's "mixed types" case
        if share >= WRITTEN_NUMBER_SHARE and (written & ~plain).any():
            found.append(str(column))
    return found


def _warn_numbers_as_text(path: Path, dialect: CsvDialect, values: pd.Series, column: str) -> None:
    """Say (on stderr, which the runner echoes) that a numeric column will be one-hot encoded."""
    text = values.dropna().astype(str)
    examples = shorten(text[~text.str.fullmatch(r"[+-]?\d+(\.\d+)?")][:3], show=repr)
    fix = "thousands separators are not supported: export the numbers without them"
    if dialect.decimal != ",":
        fix = f"if ',' is the decimal mark, set params.yaml data.csv.decimal: ','; {fix}"
    warn(
        f"{path}: column '{column}' looks numeric but is read as text "
        f"({examples}; {dialect.describe()}), so it would be one-hot encoded with "
        f"{text.nunique()} levels; {fix}, or list it in params.yaml data.drop"
    )


def read_source_file(
    path: Path, csv: Mapping[str, Any] | None = None, sample: float | int | None = None
) -> pd.DataFrame:
    """Read a CSV or Parquet source file, after checking it fits in memory.

    ``sample`` (params.yaml prepare.sample) lowers the estimate: the copies
    prepare makes after loading hold only the sampled rows.
    """
    if path.stat().st_size == 0:
        raise DataError(f"{path}", ["the file is empty (0 bytes)"])
    if path.name.lower().endswith(PARQUET_SUFFIXES):
        check_memory(path, parquet_estimate(path, sample), memory_advice(sample))
        try:
            frame = pd.read_parquet(path)
        except Exception as exc:  # pyarrow raises several unrelated types
            raise DataError(f"{path}", [f"cannot be read as Parquet: {exc}"]) from None
        return _index_as_columns(frame)
    dialect = sniff_csv(path, csv)
    estimate = csv_estimate(path, dialect, sample)
    check_memory(path, estimate, memory_advice(sample))
    progress(f"reading {path.name}: about {estimate.rows:,} rows x {estimate.columns} columns")
    df = read_csv(path, csv, dialect)
    release_memory()  # the parser's buffers, freed piece by piece
    progress(f"read {len(df):,} rows x {df.shape[1]} columns from {path.name}")
    return df


def _index_as_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """A Parquet file's named index (``df.set_index('when').to_parquet()``) as columns.

    pandas restores a saved index as the frame's index, which every later step
    ignores: a time series' timestamps, or an id, would be lost without a word.
    A named level becomes a column of that name; unnamed row labels (a filtered
    frame saved with its index) are dropped, as a CSV export's would be.
    """
    if isinstance(frame.index, pd.RangeIndex) and frame.index.name is None:
        return frame
    named = [name for name in frame.index.names if name is not None]
    unnamed = [i for i, name in enumerate(frame.index.names) if name is None]
    if unnamed:
        frame = frame.reset_index(level=unnamed, drop=True)
    return frame.reset_index() if named else frame.reset_index(drop=True)


# The advice beside prepare.sample's, in either message of the memory guard.
_OTHER_ADVICE = (
    "run the stages on a Dask cluster (params.yaml compute.scheduler, docs/scale.md), or "
    "use a machine with more memory (NBML_MEMORY_LIMIT, if set, lowers the limit on purpose)"
)
MEMORY_ADVICE = (
    "Keep only the columns you need in the file, set params.yaml prepare.sample (a "
    "fraction such as 0.1, or a number of rows: the file is still read whole, but the "
    f"work after reading holds only the sample), {_OTHER_ADVICE}"
)


def memory_advice(sample: float | int | None) -> str:
    """What to do about a table that does not fit; with prepare.sample already set, not that.

    The guard told a user who had set prepare.sample: 20000 to "set params.yaml
    prepare.sample", which they had: the file is still read whole and the table
    kept next to the sample, so a smaller sample saves little.
    """
    if sample is None:
        return MEMORY_ADVICE
    return (
        f"params.yaml prepare.sample is already set ({sample}), and the file is still read "
        "whole and kept next to the sample, so a smaller sample saves little. Keep only the "
        f"columns you need in the file, {_OTHER_ADVICE}"
    )


# Bytes of a CSV file read to estimate the memory its table takes.
ESTIMATE_BYTES = 1 << 20


def _with_sample(
    table_bytes: int, rows: int, columns: int, sample: float | int | None, read_factor: float
) -> MemoryEstimate:
    """The stage's estimated peak: reading the table, or the work on it after reading
    (with prepare.sample: the table, next to the work on the sampled rows).

    The split's arrays cost SPLIT_ROW_BYTES a row of the table, sampled or not
    (a sample is drawn by a stratified split of every row)."""
    share = 1.0 if sample is None else min(1.0, sample if sample < 1 else sample / max(rows, 1))
    copies = PREPARE_FACTOR if share >= 1 else 1 + PREPARE_FACTOR * share
    work = table_bytes * copies + rows * SPLIT_ROW_BYTES
    needed = max(table_bytes * read_factor, work)
    return MemoryEstimate(rows, columns, table_bytes, int(needed))


def _head_bytes(path: Path) -> bytes:
    """The whole lines of a file's first megabyte."""
    with open(path, "rb") as fh:
        head = fh.read(ESTIMATE_BYTES)
    if len(head) < path.stat().st_size:
        head = head[: head.rfind(b"\n") + 1 or len(head)]
    return head


def csv_head(path: Path, dialect: CsvDialect) -> pd.DataFrame:
    """The rows of a CSV file's first megabyte, read in its dialect (errors name the file)."""
    try:
        return _read_table(io.BytesIO(_head_bytes(path)), dialect, path)
    except UnicodeDecodeError as exc:
        raise DataError(
            f"{path}", [f"cannot be read as CSV with {dialect.describe()}: {exc}"]
        ) from None


def csv_estimate(path: Path, dialect: CsvDialect, sample: float | int | None) -> MemoryEstimate:
    """Rows and memory of a CSV file's table, extrapolated from its first megabyte."""
    size = path.stat().st_size
    head = _head_bytes(path)
    try:
        part = pd.read_csv(io.BytesIO(head), **dialect.read_options())
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError):
        return MemoryEstimate(0, 0, 0, 0)  # read_csv names what is wrong with the file
    if part.empty:
        return MemoryEstimate(0, part.shape[1], 0, 0)
    header = len(head.split(b"\n", 1)[0]) + 1
    rows = int((size - header) / max(len(head) - header, 1) * len(part))
    table = int(part.memory_usage(deep=True).sum() / len(part) * rows)
    return _with_sample(table, rows, part.shape[1], sample, CSV_READ_FACTOR)


def parquet_estimate(path: Path, sample: float | int | None) -> MemoryEstimate:
    """Rows and memory of a Parquet file's table, from its metadata (uncompressed sizes)."""
    # lazy: the stage runner imports this module for its param checks and keeps
    # pyarrow out of its own process (nbml.runner.stage.fast_imports)
    import pyarrow.parquet as pq

    try:
        meta = pq.ParquetFile(path).metadata
    except Exception:  # not Parquet: read_parquet says so, naming the file
        return MemoryEstimate(0, 0, 0, 0)
    table = sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
    return _with_sample(table, meta.num_rows, meta.num_columns, sample, PARQUET_READ_FACTOR)


def _plain(values: pd.Series) -> pd.Series:
    """One column with pd.NA-carrying extension dtypes turned into the types read_csv gives."""
    dtype = values.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        categories = values.cat.categories
        if getattr(categories.dtype, "na_value", None) is pd.NA:
            plain = pd.CategoricalDtype(_plain(categories.to_series()).values, dtype.ordered)
            return values.astype(plain)
        return values
    if getattr(dtype, "na_value", None) is not pd.NA:
        return values  # numpy dtypes, and pandas' own NaN-based "str"
    missing = bool(values.isna().any())
    if ptypes.is_bool_dtype(dtype):
        # like read_csv: bool without gaps, else objects True/False/NaN
        if missing:
            return values.astype(object).where(values.notna(), np.nan)
        return values.astype(bool)
    if ptypes.is_numeric_dtype(dtype):
        numpy_dtype = getattr(dtype, "numpy_dtype", np.dtype("float64"))
        return values.astype("float64" if missing or numpy_dtype.kind == "f" else numpy_dtype)
    if ptypes.is_string_dtype(dtype):
        return values.astype("str")
    converted = values.to_numpy(dtype=object, na_value=np.nan)
    return pd.Series(converted, index=values.index, name=values.name).infer_objects()


def plain_dtypes(df: pd.DataFrame) -> pd.DataFrame:
    """A copy whose missing values are all NaN: pandas nullable dtypes (string, Int64,
    boolean, ...) carry pd.NA, whose truth value is ambiguous, and scikit-learn's
    imputers and encoders fail on it with an error that names no column."""
    out = df.copy(deep=False)
    for i in range(out.shape[1]):
        out.isetitem(i, _plain(out.iloc[:, i]))
    return out


def load_source(
    source: str,
    csv: Mapping[str, Any] | None = None,
    root: Path | None = None,
    raw_dir: str | Path | None = None,
    sample: float | int | None = None,
) -> pd.DataFrame:
    """Load a bundled dataset by name, or a CSV/Parquet file under the raw folder.

    ``root`` and ``raw_dir`` default to the project's root and its
    ``vars.paths.raw`` from dvc.yaml. ``csv`` is params.yaml ``data.csv``;
    ``sample`` is prepare.sample, which the memory check before loading counts on.
    The frame's ``attrs["source"]`` says what was read and how.
    """
    on_cluster = active().client is not None
    if source in BUNDLED:
        df = plain_dtypes(BUNDLED[source]())
        df.attrs["source"] = f"bundled dataset '{source}'"
        return _to_cluster(df) if on_cluster else df
    if not is_file_source(source):
        raise DataError(
            SOURCE_PARAM,
            [
                f"unknown dataset '{source}'; bundled datasets: {', '.join(BUNDLED)}; "
                "or give the path of a CSV or Parquet file under the raw data folder, "
                "e.g. data/raw/my.csv"
            ],
        )
    if root is None or raw_dir is None:
        project_paths = paths(root)
        root = root or project_paths.root
        raw_dir = raw_dir if raw_dir is not None else project_paths.relative("raw")
    path = resolve_source_path(source, root, raw_dir)
    if on_cluster:
        df = _cluster().read_source(path, csv)
    else:
        df = plain_dtypes(read_source_file(path, csv, sample))
    attrs = df._meta.attrs if on_cluster else df.attrs
    how = f" ({attrs['dialect']})" if "dialect" in attrs else ""
    attrs["source"] = f"{Path(os.path.relpath(path, root)).as_posix()}{how}"
    return df


def _cluster() -> Any:
    """nbml.steps.cluster, imported when a stage first needs it."""
    # lazy: Dask is imported only when compute.scheduler names a cluster
    from nbml.steps import cluster

    return cluster


def _to_cluster(df: pd.DataFrame) -> Any:
    frame = _cluster().from_bundled(df)
    frame._meta.attrs.update(df.attrs)
    return frame


def describe(df: Any) -> str:
    """What a loaded source is and its size: 'penguins: 344 rows x 8 columns'."""
    attrs = df._meta.attrs if is_dask(df) else df.attrs
    return f"{attrs.get('source', 'the source')}: {len(df)} rows x {df.shape[1]} columns"


SHOWN_SMALL_CLASSES = 10


def _regression_problems(labelled: pd.DataFrame, target: str, test_size: float) -> list[str]:
    """What a regression target needs: more than one value, rows for both splits."""
    values = labelled[target]
    found = ", ".join(map(str, values.unique()[:3])) or "none"
    return quantity_problems(values.nunique() < 2, found, len(labelled), target, test_size)


def quantity_problems(
    constant: bool, found: str, labelled: int, target: str, test_size: float
) -> list[str]:
    """A regression target's problems: constant (``found``: its values), or too few rows
    for both splits. The cluster passes what its workers found."""
    problems = []
    if constant:
        problems.append(
            f"target '{target}' is constant (labelled values: {found}): there is nothing to "
            "predict; choose another data.target"
        )
    n_test = int(round(labelled * test_size))
    if n_test < 2 or labelled - n_test < 2:
        problems.append(
            f"prepare.test_size={test_size} gives {n_test} test and {labelled - n_test} "
            "training rows; each split needs at least 2"
        )
    return problems


def _class_problems(
    labelled: pd.DataFrame, target: str, test_size: float, min_rows_per_class: int
) -> list[str]:
    """What a classification target needs: two classes, enough rows of each for the split."""
    quantity = detect_task(labelled[target], target)[0] == REGRESSION
    return class_problems(
        labelled[target].value_counts(), quantity, target, test_size, min_rows_per_class
    )


def class_problems(
    counts: pd.Series, quantity: bool, target: str, test_size: float, min_rows_per_class: int
) -> list[str]:
    """What keeps the labelled rows' classes (counts per class) from a stratified split.

    ``quantity``: the target looks like a quantity (data.task: auto would call
    it regression). The cluster passes counts computed on its workers.
    """
    problems: list[str] = []
    if len(counts) < 2:
        found = ", ".join(map(str, counts.index)) or "none"
        problems.append(
            f"target '{target}' needs at least 2 classes to train a classifier (found: {found})"
        )
    needed = max(min_rows_per_class, 2)
    small = counts[counts < needed]
    if quantity and len(small) > len(counts) / 2:
        return problems + [
            f"target '{target}' has {len(counts)} distinct numeric values, most of them on "
            f"fewer than {needed} rows, and data.task: classification makes each value a "
            "class. Set data.task: auto (or regression) to predict it as a quantity, or bin "
            "the values into classes first"
        ]
    for label, n in list(small.items())[:SHOWN_SMALL_CLASSES]:
        problems.append(
            f"class '{label}' of target '{target}' has {n} row(s); at least "
            f"{needed} are needed (prepare.min_rows_per_class)"
        )
    if len(small) > SHOWN_SMALL_CLASSES:
        problems.append(
            f"... and {len(small) - SHOWN_SMALL_CLASSES} more classes with fewer than {needed} rows"
        )
    n_test = int(round(int(counts.sum()) * test_size))
    if len(counts) >= 2 and n_test < len(counts):
        problems.append(
            f"prepare.test_size={test_size} gives {n_test} test rows for {len(counts)} "
            "classes; a stratified split needs at least one test row per class"
        )
    return problems


def check_dataset(
    df: pd.DataFrame,
    target: str,
    test_size: float,
    min_rows_per_class: int,
    where: str,
    task: str = CLASSIFICATION,
) -> pd.DataFrame:
    """Return the rows with a label, or raise DataError listing every problem found.

    Class checks (two classes, prepare.min_rows_per_class) apply to
    classification only; a regression target must not be constant.
    """
    if df.empty:
        raise DataError(where, ["the dataset has no rows"])
    if target not in df.columns:
        cols = shorten(df.columns, "columns", 30)
        raise DataError(where, [f"target column '{target}' not found; columns are: {cols}"])
    has_label = df[target].notna()
    # every row labelled (the usual case): the same rows, without copying them
    labelled = (
        df.reset_index(drop=True) if has_label.all() else df[has_label].reset_index(drop=True)
    )
    if task == REGRESSION:
        problems = _regression_problems(labelled, target, test_size)
    else:
        problems = _class_problems(labelled, target, test_size, min_rows_per_class)
    if not feature_columns(df, target):
        problems.append("no feature columns besides the target")
    if problems:
        raise DataError(where, problems)
    return labelled


def split_strata(df: pd.DataFrame, target: str, test_rows: int, task: str) -> Any:
    """What a split is stratified by: the classes, or quantile bins of a regression target."""
    if task == REGRESSION:
        return quantile_strata(df[target], test_rows)
    return class_codes(df[target])


@dataclass(frozen=True, eq=False)
class Rows:
    """Some rows of a table, by position: one half of a split, not copied out of its table.

    Taking both halves out of a table of 10^7 rows held it twice (4.9 GB);
    :func:`write_parquet` takes a row group at a time instead.
    """

    frame: pd.DataFrame
    positions: np.ndarray

    def __len__(self) -> int:
        return len(self.positions)

    def column(self, name: str) -> pd.Series:
        """One column of these rows, in their order."""
        return self.frame[name].take(self.positions).reset_index(drop=True)

    def to_frame(self) -> pd.DataFrame:
        """These rows as a frame of their own (a copy)."""
        return self.frame.take(self.positions).reset_index(drop=True)


def split_rows(
    df: pd.DataFrame, target: str, test_size: float, seed: int, task: str = CLASSIFICATION
) -> tuple[Any, Any]:
    """The rows of a stratified train/test split (by class, or by quantile bins), from the seed.

    The halves are :class:`Rows` of ``df``: the same rows, in the same order,
    as scikit-learn's ``train_test_split`` of the frame gives (its split
    depends only on the row count and the strata). On a cluster the split is
    by a seeded hash of each row, and the halves are Dask frames.
    """
    if is_dask(df):
        return _cluster().split(df, test_size, seed)
    by = split_strata(df, target, int(np.ceil(len(df) * test_size)), task)
    # lazy: as in _sklearn
    from sklearn.model_selection import train_test_split

    train, test = train_test_split(
        np.arange(len(df)), test_size=test_size, random_state=seed, stratify=by
    )
    return Rows(df, train), Rows(df, test)


def split(
    df: pd.DataFrame, target: str, test_size: float, seed: int, task: str = CLASSIFICATION
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Stratified train/test split (by class, or by quantile bins), reproducible from the seed.

    On a cluster the split is by a seeded hash of each row instead.
    """
    train, test = split_rows(df, target, test_size, seed, task)
    if is_dask(df):
        return train, test
    return train.to_frame(), test.to_frame()


def class_codes(labels: pd.Series) -> np.ndarray:
    """Text labels as their positions among the sorted distinct labels.

    scikit-learn's stratified split sorts the labels it is given
    (``np.unique``): codes in that same order give the same split, without
    sorting millions of strings (1.5 s a sort at 10^6 rows). Other labels
    are returned as they are.
    """
    if not (ptypes.is_object_dtype(labels) or ptypes.is_string_dtype(labels)):
        return labels.to_numpy()
    # factorize hashes the values where they are (Arrow strings stay Arrow), then
    # sorts the few distinct ones: no Python object per row
    codes, uniques = pd.factorize(labels, sort=True)
    if not pd.Index(uniques).is_monotonic_increasing or (codes < 0).any():
        distinct = np.unique(labels.drop_duplicates().to_numpy())
        return pd.Index(distinct).get_indexer(labels.to_numpy())
    return codes


# pyarrow's default row group (rows): one slice per group writes to_parquet's bytes
PARQUET_GROUP_ROWS = 1024 * 1024


def write_parquet(df: Any, path: Path) -> Path:
    """Write a frame, or :class:`Rows` of one, as Parquet, creating the folder (DVC removes
    outs before a run).

    A Dask frame becomes a partitioned dataset: a folder of part files.
    """
    if is_dask(df):
        return _cluster().write_parquet(df, path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(df, Rows) and len(df) and not any(map(ptypes.is_object_dtype, df.frame.dtypes)):
        _write_groups(df, path)
    else:
        (df.to_frame() if isinstance(df, Rows) else df).to_parquet(path, index=False)
    return path


def _write_groups(rows: Rows, path: Path) -> None:
    """Rows as Parquet, a row group at a time: the file ``to_parquet`` writes of them.

    ``to_parquet`` converts the whole frame to Arrow, so the taken rows
    would be held next to their table. The schema (with the frame's
    ``attrs``, which pandas keeps in it) comes from the column types alone,
    which is why a frame with object columns (whose Arrow type pyarrow infers
    from every value) is taken whole instead.
    """
    # lazy: the stage runner imports this module for its param checks and keeps
    # pyarrow out of its own process (nbml.runner.stage.fast_imports)
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.Schema.from_pandas(rows.frame.iloc[:0], preserve_index=False)
    if rows.frame.attrs:
        attrs = {b"PANDAS_ATTRS": json.dumps(rows.frame.attrs).encode()}
        schema = schema.with_metadata({**schema.metadata, **attrs})
    with pq.ParquetWriter(path, schema, compression="snappy") as writer:
        for start in range(0, len(rows), PARQUET_GROUP_ROWS):
            part = rows.frame.take(rows.positions[start : start + PARQUET_GROUP_ROWS])
            writer.write_table(pa.Table.from_pandas(part, schema=schema, preserve_index=False))
            del part
    release_memory()


def read_parquet(path: Path) -> pd.DataFrame:
    """Read a Parquet file written by an upstream stage (on the cluster, when there is one)."""
    if active().client is not None:
        return _cluster().read_parquet(path)
    frame = pd.read_parquet(path)
    release_memory()  # the Arrow table it was converted from
    return frame


def release_memory() -> None:
    """Hand the memory Arrow has freed back to the system.

    pandas reads and writes Parquet, and keeps text columns, through Arrow,
    whose allocator (mimalloc) keeps the pages it frees for later use: after
    reading 7.5 million training rows and dropping the frame, 1.8 GB that
    nothing used still counted against the process.
    """
    # lazy: the stage runner imports this module for its param checks and keeps
    # pyarrow out of its own process (nbml.runner.stage.fast_imports)
    import pyarrow as pa

    pa.default_memory_pool().release_unused()
    _trim_malloc()


def _trim_malloc() -> None:
    """Hand back what the C allocator keeps of freed memory (glibc only).

    Reading a CSV file in pieces frees many buffers of a few hundred kB, which
    glibc keeps in its heap: 0.6 GB after reading 10^7 rows.
    """
    # lazy: only the stages that load or free big tables call it
    import ctypes

    try:
        trim = ctypes.CDLL(None).malloc_trim
    except (AttributeError, OSError):  # not glibc
        return
    trim(0)


def split_xy(
    df: pd.DataFrame, target: str, task: str = CLASSIFICATION
) -> tuple[pd.DataFrame, pd.Series]:
    """Features and labels of a prepared frame: class labels as text, a quantity as floats."""
    y = df[target].astype(float if task == REGRESSION else str)
    return df[feature_columns(df, target)], y


def sample_source(
    df: pd.DataFrame,
    target: str,
    sample: float | int | None,
    seed: int,
    task: str = CLASSIFICATION,
    min_rows_per_class: int | None = None,
) -> pd.DataFrame:
    """A seeded sample of the source (params.yaml prepare.sample): all rows for None.

    ``sample`` is a fraction (0 < f < 1) or a number of rows. The sample is
    stratified by the target, so every class keeps its share; rows without a
    label count as one more stratum (validation leaves them out later). A
    class too rare to stratify falls back to a plain random sample; a
    regression target is stratified by its quantile bins. With ``min_rows_per_class``
    (classification), a class the source has enough rows of but the sample
    does not is refused here, naming prepare.sample rather than the class alone.
    """
    if is_dask(df):
        return _cluster().sample_source(df, target, sample, seed, task, min_rows_per_class)
    n = len(df) if sample is None else int(round(len(df) * sample)) if sample < 1 else int(sample)
    if n >= len(df):
        if sample is not None:  # on the terminal too: the sample asked for is not what runs
            progress(f"prepare.sample={sample}: every row kept (the table has {len(df):,})")
        return df
    if target not in df:
        strata = None
    elif task == REGRESSION:
        strata = quantile_strata(df[target].fillna(df[target].median()), min(n, len(df) - n))
    else:
        strata = df[target].astype("string").fillna("\0missing")
        if strata.value_counts().min() < 2:
            strata = None
    how = "plain" if strata is None else f"stratified by '{target}'"
    progress(f"prepare.sample={sample}: {n:,} of {len(df):,} rows kept (seeded, {how})")
    if strata is None:
        part = df.sample(n=n, random_state=seed)
    else:
        # lazy: as in _sklearn
        from sklearn.model_selection import train_test_split

        part, _ = train_test_split(df, train_size=n, random_state=seed, stratify=strata)
    if min_rows_per_class is not None and task == CLASSIFICATION and target in df:
        before, after = df[target].value_counts(), part[target].value_counts()
        check_sampled_classes(before, after, target, sample, min_rows_per_class)
    return part.sort_index().reset_index(drop=True)


def check_sampled_classes(
    before: pd.Series, after: pd.Series, target: str, sample: float | int, min_rows_per_class: int
) -> None:
    """DataError when prepare.sample leaves a class fewer rows than prepare.min_rows_per_class
    although the source has enough: the message names the sample, not the data, as the cause.

    ``before`` and ``after``: rows per class in the source and in the sample (the
    cluster counts them on its workers).
    """
    needed = max(min_rows_per_class, 2)
    short = [
        f"class '{label}' of target '{target}': {int(after.get(label, 0))} of its "
        f"{int(n):,} rows kept, at least {needed} are needed (prepare.min_rows_per_class)"
        for label, n in before.items()
        if n >= needed and after.get(label, 0) < needed
    ]
    if short:
        raise DataError(
            f"params.yaml prepare.sample={sample}",
            [*short[:SHOWN_SMALL_CLASSES], "sample more rows, or set prepare.sample: null"],
        )


# Any seed would do; a fixed one keeps reports the same from run to run.
SAMPLE_SEED = 0


def sample_rows(df: pd.DataFrame, max_rows: int, seed: int = SAMPLE_SEED) -> pd.DataFrame:
    """The frame itself up to ``max_rows`` rows, else a seeded sample of that many.

    Distributions, correlations and a check of a model's predictions look the
    same on a few hundred thousand rows as on millions, at a fraction of the cost.
    A Dask frame's sample is brought to this process: at most about ``max_rows`` rows.
    """
    if is_dask(df):
        return _cluster().sample_rows(df, max_rows, seed)
    if len(df) <= max_rows:
        return df
    return df.sample(n=max_rows, random_state=seed).sort_index()


def read_target(
    source: str, target: str, csv: Mapping[str, Any] | None, root: Path, raw_dir: str | Path
) -> pd.Series | None:
    """Only the target column of the source, read cheaply (None when it cannot be read).

    The runner's checks decide the task from it before prepare's kernel
    starts; prepare itself reads the whole table and says what is wrong with it.
    """
    try:
        if source in BUNDLED:
            return plain_dtypes(BUNDLED[source]()[[target]])[target]
        path = resolve_source_path(source, root, raw_dir)
        if path.name.lower().endswith(PARQUET_SUFFIXES):
            return plain_dtypes(pd.read_parquet(path, columns=[target]))[target]
        dialect = sniff_csv(path, csv)
        column = pd.read_csv(
            path, **dialect.read_options(), usecols=lambda name: str(name).strip() == target
        )
    except (DataError, KeyError, ValueError, OSError, ImportError, pd.errors.ParserError):
        # ValueError: pyarrow's and pandas' errors for a missing column; ImportError:
        # the runner keeps pyarrow out of its process (runner.stage.fast_imports), so
        # a Parquet source is left to prepare's kernel
        return None
    return plain_dtypes(column).iloc[:, 0] if column.shape[1] == 1 else None


def split_summary(train: Any, test: Any, target: str, task: str) -> pd.DataFrame:
    """Rows per class in each split, or the target's spread in each (regression).

    The splits are frames, :class:`Rows` of one, or Dask frames."""
    halves = {"train": train, "test": test}
    values = {
        name: half.column(target) if isinstance(half, Rows) else half[target]
        for name, half in halves.items()
    }
    if task == REGRESSION:
        stats = {name: small(column.describe()) for name, column in values.items()}
        return pd.DataFrame(stats).round(4).rename_axis(target)
    sizes = {name: small(column.value_counts()) for name, column in values.items()}
    return pd.DataFrame(sizes).rename_axis(target)


def announce_task(decision: TaskDecision) -> None:
    """Say prepare's task decision on the terminal too: it shapes every later stage."""
    progress(f"prepare: {decision.describe()}")


def client_rows(df: Any) -> pd.DataFrame:
    """The rows this process fits or infers on: the frame itself, or from a cluster a
    seeded sample of at most about CLIENT_ROWS rows (the table stays on the workers)."""
    return sample_rows(df, CLIENT_ROWS) if is_dask(df) else df
