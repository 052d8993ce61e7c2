"""A copy of the project trained on a user's own CSV, built once per test session.

test_data_sources.py and test_remote.py both read it, usually on different
xdist workers; building it (a full ``dvc repro``) is the slow part, so the
first worker to ask builds it for all (conftest.built_once), and each worker
reads its own copy. Tests must not modify it: they clone it.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd
import pytest
import yaml

from conftest import built_once, copy_built, copy_project, run

RAW = "data/raw"
SOURCE = f"{RAW}/wine.csv"
TARGET = "cultivar"
# Every output a `dvc pull` or `dvc checkout` must bring back, root-relative.
OUTPUT_DIRS = ("data/prepared", "data/features", "data/models", "outputs", "reports")

_copied: dict[str, Path] = {}


def wine_csv(path: Path, rows: slice = slice(None)) -> pd.DataFrame:
    """scikit-learn's wine data as a European-style CSV: ';', decimal comma, cp1252."""
    from sklearn.datasets import load_wine

    bunch = load_wine(as_frame=True)
    frame = bunch.frame.drop(columns="target")
    frame.insert(0, TARGET, [f"cultivar_{t}" for t in bunch.target])
    frame = frame.iloc[rows].reset_index(drop=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, sep=";", decimal=",", index=False, encoding="cp1252")
    return frame


def set_params(repo: Path, **sections: dict[str, object]) -> None:
    """Update params.yaml sections (one level deep), as a user editing it would."""
    params = yaml.safe_load((repo / "params.yaml").read_text())
    for section, values in sections.items():
        params[section].update(values)
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


def snapshot(repo: Path) -> dict[str, str]:
    """sha256 of the raw data and of every pipeline output, by root-relative path."""
    files = [repo / SOURCE, repo / "dvc.lock"]
    for folder in OUTPUT_DIRS:
        files += [p for p in (repo / folder).rglob("*") if p.is_file()]
    return {
        p.relative_to(repo).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(files)
    }


def wine_project(factory: pytest.TempPathFactory) -> Path:
    """The project on data/raw/wine.csv: added, reproduced, committed. Do not modify."""

    def build(folder: Path) -> None:
        repo = copy_project(folder / "project")
        wine_csv(repo / SOURCE)
        run(["dvc", "add", SOURCE], repo)
        set_params(repo, data={"source": SOURCE, "target": TARGET})
        run(["dvc", "repro"], repo)
        run(["git", "add", "-A"], repo)
        run(["git", "commit", "-q", "-m", "train on wine.csv"], repo)

    if "repo" not in _copied:  # this worker's own copy: its DVC commands lock only it
        built = built_once(factory, "wine", build) / "project"
        _copied["repo"] = copy_built(built, factory.mktemp("wine") / "project")
    return _copied["repo"]
