"""Batch scoring: predict a CSV or Parquet file with the served model, chunk by chunk.

``python -m nbml.serving score INPUT OUTPUT`` (``make score IN=... OUT=...``)
uses the model ``dvc.lock`` records (md5 checked, as for serving) and the
same column checks as ``/predict``: every column present, no unknown one
(the target column may be there and is ignored), no text in a numeric
column; errors name the column and the row (0 = the first data row). The
file is read ``chunk_rows`` rows at a time and the predictions are appended
to OUTPUT as they come, so memory stays bounded whatever the file's size.
OUTPUT gets ``label`` and one ``proba_<class>`` column per class, or for a
regression model one ``prediction`` column.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from nbml.errors import ScoringError
from nbml.messages import say
from nbml.serving.metadata import recorded_target
from nbml.serving.predictor import REGRESSION, Predictor
from nbml.serving.schema import BOOLEAN, NUMBER, ColumnSpec
from nbml.serving.service import Service
from nbml.serving.settings import Settings
from nbml.steps.data import CSV_SUFFIXES, PARQUET_SUFFIXES, sniff_csv

_TRUE = {"true", "1", "yes"}
_FALSE = {"false", "0", "no"}


def _kind_of(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in CSV_SUFFIXES:
        return "csv"
    if suffix in PARQUET_SUFFIXES:
        return "parquet"
    raise ScoringError(f"{path}: expected a CSV ({', '.join(CSV_SUFFIXES)}) or Parquet file")


def read_chunks(path: Path, chunk_rows: int) -> Iterator[pd.DataFrame]:
    """The file's rows, ``chunk_rows`` at a time; CSV values come as text, checked later."""
    if not path.is_file():
        raise ScoringError(f"{path}: file not found")
    if _kind_of(path) == "parquet":
        for batch in pq.ParquetFile(path).iter_batches(batch_size=chunk_rows):
            yield batch.to_pandas()
        return
    # detected from samples of the file (head, middle, tail), never the whole of it
    dialect = sniff_csv(path)
    reader = pd.read_csv(
        path, sep=dialect.delimiter, encoding=dialect.encoding, dtype=str,
        keep_default_na=True, skipinitialspace=True, chunksize=chunk_rows,
    )
    for chunk in reader:
        chunk.columns = [c.strip() for c in chunk.columns]
        if dialect.decimal != ".":
            chunk.attrs["decimal"] = dialect.decimal
        yield chunk


def check_columns(columns: list[str], specs: list[ColumnSpec], target: str, path: Path) -> None:
    """Every model column present, nothing unknown but the target."""
    known = [s.name for s in specs]
    missing = [c for c in known if c not in columns]
    unknown = [c for c in columns if c not in known and c != target]
    problems = []
    if missing:
        problems.append(f"missing column(s) {', '.join(missing)}")
    if unknown:
        problems.append(f"unknown column(s) {', '.join(unknown)} (columns: {', '.join(known)})")
    if problems:
        raise ScoringError(f"{path}: " + "; ".join(problems))


def _numbers(values: pd.Series, decimal: str) -> pd.Series:
    if ptypes_numeric(values):
        return values.astype(np.float64)
    text = values.astype("str").str.strip()
    if decimal != ".":
        text = text.str.replace(decimal, ".", regex=False)
    return pd.to_numeric(text, errors="coerce").astype(np.float64)


def ptypes_numeric(values: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)


def _booleans(values: pd.Series) -> pd.Series:
    if pd.api.types.is_bool_dtype(values):
        return values.astype("boolean")
    text = values.astype("str").str.strip().str.lower()
    mapped = text.map(lambda v: True if v in _TRUE else False if v in _FALSE else None)
    return mapped.astype("boolean")


def typed_chunk(chunk: pd.DataFrame, specs: list[ColumnSpec], first_row: int) -> pd.DataFrame:
    """The chunk with the training types; text where a number belongs is an error."""
    decimal = chunk.attrs.get("decimal", ".")
    data: dict[str, Any] = {}
    for spec in specs:
        raw = chunk[spec.name]
        if spec.kind == NUMBER:
            values = _numbers(raw, decimal)
        elif spec.kind == BOOLEAN:
            values = _booleans(raw)
        else:
            values = raw.astype("str")
        bad = raw.notna().to_numpy() & values.isna().to_numpy()
        if spec.kind == NUMBER:  # inf: refused by prepare, and the pipeline's imputer raises
            bad |= np.isinf(values.to_numpy())
        if bad.any():
            r = int(np.flatnonzero(bad)[0])
            infinite = spec.kind == NUMBER and bool(np.isinf(values.iloc[r]))
            finite = " (finite: training refuses inf too)" if infinite else ""
            raise ScoringError(
                f"row {first_row + r}, column '{spec.name}': expected {spec.kind}{finite}, "
                f"got {str(raw.iloc[r])[:40]!r} ({int(bad.sum())} such value(s) in rows "
                f"{first_row}-{first_row + len(chunk) - 1})"
            )
        data[spec.name] = values.to_numpy() if spec.kind == NUMBER else values.array
    return pd.DataFrame(data)


def predictions_frame(predictor: Predictor, frame: pd.DataFrame) -> pd.DataFrame:
    """``label`` and ``proba_<class>`` for every row, from the saved model itself;
    a regressor's file gets one ``prediction`` column (the predicted quantity)."""
    if predictor.task == REGRESSION:
        return pd.DataFrame({"prediction": predictor.model.predict(frame).astype(float)})
    proba = predictor.model.predict_proba(frame)
    out = pd.DataFrame({"label": predictor.model.predict(frame)})
    for k, cls in enumerate(predictor.classes):
        out[f"proba_{cls}"] = proba[:, k]
    return out


class _Writer:
    """Appends prediction chunks to a CSV or Parquet file."""

    def __init__(self, path: Path):
        self.path, self.kind = path, _kind_of(path)
        self.parquet: pq.ParquetWriter | None = None
        self.first = True

    def write(self, frame: pd.DataFrame) -> None:
        if self.kind == "csv":
            frame.to_csv(self.path, mode="w" if self.first else "a", header=self.first, index=False)
        else:
            table = pa.Table.from_pandas(frame, preserve_index=False)
            if self.parquet is None:
                self.parquet = pq.ParquetWriter(self.path, table.schema)
            self.parquet.write_table(table)
        self.first = False

    def close(self) -> None:
        if self.parquet is not None:
            self.parquet.close()


def score_file(root: Path, input: str | Path, output: str | Path, chunk_rows: int = 50_000) -> int:
    """Predict every row of ``input`` into ``output``; returns the number of rows."""
    source, target = Path(input), Path(output)
    if chunk_rows < 1:
        raise ScoringError(f"chunk size must be at least 1 row (got {chunk_rows})")
    _kind_of(target)
    service = Service.prepare(Settings(root))
    predictor = service.load()
    label_column = recorded_target(service.lock, service.project, service.stage)
    target.parent.mkdir(parents=True, exist_ok=True)
    writer, done, start = _Writer(target), 0, time.monotonic()
    try:
        for chunk in read_chunks(source, chunk_rows):
            if done == 0:
                check_columns([str(c) for c in chunk.columns], service.specs, label_column, source)
            writer.write(predictions_frame(predictor, typed_chunk(chunk, service.specs, done)))
            done += len(chunk)
            rate = done / max(time.monotonic() - start, 1e-9)
            say(f"score: {done} rows scored ({rate:,.0f} rows/s) -> {target}")
    finally:
        writer.close()
    if done == 0:
        raise ScoringError(f"{source}: no rows to score")
    return done
