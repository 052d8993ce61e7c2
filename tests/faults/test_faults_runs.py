"""Broken notebooks, interrupted runs and concurrent runs: nothing recorded, nothing lost.

One copy of the project gets an extra cell in notebooks/prepare.ipynb, after
the cell that writes the split, that fails in the way $NBML_FAULT says. It is
run once cleanly (so dvc.lock and the cache hold a good result); each test
then runs `dvc repro -f prepare` with a fault on a copy of that and checks the
exit code, the message, dvc.lock, the cache, the raw data, and that the next
`dvc repro` recovers by itself.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from conftest import ROOT, copy_project, project_env, run

pytestmark = pytest.mark.slow

FAULT_CELL = """\
import os, sys, time
_fault = os.environ.get("NBML_FAULT", "")
if _fault == "raise":
    raise RuntimeError("injected failure")
if _fault == "exit":
    sys.exit(0)
if _fault == "kill":
    os.kill(os.getpid(), 9)
if _fault.startswith("sleep"):
    if os.environ.get("NBML_FAULT_MARK"):  # tells the test the sleep has begun
        open(os.environ["NBML_FAULT_MARK"], "w").close()
    time.sleep(float(_fault.split(":")[1]))
"""


def _write_cell_index(nb: dict) -> int:
    return next(i for i, c in enumerate(nb["cells"]) if c.get("id") == "write")


# How the runner numbers the fault cell: from 1, papermill's injected parameters cell
# included, so one after the cell it follows ("write", the last of prepare's).
FAULT_NUMBER = _write_cell_index(json.loads((ROOT / "notebooks/prepare.ipynb").read_text())) + 2


def _inject_fault_cell(repo: Path) -> None:
    path = repo / "notebooks" / "prepare.ipynb"
    nb = json.loads(path.read_text())
    index = _write_cell_index(nb)
    nb["cells"].insert(
        index + 1,
        {
            "cell_type": "code",
            "execution_count": None,
            "id": "fault",
            "metadata": {},
            "outputs": [],
            "source": FAULT_CELL,
        },
    )
    path.write_text(json.dumps(nb, indent=1, sort_keys=True) + "\n")


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    repo = copy_project(tmp_path_factory.mktemp("faults") / "project")
    _inject_fault_cell(repo)
    run(["git", "commit", "-qam", "fault cell"], repo)
    run(["dvc", "repro", "prepare"], repo)
    return repo


@pytest.fixture
def repo(base: Path, tmp_path: Path) -> Path:
    dest = tmp_path / "project"
    shutil.copytree(base, dest, symlinks=True)
    return dest


def snapshot(repo: Path) -> dict[str, object]:
    """What must not change when a stage fails: lock, cache, raw data, recorded outputs."""
    cache = repo / ".dvc" / "cache"
    return {
        "lock": (repo / "dvc.lock").read_text(),
        "cache": sorted(str(p.relative_to(cache)) for p in cache.rglob("*") if p.is_file()),
        "raw": {str(p): p.read_bytes() for p in (repo / "data" / "raw").rglob("*") if p.is_file()},
    }


def digest(repo: Path) -> dict[str, str]:
    files = [
        *sorted((repo / "data" / "prepared").glob("*")),
        repo / "outputs/notebooks/prepare.ipynb",
        repo / "reports/prepare.html",
    ]
    return {str(f.relative_to(repo)): hashlib.md5(f.read_bytes()).hexdigest() for f in files}


def fault_env(fault: str, **extra: str) -> dict[str, str]:
    env = project_env()
    env["NBML_FAULT"] = fault
    env.update(extra)
    return env


def assert_nothing_lost(
    repo: Path, before: dict[str, object], good: dict[str, str], checkout: bool = False
) -> None:
    after = snapshot(repo)
    assert after["lock"] == before["lock"], "dvc.lock changed for a failed stage"
    assert after["cache"] == before["cache"], "the cache gained objects from a failed run"
    assert after["raw"] == before["raw"], "raw data was modified"
    assert yaml.safe_load(after["lock"])["stages"]["prepare"]["outs"]
    if checkout:  # the last recorded results come back with `dvc checkout`
        run(["dvc", "checkout", "prepare"], repo)
        assert digest(repo) == good
    # the next plain `dvc repro` recovers by itself (from the run-cache, or by running)
    run(["dvc", "repro", "prepare"], repo)
    assert snapshot(repo)["lock"] == before["lock"]
    assert digest(repo) == good
    status = run(["dvc", "status", "prepare"], repo).stdout
    assert "up to date" in status, status


@pytest.mark.parametrize(
    ("fault", "extra", "message"),
    [
        ("raise", {}, f"cell {FAULT_NUMBER} (id 'fault') `import os, sys, time`: RuntimeError"),
        ("exit", {}, "execution stopped before the end"),
        ("kill", {}, "the kernel died (killed, or out of memory)"),
        ("sleep:30", {"NBML_TIMEOUT": "3"}, "a cell ran longer than the execution timeout (3 s)"),
    ],
    ids=["failing-cell", "sys-exit", "killed-kernel", "timeout"],
)
def test_broken_notebook(repo: Path, fault: str, extra: dict[str, str], message: str):
    before, good = snapshot(repo), digest(repo)
    proc = run(["dvc", "repro", "-f", "prepare"], repo, check=False, env=fault_env(fault, **extra))
    assert proc.returncode != 0
    out = proc.stdout + proc.stderr
    assert "stage 'prepare' failed in notebooks/prepare.ipynb" in out
    assert message in out, out
    assert "partially executed notebook kept in logs/failed/prepare.ipynb" in out
    assert (repo / "logs/failed/prepare.ipynb").is_file()
    assert "failed to reproduce 'prepare'" in out
    assert_nothing_lost(repo, before, good, checkout=fault == "raise")


def kernels_in(folder: Path) -> list[int]:
    """Processes (kernels) still running with ``folder`` as working directory."""
    import psutil

    found = []
    for proc in psutil.process_iter(["pid"]):
        try:
            if Path(proc.cwd()) == folder:
                found.append(proc.pid)
        except (psutil.Error, OSError):
            continue
    return found


# A terminal's shell starts commands with Ctrl-C's default action. This test
# process may have inherited SIGINT ignored from an earlier test's process
# (an ignored signal stays ignored across exec), so the command is started
# through a one-line exec that restores the default first.
_SIGINT_DEFAULT = (
    "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); "
    "os.execvp(sys.argv[1], sys.argv[1:])"
)


def start_forced_prepare(repo: Path, env: dict[str, str], **popen: object) -> subprocess.Popen:
    """``dvc repro -f prepare`` in the background, its output captured."""
    return subprocess.Popen(
        [sys.executable, "-c", _SIGINT_DEFAULT, "dvc", "repro", "-f", "prepare"],
        cwd=repo,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **popen,
    )


def test_ctrl_c_during_dvc_repro(repo: Path):
    before, good = snapshot(repo), digest(repo)
    # the fault cell marks when its sleep begins: a fixed wait after the split is
    # written was too short on a loaded machine, and Ctrl-C then hit another cell
    marker = repo.parent / "sleeping"
    env = fault_env("sleep:60", NBML_FAULT_MARK=str(marker))
    proc = start_forced_prepare(repo, env, start_new_session=True)
    deadline = time.time() + 240
    while not marker.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
    assert marker.exists(), "the fault cell never started"
    os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal sends
    out, err = proc.communicate(timeout=60)
    assert proc.returncode != 0
    assert "interrupted" in (out + err).lower(), out + err
    assert "partially executed notebook kept in logs/failed/prepare.ipynb" in err, err
    assert kernels_in(repo / "notebooks") == []  # no kernel left running the sleeping cell
    assert_nothing_lost(repo, before, good)


def test_two_dvc_repro_at_once(repo: Path):
    before, good = snapshot(repo), digest(repo)
    first = start_forced_prepare(repo, fault_env("sleep:8"))
    time.sleep(3)
    second = run(["dvc", "repro", "-f", "prepare"], repo, check=False, env=fault_env(""))
    out, err = first.communicate(timeout=180)
    assert second.returncode != 0
    message = second.stdout + second.stderr
    # DVC 3.67 names the busy output and the process holding it; older DVC: "Unable to acquire lock"
    assert "is busy, it is being blocked by" in message or "Unable to acquire lock" in message
    assert str(first.pid) in message, message
    assert first.returncode == 0, out + err
    lock = yaml.safe_load((repo / "dvc.lock").read_text())
    assert lock["schema"] == "2.0" and lock["stages"]["prepare"]["outs"]
    # one complete run's result: the lock describes exactly what is in the
    # workspace, and the data is that of the earlier good run. (Byte equality
    # of the executed notebook is checked by test_pipeline and test_runner;
    # here, under two concurrent runs, it once differed by one short output.)
    assert "up to date" in run(["dvc", "status", "prepare"], repo).stdout
    data = {k: v for k, v in digest(repo).items() if k.startswith("data/")}
    assert data == {k: v for k, v in good.items() if k.startswith("data/")}
    recorded = {o["path"]: o["md5"] for o in lock["stages"]["prepare"]["outs"]}
    before_lock = yaml.safe_load(before["lock"])["stages"]["prepare"]["outs"]
    assert recorded["data/prepared"] == {o["path"]: o["md5"] for o in before_lock}["data/prepared"]
