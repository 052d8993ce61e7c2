"""Drive DVC's experiment queue from scripts: start, wait with a limit, clean up.

Queue workers have been reported to hang (iterative/dvc#8165, #10398), and
after the queue is empty one worker stays idle. Anything that starts workers
(the benchmark, the tests) waits with a time limit and then stops them.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from pathlib import Path

import psutil

from nbml.errors import QueueTimeout

_ROW = re.compile(r"^(\S+)\s+(\S+)\s+.*\s(Queued|Running|Success|Failed)\s*$")
DONE = frozenset({"Success", "Failed"})
_TASK_DONE = 3  # dvc TaskStatus: SUCCESS=3, FAILED=4, CANCELED=5, FINISHED=6


def _dvc(args: list[str], root: Path, env: dict[str, str] | None, timeout: float = 120) -> str:
    proc = subprocess.run(
        ["dvc", *args], cwd=root, env=env, capture_output=True, text=True, timeout=timeout
    )
    if proc.returncode != 0:
        raise RuntimeError(f"dvc {' '.join(args)} exited {proc.returncode}:\n{proc.stderr}")
    return proc.stdout


def parse_status(text: str) -> dict[str, str]:
    """``{experiment name: status}`` from ``dvc queue status`` output."""
    found: dict[str, str] = {}
    for line in text.splitlines():
        match = _ROW.match(line.strip())
        if match and match.group(1) != "Task":
            found[match.group(2)] = match.group(3)
    return found


def status(root: Path, env: dict[str, str] | None = None) -> dict[str, str]:
    """The queue's tasks and their states."""
    return parse_status(_dvc(["queue", "status"], root, env))


def finished_runs(root: Path, since: float) -> int:
    """Queued runs DVC has marked done since ``since`` (cheap: reads its run files).

    ``dvc queue status`` starts DVC (about 0.6 s of CPU) each time; polling it
    every second would compete with the experiments on a 2-core machine. The
    executor info files under ``.dvc/tmp/exps/run/`` say the same thing.
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
    root: Path,
    timeout: float,
    env: dict[str, str] | None = None,
    poll: float = 0.5,
    confirm_every: float = 5.0,
) -> dict[str, str]:
    """Block until no task is queued or running; raise QueueTimeout after ``timeout`` s.

    Watches DVC's run files often and asks ``dvc queue status`` only when they
    say everything is done, or every ``confirm_every`` seconds in any case.
    """
    since = time.time() - 1
    deadline = time.monotonic() + timeout
    current = status(root, env)
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
            current = status(root, env)
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
        return wait(root, timeout, env)
    finally:
        stop(root, env)
