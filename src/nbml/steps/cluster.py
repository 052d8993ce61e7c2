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
import time
from collections import Counter
from pathlib import Path
from typing import Any

import dask
import dask.dataframe as dd
import numpy as np
import pandas as pd
import pyarrow as pa
from distributed import Client, KilledWorker, LocalCluster, default_client, wait
from distributed.comm.core import CommClosedError

from nbml.errors import ClusterError, DataError
from nbml.messages import progress
from nbml.steps import data, kinds, validate
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
# How often a computation looks at the workers while it waits, and how long
# every worker may stay paused at its memory limit before the stage gives up.
WATCH_SECONDS = 5.0
PAUSED_SECONDS = 60.0
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
        if any(name is not None for name in frame._meta.index.names):
            # a saved named index (or several levels): columns, as on one machine
            frame = frame.map_partitions(data._index_as_columns, clear_divisions=True)
        return frame.map_partitions(data.plain_dtypes)
    dialect = data.sniff_csv(path, csv)
    head = data.csv_head(path, dialect)
    problems = data._header_problems(path, dialect, head)
    problems += data._truncation_problems(path, dialect, head)
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
        **dialect.read_options(),
        dtype=dtypes,
    )
    frame.columns = [c.strip() if isinstance(c, str) else c for c in frame.columns]
    progress(f"reading {path.name} on the cluster: {frame.npartitions} block(s)")
    frame._meta.attrs["dialect"] = dialect.describe()
    return frame


def computed(what: str, *collections: Any) -> tuple[Any, ...]:
    """dask.compute, with a lost worker, a parse error or a stall named instead of a traceback."""
    try:
        return _watched(what, collections)
    except (ValueError, TypeError) as exc:
        raise DataError(what, [f"the cluster could not read or convert it: {exc}"]) from None
    except (KilledWorker, CommClosedError) as exc:
        raise ClusterError(
            f"{what}: the cluster lost the work ({exc}); Dask ran it again on other workers "
            "until it gave up: check the workers' logs and memory (compute.worker_memory)"
        ) from None


def _watched(what: str, collections: tuple[Any, ...]) -> tuple[Any, ...]:
    """The results, computed on the client's cluster while watching that the work can run.

    A worker above 80% of its memory limit pauses: it runs nothing until its
    memory falls, and memory the process cannot give back never falls. When
    every worker stays paused, nothing would ever finish; the stage says so
    instead of waiting for ever.
    """
    try:
        client = default_client()
    except ValueError:  # no cluster: Dask's own schedulers never pause
        return dask.compute(*collections)
    futures = client.compute(list(collections))
    paused_since: float | None = None
    while True:
        try:
            wait(futures, timeout=WATCH_SECONDS)
        except TimeoutError:
            pass
        else:  # gathered outside the try: a TimeoutError of the work itself is its error
            return tuple(client.gather(futures))
        if not _every_worker_paused(client):
            paused_since = None
            continue
        now = time.monotonic()
        if paused_since is None:
            paused_since = now
            progress(f"{what}: every worker is paused at its memory limit; waiting for memory")
        elif now - paused_since >= PAUSED_SECONDS:
            client.cancel(futures)
            raise ClusterError(
                f"{what}: every worker stayed paused at its memory limit for "
                f"{PAUSED_SECONDS:.0f} s, so nothing could run; give each worker more memory "
                "(params.yaml compute.worker_memory), add workers, or read fewer rows "
                "(prepare.sample)"
            )


def _every_worker_paused(client: Client) -> bool:
    workers = client.scheduler_info(n_workers=-1).get("workers", {})
    return bool(workers) and all(w.get("status") == "paused" for w in workers.values())


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


def _infinite_problems(frame: dd.DataFrame, columns: list[str], where: str) -> list[str]:
    """validate's 'infinite values' problem, counted on the cluster (no row numbers)."""
    floats = [c for c in columns if pd.api.types.is_float_dtype(frame._meta[c])]
    if not floats:
        return []
    counts = computed(where, *(np.isinf(frame[c]).sum() for c in floats))
    found = zip(floats, counts, strict=True)
    return [validate.infinite_message(c, int(n), "") for c, n in found if n]


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
    columns = [str(c) for c in frame.columns]
    if not columns:
        raise DataError(where, ["no columns: the table is empty"])
    problems = validate._duplicate_name_problems(frame._meta)
    schema = dict(schema or {})
    problems += validate._declared_type_problems(schema, frame._meta)
    problems += validate._unknown_drop_problems(drop, frame._meta)
    if target not in columns:
        problems.append(
            f"target column '{target}' (params.yaml data.target) not found; "
            f"columns are: {', '.join(columns[:30])}"
        )
        raise DataError(where, problems)
    overrides = {k: v for k, v in schema.items() if k in columns and v in validate.SCHEMA_TYPES}
    checked = [c for c in columns if c not in set(drop or []) or c == target]
    textual = [c for c in checked if c not in overrides and _textual(frame._meta[c])]
    filled, rows = computed(where, frame.count(), frame.shape[0])
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
    problems += _infinite_problems(frame, checked, where)
    if task == REGRESSION:
        problems += _quantity_problems(frame, target, int(filled[target]), test_size, where)
    else:
        problems += _class_problems(frame, target, test_size, min_rows_per_class, where)
    if not data.feature_columns(frame._meta, target):
        problems.append("no feature columns besides the target")
    if problems:
        raise DataError(where, list(dict.fromkeys(problems)))
    labelled = frame[~frame[target].isna()]
    if overrides:
        labelled = labelled.astype({c: validate.SCHEMA_TYPES[t] for c, t in overrides.items()})
    return labelled


def _class_problems(
    frame: dd.DataFrame, target: str, test_size: float, min_rows_per_class: int, where: str
) -> list[str]:
    """data.class_problems from the rows per class counted on the cluster."""
    (labels,) = computed(where, frame[target].value_counts())
    label_type = frame._meta[target]
    numeric = pd.api.types.is_numeric_dtype(label_type) and not pd.api.types.is_bool_dtype(
        label_type
    )
    quantity = numeric and counts_look_continuous(labels)
    return data.class_problems(labels, quantity, target, test_size, min_rows_per_class)


def _quantity_problems(
    frame: dd.DataFrame, target: str, labelled: int, test_size: float, where: str
) -> list[str]:
    """data's regression checks (not constant, rows for both splits) from the target's range.

    No value counts: a quantity has about as many distinct values as rows.
    """
    values = frame[target].astype("float64")
    low, high = computed(where, values.min(), values.max())
    found = "none" if labelled == 0 else ", ".join(str(v) for v in dict.fromkeys((low, high)))
    return data.quantity_problems(labelled == 0 or low == high, found, labelled, target, test_size)


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
    schema = _parquet_schema(frame, f"{path}")
    computed(f"{path}", frame.to_parquet(path, write_index=False, schema=schema, compute=False))
    return path


# Values per partition and object column that _parquet_schema types the column from.
TYPE_ROWS = 1000


def _value_types(part: pd.DataFrame) -> pd.DataFrame:
    """Per column of a partition: the Arrow type of its values (null when it has none)."""
    # a few values each: the checks before a split is written refuse a column of mixed kinds
    types = [
        pa.array(part[c].dropna().head(TYPE_ROWS), from_pandas=True).type for c in part.columns
    ]
    return pd.DataFrame({"column": list(part.columns), "type": types})


def _parquet_schema(frame: dd.DataFrame, what: str) -> Any:
    """The dataset's Arrow schema, with object columns typed from their values.

    Dask infers the schema from a made-up row of the frame's meta, which with
    pandas 3 holds a bare ``object()`` in an object column (a boolean with
    gaps, True/False/NaN, is one): pyarrow cannot type it and the write
    failed. The types of those columns are read from their values on the
    workers (from TYPE_ROWS values per partition and column), so every part file gets
    the type one machine's ``to_parquet`` would give.
    """
    meta = frame._meta
    objects = [c for c in meta.columns if pd.api.types.is_object_dtype(meta[c].dtype)]
    if not objects:
        return "infer"
    empty = pd.DataFrame({"column": pd.Series(dtype=object), "type": pd.Series(dtype=object)})
    (found,) = computed(
        f"{what}: the types of {objects}", frame[objects].map_partitions(_value_types, meta=empty)
    )
    fields = {
        f.name: f
        for f in pa.Schema.from_pandas(
            dd.utils.meta_nonempty(meta.drop(columns=objects)), preserve_index=False
        ).remove_metadata()
    }
    for column in objects:
        kinds = set(found.loc[found["column"] == column, "type"]) - {pa.null()}
        # several types (refused by the checks before a split is written): let pyarrow say
        fields[column] = pa.field(column, kinds.pop() if len(kinds) == 1 else pa.null())
    return pa.schema([fields[c] for c in meta.columns])


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
    frame: dd.DataFrame,
    target: str,
    sample: float | int | None,
    seed: int,
    task: str = CLASSIFICATION,
    min_rows_per_class: int | None = None,
) -> dd.DataFrame:
    """prepare.sample on the cluster: a seeded share of each partition's rows.

    Not stratified (that would shuffle the table between workers), so a class can
    come out smaller than its share: with ``min_rows_per_class`` (classification),
    the rows per class are counted before and after, in one pass over the target
    column the workers already hold, and a class the sample left short is refused
    as on one machine (data.check_sampled_classes).
    """
    if sample is None:
        return frame
    rows = None if sample < 1 else int(len(frame))
    share = sample if rows is None else sample / max(rows, 1)
    of = "" if rows is None else f" of {rows:,}"
    if share >= 1:
        progress(f"prepare.sample={sample}: every row kept (the table has {rows:,})")
        return frame
    progress(f"prepare.sample={sample}: a seeded {share:.2%} of each partition's rows{of} kept")
    kept = frame.sample(frac=share, random_state=seed)
    if min_rows_per_class is not None and task == CLASSIFICATION and target in frame.columns:
        before, after = computed(
            f"prepare.sample={sample}", frame[target].value_counts(), kept[target].value_counts()
        )
        data.check_sampled_classes(before, after, target, sample, min_rows_per_class)
    return kept


def client_rows(frame: dd.DataFrame, seed: int) -> pd.DataFrame:
    """What the stage's process fits or infers on: a seeded sample of CLIENT_ROWS rows."""
    return sample_rows(frame, CLIENT_ROWS, seed)


def source_keys(frame: dd.DataFrame, target: str) -> dict[str, str]:
    """kinds.source_keys on the cluster: each integer column's count, distinct values and
    range over every row (row order is not looked at: partitions hold it in pieces)."""
    columns = kinds.integer_columns(frame._meta, target)
    if not columns:
        return {}
    per_column = [
        (frame[c].count(), frame[c].nunique(), frame[c].min(), frame[c].max()) for c in columns
    ]
    rows, *flat = computed(
        "the source's integer columns", frame.shape[0], *[x for four in per_column for x in four]
    )
    found = {}
    for i, col in enumerate(columns):
        present, distinct, low, high = flat[4 * i : 4 * i + 4]
        if reason := kinds.key_reason(int(present), int(distinct), low, high):
            found[str(col)] = f"{reason}, on all {rows:,} rows of the source"
    return found


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


# -- exact order statistics of values spread over the workers ------------------------------
# Bins per refinement round, and values an interval may hold before they are brought here.
RANK_BINS = 4096
RANK_ROWS = 100_000


def _in_interval(values: np.ndarray, low: float, high: float, closed: bool) -> np.ndarray:
    upper = values <= high if closed else values < high
    return values[(values >= low) & upper]


def _interval_counts(
    values: np.ndarray, intervals: list[tuple[float, float, bool]]
) -> list[tuple[np.ndarray, float, float]]:
    """Per interval: the values in each of its RANK_BINS bins, and their min and max."""
    found = []
    for low, high, closed in intervals:
        inside = _in_interval(values, low, high, closed)
        edges = np.linspace(low, high, RANK_BINS + 1)
        bins = np.clip(np.searchsorted(edges, inside, side="right") - 1, 0, RANK_BINS - 1)
        counts = np.bincount(bins, minlength=RANK_BINS)
        extremes = (float(inside.min()), float(inside.max())) if len(inside) else (np.inf, -np.inf)
        found.append((counts, *extremes))
    return found


def _interval_values(values: np.ndarray, intervals: list[tuple[float, float, bool]]) -> list:
    return [_in_interval(values, *interval) for interval in intervals]


def _extremes(values: np.ndarray) -> tuple[float, float]:
    return (float(values.min()), float(values.max())) if len(values) else (np.inf, -np.inf)


Interval = tuple[float, float, bool, int]  # low, high, high included, values below low


def _narrow(interval: Interval, k: int, counts: np.ndarray) -> tuple[Interval, int]:
    """The bin of ``interval`` that holds rank k, as an interval of its own; its values."""
    low, high, closed, offset = interval
    before = np.concatenate([[0], np.cumsum(counts)])
    j = int(np.searchsorted(before, k - offset, side="right") - 1)
    edges = np.linspace(low, high, RANK_BINS + 1)
    last = closed and j == RANK_BINS - 1
    return (float(edges[j]), float(edges[j + 1]), last, offset + int(before[j])), int(counts[j])


def _gathered(parts: list[Any], intervals: dict[int, Interval], what: str) -> dict[int, float]:
    """Rank k from the values of its interval, brought here (at most RANK_ROWS each)."""
    if not intervals:
        return {}
    keys = sorted(intervals)
    bounds = [intervals[k][:3] for k in keys]
    per_part = computed(what, *[dask.delayed(_interval_values)(p, bounds) for p in parts])
    found = {}
    for i, k in enumerate(keys):
        values = np.sort(np.concatenate([part[i] for part in per_part]))
        found[k] = float(values[k - intervals[k][3]])
    return found


def order_statistics(parts: list[Any], ranks: list[int], what: str) -> dict[int, float]:
    """The values of the given ranks (0: the smallest) among every value of ``parts``.

    ``parts`` are Dask delayed 1-d float arrays without NaN (one per
    partition). Exact, with bounded memory here: each round counts the
    values of the interval known to hold a rank in RANK_BINS bins on the
    workers and narrows it to the bin holding the rank, until that bin holds
    at most RANK_ROWS values (brought here and sorted) or a single value.
    """
    extremes = computed(what, *[dask.delayed(_extremes)(p) for p in parts])
    low, high = min(e[0] for e in extremes), max(e[1] for e in extremes)
    pending: dict[int, Interval] = {k: (low, high, True, 0) for k in ranks}
    found: dict[int, float] = {}
    sizes: dict[int, int] = {}
    while pending:
        keys = sorted(pending)
        intervals = [pending[k][:3] for k in keys]
        per_part = computed(what, *[dask.delayed(_interval_counts)(p, intervals) for p in parts])
        for i, k in enumerate(keys):
            least = min(part[i][1] for part in per_part)
            if least == max(part[i][2] for part in per_part):
                found[k] = least  # one value left in the interval: that is the rank's
                pending.pop(k)
            else:
                counts = sum(part[i][0] for part in per_part)
                pending[k], sizes[k] = _narrow(pending[k], k, counts)
        small = [k for k in pending if sizes[k] <= RANK_ROWS]
        found.update(_gathered(parts, {k: pending.pop(k) for k in small}, what))
    return found


def _lerp(a: float, b: float, t: float) -> float:
    """numpy.quantile's linear interpolation between two neighbouring order statistics."""
    return b - (b - a) * (1 - t) if t >= 0.5 else a + (b - a) * t


def quantiles(parts: list[Any], n: int, qs: np.ndarray, what: str) -> np.ndarray:
    """numpy.quantile (method 'linear') of the values on the workers, from exact order
    statistics."""
    virtual = n * qs + (1 + qs * (1 - 1 - 1)) - 1
    below = np.clip(np.floor(virtual), 0, n - 1).astype(int)
    above = np.clip(below + 1, 0, n - 1)
    found = order_statistics(parts, sorted(set(below) | set(above)), what)
    gamma = virtual - np.floor(virtual)
    return np.array(
        [_lerp(found[a], found[b], g) for a, b, g in zip(below, above, gamma, strict=True)]
    )


def _values(part: pd.Series) -> np.ndarray:
    values = part.to_numpy(dtype=float)
    return values[~np.isnan(values)]


def target_summary(frame: dd.DataFrame, target: str) -> pd.DataFrame:
    """eda.target_summary on the cluster: the same table, its quantiles exact."""
    values = frame[target].astype("float64")
    rows, mean, std, missing, distinct = computed(
        "the training split",
        values.count(),
        values.mean(),
        values.std(),
        values.isna().sum(),
        values.nunique(),
    )
    stats = {"count": float(rows), "mean": mean, "std": std}
    shares = np.array([0.0, 0.05, 0.25, 0.5, 0.75, 0.95, 1.0])
    if rows:
        parts = [dask.delayed(_values)(p) for p in values.to_delayed()]
        found = quantiles(parts, int(rows), shares, "the training split")
    else:
        found = np.full(len(shares), np.nan)
    names = ["min", "5%", "25%", "50%", "75%", "95%", "max"]
    stats.update(zip(names, found, strict=True))
    summary = pd.Series(stats, dtype=float)
    summary["missing"] = float(missing)
    summary["distinct"] = float(distinct)
    return summary.round(4).rename(target).to_frame()
