"""A copy of the project as a fresh clone would hold it, in a new git repository.

The benchmarks and the end-to-end tests run the real pipeline in such a copy,
so nothing they do touches the checkout they were started from.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path


def tracked_files(root: Path) -> list[str]:
    """Files git tracks, plus new unignored ones: what a fresh clone would hold."""
    files = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=root,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.splitlines()
    return [rel for rel in files if (root / rel).is_file()]


def copy_tracked(root: Path, dest: Path, env: dict[str, str] | None = None) -> Path:
    """Copy what git tracks (a fresh clone's content) into a new git repo on ``main``."""
    for rel in tracked_files(root):
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / rel, dest / rel)
    env = env or {
        **os.environ,
        "GIT_AUTHOR_NAME": "bench",
        "GIT_AUTHOR_EMAIL": "bench@localhost",
        "GIT_COMMITTER_NAME": "bench",
        "GIT_COMMITTER_EMAIL": "bench@localhost",
    }
    for args in (
        ["git", "init", "-q", "-b", "main"],
        ["git", "add", "-A"],
        ["git", "commit", "-qm", "copy of the project"],
    ):
        subprocess.run(args, cwd=dest, check=True, env=env, capture_output=True)
    return dest
