"""The run record's time line: seconds since the runner's process started."""

from __future__ import annotations

import os
import time
from pathlib import Path

from nbml.runner.timeline import Timeline, process_age


def fake_stat(tmp_path: Path, seconds_ago: float) -> Path:
    """A /proc/PID/stat line whose process started ``seconds_ago`` (field 22, in ticks)."""
    ticks = os.sysconf("SC_CLK_TCK")
    started = int((time.clock_gettime(time.CLOCK_BOOTTIME) - seconds_ago) * ticks)
    fields = ["S", *["0"] * 18, str(started), "0"]  # fields 3.. ; the 20th is field 22
    path = tmp_path / "stat"
    path.write_text(f"4242 (python (odd) name) {' '.join(fields)}\n")
    return path


def test_process_age_reads_the_start_time_after_the_command_name(tmp_path):
    assert abs(process_age(fake_stat(tmp_path, 5.0)) - 5.0) < 0.1


def test_process_age_is_zero_where_proc_cannot_tell(tmp_path):
    assert process_age(tmp_path / "missing") == 0.0
    (tmp_path / "bad").write_text("garbage")
    assert process_age(tmp_path / "bad") == 0.0


def test_marks_count_from_the_process_start():
    age = process_age()
    timeline = Timeline()
    first = timeline.mark("one")
    assert age - 0.001 <= first < age + 5  # marks are rounded to milliseconds
    assert timeline.mark("two") >= first
    assert timeline.at(time.monotonic()) >= timeline.marks["two"]
    assert abs(timeline.marks["process started (epoch)"] - (time.time() - first)) < 1
