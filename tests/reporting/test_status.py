"""reports/status.js: which stages ran in the last repro; metric changes as DVC gives them."""

from __future__ import annotations

import json
import os

from nbml.reporting import status


def record(root, stage: str, session: str | None, mtime: float) -> None:
    path = root / "logs" / "runs" / f"{stage}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"stage": stage, "seconds": 1.5, "session": session}))
    os.utime(path, (mtime, mtime))


def test_stages_of_the_newest_repro_ran_and_the_others_were_skipped(tmp_path):
    record(tmp_path, "prepare", "100:5", 1000)
    record(tmp_path, "train", "200:9", 2000)
    record(tmp_path, "report", "200:9", 2001)
    runs = status.read_runs(tmp_path)
    assert {s: r["ran"] for s, r in runs.items()} == {
        "prepare": False,
        "train": True,
        "report": True,
    }
    assert runs["train"]["seconds"] == 1.5


def test_a_start_time_decides_when_given(tmp_path):
    record(tmp_path, "prepare", None, 1000)
    record(tmp_path, "train", None, 2000)
    runs = status.read_runs(tmp_path, since=1500)
    assert (runs["prepare"]["ran"], runs["train"]["ran"]) == (False, True)
    # without a session or a start time nothing can be said to have run
    assert not any(r["ran"] for r in status.read_runs(tmp_path).values())


def test_change_rows_carry_the_direction_aware_mark():
    diff = {"outputs/metrics.json": {"log_loss": {"old": 0.2, "new": 0.1, "diff": -0.1}}}
    (row,) = status.change_rows(diff, "outputs/metrics.json")
    assert row["verdict"] == "better" and row["change"] == "-0.1 ▼ better"
    assert status.change_rows(None, "outputs/metrics.json") is None
