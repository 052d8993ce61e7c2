"""The stages' work on a Dask cluster: read, check, split, write, summarise.

Used through :mod:`nbml.steps.compute`, never at import: the helpers the
notebooks call (``data.load_source``, ``validate.validate_source``,
``data.split``, ...) hand a Dask frame to the functions here. Each reads on
the workers and brings back only small results (counts, problems, bounded
samples); the stage's own process never holds the table. Functions passed to
``map_partitions`` live at module level so the workers import them.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from pathlib import Path
from typing import Any

import dask
import dask.dataframe as dd
import numpy as np
import pandas as pd
from distributed import Client, KilledWorker, LocalCluster
from distributed.comm.core import CommClosedError

from nbml.errors import ClusterError, DataError
from nbml.messages import progress
from nbml.steps import data, validate
from nbml.steps.compute import CLIENT_ROWS, LOCAL, default_workers
from nbml.steps.task import CLASSIFICATION, REGRESSION, counts_look_continuous

# A CSV file is read in blocks of this many bytes, one partition each: the
# partitioning (and so a partition-wise result) depends only on the file.
# Parsing a block takes a few times its size on the worker, in memory the
# worker may not give back to the system soon: small blocks keep workers
# with a tight memory limit from pausing.
BLOCK_BYTES = 32 * 1024 * 1024
# Encodings whose bytes can be cut anywhere between lines (utf-16 cannot).
_BLOCK_SAFE = re.compile(r"^(utf-8|utf_8|ascii|latin|iso8859|iso-8859|cp\d+|windows-\d+)")
CONNECT_TIMEOUT = "10s"
SPLIT_HASH_KEY = "nbml-split-0000"
# Rows of the first partition overview looks at for an example value.
EXAMPLE_ROWS = 1000


def connect(
    scheduler: str, workers: int | None, worker_memory: str | None
) -> tuple[Client, LocalCluster | None]:
    """A client of a new LocalCluster on 127.0.0.1 (``local``), or of the scheduler named."""
    # pandas' own dtypes on the workers (str, not pyarrow strings with pd.NA)
    dask.config.set({"dataframe.convert-string": False})
    # value counts of a few classes go through a shuffle, which logs each one
    logging.getLogger("distributed.shuffle").setLevel(logging.ERROR)
    if scheduler == LOCAL:
        cluster = LocalCluster(
            n_workers=workers or default_workers(),
            threads_per_worker=1,
            host="127.0.0.1",
            dashboard_address=None,
            memory_limit=worker_memory or "auto",
        )
        return Client(cluster), cluster
    try:
        return Client(scheduler, timeout=CONNECT_TIMEOUT), None
    except (OSError, TimeoutError) as exc:
        raise ClusterError(
            f"params.yaml compute.scheduler={scheduler}: cannot reach the scheduler ({exc}); "
            "start one (`dask scheduler`, then `dask worker ADDRESS` with this project's "
            "Python), or set compute.scheduler: local"
        ) from None


# -- reading ----------------------------------------------------------------------
def from_bundled(df: pd.DataFrame) -> dd.DataFrame:
    """A bundled dataset (a few hundred rows) as a two-partition Dask frame."""
    return dd.from_pandas(df, npartitions=2, sort=False).persist()


def read_source(path: Path, csv: Any = None) -> dd.DataFrame:
    """A CSV (in blocks) or Parquet (by row groups) source file, read once into the workers.

    prepare counts, checks, splits and writes the same rows: persisted, they
    are read from the file once (beyond the workers' memory limit, Dask
    spills them to the workers' disks), and none of them reaches this process.
    """
    frame = _read_source(path, csv)
    persisted = frame.persist()
    persisted._meta.attrs.update(frame._meta.attrs)
    return persisted


def _read_source(path: Path, csv: Any = None) -> dd.DataFrame:
    if path.stat().st_size == 0:
        raise DataError(f"{path}", ["the file is empty (0 bytes)"])
    if path.name.lower().endswith(data.PARQUET_SUFFIXES):
        try:
            frame = dd.read_parquet(path, split_row_groups=True)
        except Exception as exc:  # pyarrow raises several unrelated types
            raise DataError(f"{path}", [f"cannot be read as Parquet: {exc}"]) from None
        return frame.map_partitions(data.plain_dtypes)
    dialect = data.sniff_csv(path, csv)
    head = data.csv_head(path, dialect)
    problems = data._header_problems(path, dialect, head)
    if problems:
        raise DataError(f"{path}", problems)
    for column in data.numbers_read_as_text(head):
        data._warn_numbers_as_text(path, dialect, head[column], column)
    # numbers as float64 from the start: a block with a gap would be float, not int
    dtypes = {c: "float64" for c in head.columns if pd.api.types.is_numeric_dtype(head[c])}
    blocks = BLOCK_BYTES if _BLOCK_SAFE.match(dialect.encoding.lower()) else None
    frame = dd.read_csv(
        path,
        blocksize=blocks,
        sep=dialect.delimiter,
        encoding=dialect.encoding,
        decimal=dialect.decimal,
        skipinitialspace=True,
        dtype=dtypes,
    )
    frame.columns = [c.strip() if isinstance(c, str) else c for c in frame.columns]
    progress(f"reading {path.name} on the cluster: {frame.npartitions} block(s)")
    frame._meta.attrs["dialect"] = dialect.describe()
    return frame


def computed(what: str, *collections: Any) -> tuple[Any, ...]:
    """dask.compute, with a lost worker or a parse error named instead of a traceback."""
    try:
        return dask.compute(*collections)
    except (ValueError, TypeError) as exc:
        raise DataError(what, [f"the cluster could not read or convert it: {exc}"]) from None
    except (KilledWorker, CommClosedError) as exc:
        raise ClusterError(
            f"{what}: the cluster lost the work ({exc}); Dask ran it again on other workers "
            "until it gave up: check the workers' logs and memory (compute.worker_memory)"
        ) from None


# -- checking -----------------------------------------------------------------------
def _kinds_part(part: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """Per text column: how many values of each kind, and a few examples of each."""
    rows = []
    for column in columns:
        counts = part[column].value_counts(dropna=True, sort=False)
        kinds: dict[str, list[Any]] = {}
        for value, n in counts.items():
            kind = validate._kind(value)
            entry = kinds.setdefault(kind, [0, []])
            entry[0] += int(n)
            if len(entry[1]) < validate._EXAMPLES:
                entry[1].append(value)
        rows += [(column, k, n, list(ex)) for k, (n, ex) in kinds.items()]
    return pd.DataFrame(rows, columns=["column", "kind", "n", "examples"])


def _mixed_problems(frame: dd.DataFrame, columns: list[str], where: str) -> list[str]:
    """validate's 'mixed types' problem, from kinds counted on the cluster."""
    if not columns:
        return []
    meta = pd.DataFrame({"column": [], "kind": [], "n": [], "examples": []}).astype(
        {"column": object, "kind": object, "n": "int64", "examples": object}
    )
    (kinds,) = computed(where, frame.map_partitions(_kinds_part, columns, meta=meta))
    problems = []
    for column, group in kinds.groupby("column", sort=False):
        totals: Counter[str] = Counter()
        examples: dict[str, list[Any]] = {}
        for row in group.itertuples():
            totals[row.kind] += int(row.n)
            examples.setdefault(row.kind, []).extend(row.examples)
        if len(totals) > 1:
            dominant = totals.most_common(1)[0][0]
            others = [v for k, ex in examples.items() if k != dominant for v in ex]
            problems.append(validate._mixed_message(str(column), dominant, totals, others, ""))
    return problems


REGRESSION_REFUSAL = (
    "target '{target}' is a quantity (data.task: regression, decided by prepare), and the "
    "cluster (compute.scheduler) trains classifiers only: set compute.scheduler: null to "
    "train a regressor on one machine, or data.task: classification"
)


def validate_source(
    frame: dd.DataFrame,
    source: str,
    target: str,
    test_size: float,
    min_rows_per_class: int,
    schema: dict[str, str] | None = None,
    drop: list[str] | None = None,
    task: str = CLASSIFICATION,
) -> dd.DataFrame:
    """validate.validate_source on the cluster: the labelled rows, or every problem at once."""
    where = data.source_label(source)
    if task == REGRESSION:
        raise DataError(where, [REGRESSION_REFUSAL.format(target=target)])
    columns = [str(c) for c in frame.columns]
    if not columns:
        raise DataError(where, ["no columns: the table is empty"])
    problems = validate._duplicate_name_problems(frame._meta)
    schema = dict(schema or {})
    problems += validate._declared_type_problems(schema, frame._meta)
    if target not in columns:
        problems.append(
            f"target column '{target}' (params.yaml data.target) not found; "
            f"columns are: {', '.join(columns[:30])}"
        )
        raise DataError(where, problems)
    overrides = {k: v for k, v in schema.items() if k in columns and v in validate.SCHEMA_TYPES}
    checked = [c for c in columns if c not in set(drop or []) or c == target]
    textual = [c for c in checked if c not in overrides and _textual(frame._meta[c])]
    filled, labels, rows = computed(
        where, frame.count(), frame[target].value_counts(), frame.shape[0]
    )
    if rows == 0:
        shown = ", ".join(columns[:30])
        raise DataError(where, [f"no rows: only a header was found (columns: {shown})"])
    problems += [
        f"column '{c}': entirely empty ({rows} rows, no value); fill it or list it in "
        "params.yaml data.drop"
        for c in checked
        if int(filled[c]) == 0
    ]
    problems += _mixed_problems(frame, textual, where)
    label_type = frame._meta[target]
    numeric = pd.api.types.is_numeric_dtype(label_type) and not pd.api.types.is_bool_dtype(
        label_type
    )
    quantity = numeric and counts_look_continuous(labels)
    problems += data.class_problems(labels, quantity, target, test_size, min_rows_per_class)
    if not data.feature_columns(frame._meta, target):
        problems.append("no feature columns besides the target")
    if problems:
        raise DataError(where, list(dict.fromkeys(problems)))
    labelled = frame[~frame[target].isna()]
    if overrides:
        labelled = labelled.astype({c: validate.SCHEMA_TYPES[t] for c, t in overrides.items()})
    return labelled


def _textual(meta: pd.Series) -> bool:
    return pd.api.types.is_object_dtype(meta) or pd.api.types.is_string_dtype(meta)


# -- splitting, writing, reading back ---------------------------------------------------
def _side(part: pd.DataFrame, seed: int, test_size: float, test: bool) -> pd.DataFrame:
    """The rows of a partition on one side of the split, from a seeded hash of each row."""
    key = f"{SPLIT_HASH_KEY}{seed}"[-16:].rjust(16, "0")
    hashes = pd.util.hash_pandas_object(part, index=False, hash_key=key).to_numpy()
    share = hashes / float(np.iinfo(np.uint64).max)
    return part[(share < test_size) == test]


def split(frame: dd.DataFrame, test_size: float, seed: int) -> tuple[dd.DataFrame, dd.DataFrame]:
    """Train and test rows by a seeded hash of each row's content.

    The same row lands on the same side on every run, whatever the
    partitioning; each class keeps its share in expectation (not exactly, as
    the stratified split on one machine does).
    """
    train = frame.map_partitions(_side, seed, test_size, False)
    test = frame.map_partitions(_side, seed, test_size, True)
    return train, test


def write_parquet(frame: dd.DataFrame, path: Path) -> Path:
    """A partitioned Parquet dataset: a folder of part files, written by the workers."""
    path.parent.mkdir(parents=True, exist_ok=True)
    computed(f"{path}", frame.to_parquet(path, write_index=False, compute=False))
    return path


def read_parquet(path: Path) -> dd.DataFrame:
    """A Parquet file or dataset written by prepare, read by the workers.

    Every column is read (map_partitions stops Dask from reading only those a
    later step uses), so features and labels taken from it come in the same
    partitions, row for row, as LightGBM on Dask needs.
    """
    return dd.read_parquet(path).map_partitions(data.plain_dtypes)


def sample_rows(frame: dd.DataFrame, max_rows: int, seed: int) -> pd.DataFrame:
    """At most about ``max_rows`` rows in the stage's process: all of them, or a seeded sample."""
    n = int(len(frame))
    if n > max_rows:
        frame = frame.sample(frac=max_rows / n, random_state=seed)
    (rows,) = computed("a sample of the rows", frame)
    return rows.reset_index(drop=True)


def sample_source(
    frame: dd.DataFrame, sample: float | int | None, seed: int
) -> dd.DataFrame:
    """prepare.sample on the cluster: a seeded share of each partition's rows."""
    if sample is None:
        return frame
    share = sample if sample < 1 else sample / max(int(len(frame)), 1)
    return frame if share >= 1 else frame.sample(frac=share, random_state=seed)


def client_rows(frame: dd.DataFrame, seed: int) -> pd.DataFrame:
    """What the stage's process fits or infers on: a seeded sample of CLIENT_ROWS rows."""
    return sample_rows(frame, CLIENT_ROWS, seed)


# -- summaries for explore ---------------------------------------------------------------
def overview(frame: dd.DataFrame, target: str) -> pd.DataFrame:
    """eda.overview's table (dtype, missing, distinct, example) computed on the cluster."""
    columns = list(frame.columns)
    rows, missing, *distinct = computed(
        "the training split",
        frame.shape[0],
        frame.isna().sum(),
        *[frame[c].nunique(dropna=True) for c in columns],
    )
    first = frame.head(EXAMPLE_ROWS)
    table = []
    for i, col in enumerate(columns):
        values = first[col].dropna()
        table.append(
            {
                "column": str(col),
                "role": "target" if col == target else "feature",
                "dtype": str(frame._meta[col].dtype),
                "missing": int(missing[col]),
                "missing %": round(float(missing[col]) / max(rows, 1) * 100, 1),
                "distinct": int(distinct[i]),
                "example": str(values.iloc[0] if len(values) else None),
            }
        )
    return pd.DataFrame(table)


def describe(frame: dd.DataFrame) -> str:
    """What was read, and how: the description load_source keeps with the frame."""
    return str(frame._meta.attrs.get("source", "the source"))
