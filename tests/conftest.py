"""Shared fixtures: a throw-away copy of the project as its own git + DVC repo."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

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


@pytest.fixture(scope="session")
def reproduced(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One copy with the whole pipeline run once, shared by read-only checks."""
    repo = copy_project(tmp_path_factory.mktemp("reproduced") / "project")
    run(["dvc", "repro"], repo)
    yield repo


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
