"""Shared fixtures: a throw-away copy of the project as its own git + DVC repo."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from filelock import FileLock

from tools import copies

ROOT = Path(__file__).resolve().parents[1]
# The service tests' fixtures (a model trained in seconds, a live server). A
# conftest.py of their own in tests/serving/ would shadow this module for
# `from conftest import ...` in every test collected after it.
pytest_plugins = ["serving_fixtures"]
VENV_BIN = Path(sys.executable).parent


def tracked_files(root: Path = ROOT) -> list[str]:
    """Files a fresh clone of the project would hold."""
    return copies.tracked_files(root)


def notebook_code(path: Path) -> str:
    """A notebook's code cells as one Python source; IPython magics and shell
    lines (``%``, ``!``) are commented out, so it parses and still shows them."""
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    code = ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]
    return "\n".join(re.sub(r"^([%!])", r"# \1", c, flags=re.M) for c in code)


def project_env(home: Path | None = None) -> dict[str, str]:
    """Environment for commands run in a copy: the venv first on PATH."""
    env = dict(os.environ)
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    env.pop("NBML_ROOT", None)
    env.setdefault("GIT_AUTHOR_NAME", "test")
    env.setdefault("GIT_AUTHOR_EMAIL", "test@example.invalid")
    env.setdefault("GIT_COMMITTER_NAME", "test")
    env.setdefault("GIT_COMMITTER_EMAIL", "test@example.invalid")
    if home is not None:
        env["HOME"] = str(home)
    return env


def run(
    args: list[str],
    cwd: Path,
    check: bool = True,
    env: dict[str, str] | None = None,
    timeout: float = 600,
) -> subprocess.CompletedProcess[str]:
    """Run a command in a copy; on unexpected failure show its output."""
    proc = subprocess.run(
        args, cwd=cwd, env=env or project_env(), capture_output=True, text=True, timeout=timeout
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"{' '.join(args)} exited {proc.returncode}\n--- stdout\n{proc.stdout}\n"
            f"--- stderr\n{proc.stderr}"
        )
    return proc


def set_params(repo: Path, section: str, **values: object) -> str:
    """Set entries of one params.yaml section in a copy; return the file's old text.

    Edits the parsed file rather than its text, so it works whatever values
    the project's params.yaml holds.
    """
    path = repo / "params.yaml"
    text = path.read_text()
    params = yaml.safe_load(text)
    params.setdefault(section, {}).update(values)
    path.write_text(yaml.safe_dump(params, sort_keys=False))
    return text


def copy_project(dest: Path) -> Path:
    """Copy the tracked project into ``dest`` and make it a fresh git repo."""
    return copies.copy_tracked(ROOT, dest, project_env())


@pytest.fixture
def project_copy(tmp_path: Path) -> Path:
    """A fresh copy of the project (no outputs yet) in its own git repo."""
    return copy_project(tmp_path / "project")


@dataclass(frozen=True)
class Baseline:
    """The default pipeline reproduced once per test run, committed; never changed after."""

    repo: Path
    home: Path  # the HOME that run had: the pipeline must leave it empty


def shared_temp(factory: pytest.TempPathFactory) -> Path:
    """A folder of this test run that every xdist worker sees (``make test`` runs several)."""
    base = factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def built_once(factory: pytest.TempPathFactory, name: str, build: Callable[[Path], None]) -> Path:
    """``shared_temp/name``, built by ``build(folder)`` once per test run, by whichever worker
    asks first.

    The first worker builds it under a file lock; the others wait and reuse it.
    A failed build leaves no ready mark, so the next worker tries again and fails
    with its own output.
    """
    shared = shared_temp(factory)
    folder, ready = shared / name, shared / f"{name}.ready"
    with FileLock(str(shared / f"{name}.lock")):
        if not ready.exists():
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(parents=True)
            build(folder)
            ready.touch()
    return folder


@pytest.fixture(scope="session")
def baseline(tmp_path_factory: pytest.TempPathFactory) -> Baseline:
    """One ``dvc repro`` of a fresh copy for the whole run (:func:`built_once`).

    Half the end-to-end modules start from exactly this state; each takes a copy
    (:func:`reproduced_copy`) instead of running the same pipeline again.
    """

    def build(folder: Path) -> None:
        (folder / "home").mkdir()
        repo = copy_project(folder / "project")
        run(["dvc", "repro"], repo, env=project_env(folder / "home"))
        run(["git", "add", "-A"], repo)
        run(["git", "commit", "-q", "--allow-empty", "-m", "reproduced"], repo)

    folder = built_once(tmp_path_factory, "baseline", build)
    return Baseline(folder / "project", folder / "home")


def _dvc_scratch(folder: str, names: list[str]) -> set[str]:
    # .dvc/tmp holds DVC's locks and its hash index of this checkout's files
    return {"tmp"} if Path(folder).name == ".dvc" else set()


def copy_built(repo: Path, dest: Path) -> Path:
    """A copy of a built project (work tree, git, DVC cache) at ``dest``, to change freely.

    The same as running ``dvc repro`` and committing in a fresh copy, in a
    fraction of a second. The default remote (``../../nbml-remote``) is
    relative, so the copy pushes next to itself, never to the original's.
    """
    shutil.copytree(repo, dest, symlinks=True, ignore=_dvc_scratch)
    return dest


def reproduced_copy(baseline: Baseline, dest: Path) -> Path:
    """A copy of the reproduced baseline at ``dest`` (:func:`copy_built`)."""
    return copy_built(baseline.repo, dest)


@pytest.fixture(scope="session")
def reproduced(tmp_path_factory: pytest.TempPathFactory, baseline: Baseline) -> Path:
    """A reproduced, committed copy shared by the checks that only read it."""
    return reproduced_copy(baseline, tmp_path_factory.mktemp("reproduced") / "project")


@pytest.fixture
def frame() -> pd.DataFrame:
    """A tiny labelled table: a separating number, a category with gaps, a constant, an id."""
    rng = np.random.default_rng(0)
    n = 60
    label = np.repeat(["a", "b", "c"], n // 3)
    return pd.DataFrame(
        {
            "size": rng.normal(size=n) + (label == "b") * 3,
            "colour": rng.choice(["red", "blue", None], size=n),
            "constant": 1,
            "name": [f"row{i}" for i in range(n)],
            "label": label,
        }
    )


@pytest.fixture(scope="session", autouse=True)
def venv_still_points_at_this_checkout() -> Iterator[None]:
    """After the run, the venv's editable install still imports this checkout's package.

    Tests run make targets in copies with this venv; a reinstall there would
    silently point every later command at the copy.
    """
    yield
    proc = subprocess.run(
        [sys.executable, "-c", "import nbml; print(nbml.__file__)"],
        cwd="/",
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
        capture_output=True,
        text=True,
    )
    assert proc.stdout.strip() == str(ROOT / "src" / "nbml" / "__init__.py"), proc.stderr
