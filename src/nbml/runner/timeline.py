"""When each part of a stage run happened, in seconds since its process started.

The runner marks its steps (imports done, stage files read, kernel started,
parameters checked, notebook executed, report exported, files written) and
keeps the marks in the run record (``logs/runs/STAGE.json``, ``timeline``),
next to papermill's per-cell times. ``make bench-scale`` reads them to show
where a stage's seconds go beyond its cells; docs/performance.md has the
figures. Only the run record sees the times: the executed notebook and the
report keep the same bytes.
"""

from __future__ import annotations

import os
import time
from pathlib import Path


def process_age(stat: Path = Path("/proc/self/stat")) -> float:
    """Seconds since this process was created (0.0 where /proc cannot tell)."""
    try:
        fields = stat.read_text().rsplit(")", 1)[1].split()
        started = int(fields[19]) / os.sysconf("SC_CLK_TCK")  # field 22: start time, in ticks
        return max(0.0, time.clock_gettime(time.CLOCK_BOOTTIME) - started)
    except (OSError, ValueError, IndexError, AttributeError):
        return 0.0


class Timeline:
    """Named moments of one run, as seconds since the process started."""

    def __init__(self) -> None:
        age = process_age()
        self.origin = time.monotonic() - age
        # the wall-clock start, to line the marks up with other processes (dvc's)
        self.marks: dict[str, float] = {"process started (epoch)": round(time.time() - age, 3)}

    def mark(self, name: str) -> float:
        """Note that ``name`` happened now; return its time."""
        self.marks[name] = round(time.monotonic() - self.origin, 3)
        return self.marks[name]

    def at(self, moment: float) -> float:
        """A ``time.monotonic()`` reading as seconds since the process started."""
        return round(moment - self.origin, 3)
