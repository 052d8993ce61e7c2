"""What a stage may use of the machine: memory before a big load, and threads.

A table that does not fit in memory would make the kernel die halfway
through a stage (an out-of-memory kill names no file and keeps nothing
useful). :func:`check_memory` estimates, before anything is loaded, what
loading a source file will take, and refuses with a message saying what to
do instead. Threads: the runner sets ``OMP_NUM_THREADS`` for each stage
(cores / concurrent experiments); :func:`stage_threads` reads it back for
code that parallelises with processes (joblib) rather than OpenMP.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from nbml.errors import MemoryLimitError

# Environment variable with an upper bound on the memory a stage may use
# (bytes, or with a K/M/G suffix): lower than the machine's free memory on a
# shared machine, and how the tests try the guard.
LIMIT_VARIABLE = "NBML_MEMORY_LIMIT"
_UNITS = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}
_CGROUP = Path("/sys/fs/cgroup")
# Peak memory of the prepare stage, the interpreter aside, is the table it
# loads times PREPARE_FACTOR (the table, and the row group being written:
# nbml.steps.data reads a CSV file in pieces and writes each split a row group
# at a time) plus SPLIT_ROW_BYTES a row (the split's strata, permutations and
# positions, whatever the table's width). Measured on the tables of
# tools/bench_scale.py, the kernel alone: 3.08 GB over its interpreter at 10^7
# rows for a 2.11 GB table (estimate 4.0 GB), 0.36 GB at 10^6 (estimate 0.40 GB).
# The factor was 4.0 when the CSV reader held every parsed chunk next to the
# frame and the split took both halves out of the table.
PREPARE_FACTOR = 1.3
SPLIT_ROW_BYTES = 128
# Reading alone, over the table: a CSV file 1.33 at 10^7 rows (the table, the
# piece being joined, the parser's buffers); a Parquet file 2.0 at 10^6 rows
# (pyarrow's table next to the frame converted from it).
CSV_READ_FACTOR = 1.4
PARQUET_READ_FACTOR = 2.0


def parse_size(text: str) -> int:
    """``"512M"`` -> 536870912; a plain number is bytes."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]?)i?B?\s*", text.upper())
    if not match:
        raise MemoryLimitError(f"{LIMIT_VARIABLE}={text!r}: expected bytes, or e.g. 512M or 4G")
    return int(float(match.group(1)) * _UNITS[match.group(2)])


def _meminfo_available() -> int | None:
    try:
        text = Path("/proc/meminfo").read_text()
    except OSError:
        return None
    match = re.search(r"^MemAvailable:\s+(\d+) kB", text, re.M)
    return int(match.group(1)) * 1024 if match else None


def _cgroup_available() -> int | None:
    """What the container's memory limit (cgroup v2) still leaves, if there is one."""
    try:
        limit = (_CGROUP / "memory.max").read_text().strip()
        used = int((_CGROUP / "memory.current").read_text().strip())
    except (OSError, ValueError):
        return None
    return None if limit == "max" else max(int(limit) - used, 0)


def available_memory() -> int | None:
    """Bytes a stage may still allocate: the least of free memory, cgroup and NBML_MEMORY_LIMIT."""
    limit = os.environ.get(LIMIT_VARIABLE)
    found = [_meminfo_available(), _cgroup_available(), parse_size(limit) if limit else None]
    known = [n for n in found if n is not None]
    return min(known) if known else None


@dataclass(frozen=True)
class MemoryEstimate:
    """What loading a table is expected to take."""

    rows: int
    columns: int
    table_bytes: int  # the loaded frame alone
    needed_bytes: int  # the stage's peak, with its copies


def gigabytes(n: int) -> str:
    return f"{n / 2**30:.2f} GB" if n >= 2**30 / 100 else f"{n / 2**20:.1f} MB"


def check_memory(path: Path, estimate: MemoryEstimate, what_to_do: str) -> None:
    """Raise MemoryLimitError, before loading, when the estimate exceeds what is available."""
    available = available_memory()
    if available is None or estimate.needed_bytes <= available:
        return
    raise MemoryLimitError(
        f"{path}: not loaded: it would need about {gigabytes(estimate.needed_bytes)} of memory "
        f"(~{estimate.rows:,} rows x {estimate.columns} columns, "
        f"{gigabytes(estimate.table_bytes)} as a table, with the stage's working copies), "
        f"but {gigabytes(available)} is available"
        f"{f' ({LIMIT_VARIABLE})' if os.environ.get(LIMIT_VARIABLE) else ''}. {what_to_do}"
    )


def stage_threads() -> int:
    """The cores this stage may use: the runner's OMP_NUM_THREADS, else every core."""
    given = os.environ.get("OMP_NUM_THREADS", "")
    return int(given) if given.isdigit() and int(given) > 0 else (os.cpu_count() or 1)
