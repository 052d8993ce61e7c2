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


def sample(tmp_path: Path, wall: float, machine_ticks: int, own: float) -> threads.CpuSample:
    """A CpuSample read from a fake /proc/stat holding ``machine_ticks`` of user time."""
    stat = tmp_path / f"stat{wall}"
    stat.write_text(f"cpu  {machine_ticks} 0 0 5000 7 0 0 0 0 0\ncpu0 1 2 3 4\n")
    read = threads.cpu_sample(stat)
    return threads.CpuSample(wall, read.machine, own)


def test_others_busy_is_the_machines_cpu_minus_the_runners_own(tmp_path):
    ticks = threads.os.sysconf("SC_CLK_TCK")
    start = sample(tmp_path, 10.0, 0, own=1.0)
    # 0.5 s: the machine used 0.8 CPU s, of which the runner itself 0.3 -> others 1.0 core
    end = sample(tmp_path, 10.5, int(0.8 * ticks), own=1.3)
    assert threads.others_busy(start, end) == pytest.approx(1.0)
    unreadable = threads.cpu_sample(tmp_path / "missing")
    assert unreadable.machine is None and threads.others_busy(unreadable, end) is None


@pytest.mark.parametrize(
    ("busy", "cores", "stage_threads", "policy"),
    [
        (0.0, 2, 2, None),  # free cores: spin (nothing set: libgomp's default)
        (0.4, 2, 2, None),  # a little other work fits in the slack
        (0.6, 2, 2, "PASSIVE"),  # another process wants a core the stage's threads need
        (2.0, 2, 2, "PASSIVE"),
        (1.0, 2, 1, None),  # one thread of ours, one core left free
        (3.0, 8, 4, None),
        (None, 2, 2, "PASSIVE"),  # not readable: the safe choice
    ],
)
def test_idle_threads_spin_only_when_the_cores_are_free(busy, cores, stage_threads, policy):
    env: dict[str, str] = {}
    said = threads.wait_policy(env, busy, cores, stage_threads)
    assert env.get(threads.WAIT_VARIABLE) == policy
    assert said.startswith("sleep" if policy else "spin")


@pytest.mark.parametrize("chosen", [{"OMP_WAIT_POLICY": "ACTIVE"}, {"GOMP_SPINCOUNT": "1000"}])
def test_the_users_wait_setting_wins(chosen):
    env = dict(chosen)
    assert threads.wait_policy(env, 2.0, 2, 2).startswith("as set")
    assert env == chosen


def test_queued_beside_other_experiments_threads_sleep():
    env = {"DVC_EXP_NAME": "exp-1", "OMP_NUM_THREADS": "1"}
    assert threads.wait_policy(env, 0.0, 2, threads.openmp_threads(env)).startswith("sleep")
    assert env[threads.WAIT_VARIABLE] == "PASSIVE"


def test_openmp_threads_reads_the_limit(monkeypatch):
    monkeypatch.setattr(threads, "usable_cores", lambda: 6)
    assert threads.openmp_threads({"OMP_NUM_THREADS": "3"}) == 3
    assert threads.openmp_threads({"OMP_NUM_THREADS": "4,2"}) == 4
    assert threads.openmp_threads({}) == 6 and threads.openmp_threads({"OMP_NUM_THREADS": "x"}) == 6


def test_the_stage_environment_applies_the_rule(monkeypatch):
    """The runner measures the other work since its start and sets the kernel's policy."""
    from nbml.runner import stage

    monkeypatch.setattr(stage, "_prefer_checkout_helpers", lambda proj: None)
    monkeypatch.setattr(stage, "usable_cores", lambda: 2)
    monkeypatch.setattr(threads, "usable_cores", lambda: 2)
    start = threads.CpuSample(0.0, 0.0, 0.0)
    for busy_cpu, policy in ((1.5, "PASSIVE"), (0.1, None)):
        env: dict[str, str] = {}
        monkeypatch.setattr(stage.os, "environ", env)
        monkeypatch.setattr(stage, "cpu_sample", lambda b=busy_cpu: threads.CpuSample(1.0, b, 0.0))
        said = stage._set_run_environment(None, start)
        assert env.get(threads.WAIT_VARIABLE) == policy and "of 2 cores" in said
