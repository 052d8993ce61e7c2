"""Drive DVC's experiment queue from scripts: start, wait with a limit, clean up.

Queue workers have been reported to hang (iterative/dvc#8165, #10398), and
after the queue is empty one worker stays idle. Anything that starts workers
(the benchmark, the tests) waits with a time limit and then stops them.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

import psutil
from dvc.repo import Repo

from nbml.errors import QueueTimeout

DONE = frozenset({"Success", "Failed"})
_TASK_DONE = 3  # dvc TaskStatus: SUCCESS=3, FAILED=4, CANCELED=5, FINISHED=6


def _dvc(args: list[str], root: Path, env: dict[str, str] | None, timeout: float = 120) -> str:
    proc = subprocess.run(
        ["dvc", *args], cwd=root, env=env, capture_output=True, text=True, timeout=timeout
    )
    if proc.returncode != 0:
        raise RuntimeError(f"dvc {' '.join(args)} exited {proc.returncode}:\n{proc.stderr}")
    return proc.stdout


def task_states(tasks: list[dict[str, Any]]) -> dict[str, str]:
    """``{experiment name: status}`` from DVC's queue status entries.

    An entry is ``{"rev", "name", "timestamp", "status"}``; a task queued
    without a name is shown by its short revision, as ``dvc queue status`` does.
    """
    return {task.get("name") or str(task["rev"])[:7]: str(task["status"]) for task in tasks}


def status(root: Path) -> dict[str, str]:
    """The queue's tasks and their states: Queued, Running, Success or Failed.

    Read through DVC's Python API (what ``dvc queue status`` prints as a
    table), so no column layout is parsed and no DVC process is started:
    about 50 ms after the first call, against ~0.6 s of CPU for the command.
    """
    with Repo(str(root)) as repo:
        return task_states(repo.experiments.celery_queue.status())


def finished_runs(root: Path, since: float) -> int:
    """Queued runs DVC has marked done since ``since`` (cheap: reads its run files).

    Even in-process, a queue status reads every task message and result of
    the queue; polling it twice a second would compete with the experiments
    on a 2-core machine. The executor info files under ``.dvc/tmp/exps/run/``
    say when to ask.
    """
    count = 0
    for info_file in (root / ".dvc" / "tmp" / "exps" / "run").glob("*/*.run"):
        try:
            if info_file.stat().st_mtime < since:
                continue
            info = json.loads(info_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if info.get("location") != "workspace" and int(info.get("status", 0)) >= _TASK_DONE:
            count += 1
    return count


def wait(
    root: Path, timeout: float, poll: float = 0.5, confirm_every: float = 5.0
) -> dict[str, str]:
    """Block until no task is queued or running; raise QueueTimeout after ``timeout`` s.

    Watches DVC's run files often and asks the queue's status only when they
    say everything is done, or every ``confirm_every`` seconds in any case.
    """
    since = time.time() - 1
    deadline = time.monotonic() + timeout
    current = status(root)
    expected = sum(1 for s in current.values() if s not in DONE)
    checked = time.monotonic()
    while True:
        if current and all(s in DONE for s in current.values()):
            return current
        if time.monotonic() > deadline:
            raise QueueTimeout(f"queue not finished after {timeout:g} s: {current}")
        time.sleep(poll)
        waited = time.monotonic() - checked
        if waited >= confirm_every or (finished_runs(root, since) >= expected and waited >= 1):
            current = status(root)
            checked = time.monotonic()


def stop(root: Path, env: dict[str, str] | None = None) -> None:
    """Stop the workers of this repository's queue, killing any that linger."""
    try:
        _dvc(["queue", "stop", "--kill"], root, env, timeout=60)
    except (RuntimeError, subprocess.TimeoutExpired):
        pass
    for pid in worker_pids(root):
        try:
            os.kill(pid, 9)
        except ProcessLookupError:
            pass


def worker_pids(root: Path) -> list[int]:
    """Processes of ``dvc exp queue-worker`` whose working directory is ``root``."""
    pids = []
    want = str(root.resolve())
    for proc in psutil.process_iter(["pid", "cmdline", "cwd"]):
        try:
            cmd = " ".join(proc.info["cmdline"] or [])
            if "queue-worker" in cmd and (proc.info["cwd"] or "") == want:
                pids.append(proc.info["pid"])
        except (psutil.Error, TypeError):
            continue
    return pids


def start(root: Path, jobs: int, env: dict[str, str] | None = None) -> None:
    """``dvc queue start -j JOBS``, without holding on to the workers' output.

    The workers inherit the command's stdout and stderr: with pipes, reading
    them to the end would wait for the workers to exit, so they go to
    /dev/null (each experiment's output is in ``dvc queue logs NAME``).
    """
    proc = subprocess.run(
        ["dvc", "queue", "start", "-j", str(jobs)],
        cwd=root,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        timeout=120,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"dvc queue start -j {jobs} exited {proc.returncode} in {root}")


def run_queue(
    root: Path, jobs: int, timeout: float, env: dict[str, str] | None = None
) -> dict[str, str]:
    """Start ``jobs`` workers, wait for every queued task, always stop the workers."""
    try:
        start(root, jobs, env)
        return wait(root, timeout)
    finally:
        stop(root, env)
