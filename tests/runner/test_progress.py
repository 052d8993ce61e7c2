"""Progress lines reach the terminal while a stage runs (the notebook stays byte-stable)."""

from __future__ import annotations

import time

from nbml.messages import PROGRESS_PREFIX, progress
from nbml.runner.progress import Heartbeat, ProgressEcho, RunState


def test_progress_lines_are_echoed_as_they_arrive_and_others_are_not(capsys):
    state = RunState("prepare", cells=5)
    echo = ProgressEcho(state)
    echo.write(f"{PROGRESS_PREFIX} reading data/raw/x.csv")  # no newline yet: waits
    assert capsys.readouterr().err == ""
    echo.write(" (100 MB)\nsome other stderr line\n")
    assert capsys.readouterr().err == f"{PROGRESS_PREFIX} reading data/raw/x.csv (100 MB)\n"


def test_progress_is_flushed_with_its_prefix(capsys):
    progress("fitting on 10 rows")
    assert capsys.readouterr().err == f"{PROGRESS_PREFIX} fitting on 10 rows\n"


def test_heartbeat_names_the_running_cell_when_nothing_else_was_said(capsys):
    state = RunState("train", cells=9)
    state.cell_started(4, "fit", cells=10)  # papermill's injected parameters cell counts
    beat = Heartbeat(state, every=0.2)
    beat.start()
    time.sleep(0.9)
    beat.stop()
    beat.join()
    lines = capsys.readouterr().err.splitlines()
    assert lines and all("stage 'train':" in line for line in lines)
    assert "running cell 5 of 10 ('fit')" in lines[0]
