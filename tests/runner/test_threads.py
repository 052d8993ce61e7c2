"""Threads per queued experiment: cores / jobs, set by the runner for the kernel."""

from __future__ import annotations

from pathlib import Path

import pytest

from nbml.runner import threads


def fake_proc(tmp_path: Path, *commands: list[str]) -> Path:
    for pid, args in enumerate(commands, start=100):
        (tmp_path / str(pid)).mkdir()
        (tmp_path / str(pid) / "cmdline").write_bytes(b"\0".join(a.encode() for a in args) + b"\0")
    return tmp_path


WORKER = ["/venv/bin/python", "/venv/bin/dvc", "exp", "queue-worker", "dvc-exp-1a2b3c-1@localhost"]


def test_counts_queue_workers_only(tmp_path):
    proc = fake_proc(tmp_path, WORKER, WORKER, ["dvc", "repro"], ["python", "-m", "nbml.runner"])
    assert threads.queue_workers(proc) == 2


@pytest.mark.parametrize(
    ("cores", "jobs", "expected"), [(2, 2, 1), (8, 2, 4), (2, 4, 1), (4, 0, 4)]
)
def test_threads_per_job(cores, jobs, expected):
    assert threads.threads_per_job(cores, jobs) == expected


def test_queued_stage_gets_cores_over_jobs(tmp_path, monkeypatch):
    monkeypatch.setattr(threads, "usable_cores", lambda: 8)
    proc = fake_proc(tmp_path, WORKER, WORKER)
    env = {"DVC_EXP_NAME": "exp-1"}
    assert threads.limit_threads(env, proc) == 4
    assert {env[name] for name in threads.THREAD_VARIABLES} == {"4"}


def test_outside_a_queue_and_a_users_choice_are_left_alone(tmp_path):
    proc = fake_proc(tmp_path, WORKER, WORKER)
    plain: dict[str, str] = {}
    assert threads.limit_threads(plain, proc) is None and plain == {}
    chosen = {"DVC_EXP_NAME": "exp-1", "OMP_NUM_THREADS": "2"}
    assert threads.limit_threads(chosen, proc) is None and chosen["OMP_NUM_THREADS"] == "2"


def test_idle_openmp_threads_sleep_unless_the_user_chose(monkeypatch):
    """Every stage's kernel inherits OMP_WAIT_POLICY=PASSIVE; a value already set is kept."""
    from nbml.runner import stage

    env: dict[str, str] = {}
    monkeypatch.setattr(stage.os, "environ", env)
    monkeypatch.setattr(stage, "_prefer_checkout_helpers", lambda proj: None)
    stage._set_run_environment(None)
    assert env[threads.WAIT_VARIABLE] == "PASSIVE"
    chosen = {threads.WAIT_VARIABLE: "ACTIVE"}
    assert threads.wait_passively(chosen) == "ACTIVE" and chosen[threads.WAIT_VARIABLE] == "ACTIVE"
