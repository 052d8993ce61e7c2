"""Where the served answers come from: model md5, git revision, training params, metrics."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from nbml.errors import ServeError
from nbml.project import PARAMS_FILE, Project
from nbml.serving.loading import LOCK_FILE, read_metrics, training_frame
from nbml.serving.schema import ColumnSpec, feature_specs
from nbml.steps.summary import columns_used

GIT_TIMEOUT = 10


def git_revision(root: Path) -> dict[str, Any]:
    """The checked-out commit and whether tracked files differ from it (None without git)."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True,
            timeout=GIT_TIMEOUT, check=True,
        ).stdout.strip()
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
            capture_output=True, text=True, timeout=GIT_TIMEOUT, check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return {"revision": None, "dirty": None}
    return {"revision": head, "dirty": bool(status.strip())}


def stage_params(lock: dict[str, Any], stage: str) -> dict[str, Any]:
    """The params.yaml entries dvc.lock records for a stage (what it ran with)."""
    spec = (lock.get("stages") or {}).get(stage) or {}
    return dict((spec.get("params") or {}).get(PARAMS_FILE) or {})


def recorded_target(lock: dict[str, Any], project: Project, stage: str) -> str:
    """The label column the model was trained on, as dvc.lock records it."""
    params = stage_params(lock, stage)
    if "data.target" in params:
        return str(params["data.target"])
    if isinstance(params.get("data"), dict) and "target" in params["data"]:
        return str(params["data"]["target"])
    return str(project.params.get("data", {}).get("target", ""))


def read_feature_types(project: Project) -> dict[str, Any]:
    path = project.root / project.path_names.get("feature_types", "")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, IsADirectoryError, json.JSONDecodeError):
        return {}


def request_specs(project: Project, lock: dict[str, Any], stage: str) -> list[ColumnSpec]:
    """The request columns: the training split's columns but the target, typed from it."""
    types = read_feature_types(project)
    train = training_frame(project, set(types.get("categorical", [])))
    target = recorded_target(lock, project, stage)
    if target not in train:
        raise ServeError(
            f"{LOCK_FILE} records target '{target}', which the training split does not have"
        )
    columns = [str(c) for c in train if c != target]
    # every column of a feature kind (dates and booleans too); all when the file is missing
    used = set(columns_used(types)) or set(columns)
    # the values seen are listed for categories and booleans only (all without the file)
    listed = {str(c) for kind in ("categorical", "boolean") for c in types.get(kind, [])}
    categorical = set(types.get("categorical", []))
    return feature_specs(train, columns, used, categorical, listed if types else None)


def describe(project: Project, lock: dict[str, Any], stage: str, md5: str) -> dict[str, Any]:
    """The /metadata answer, except what needs the loaded model (classes)."""
    return {
        "model": {"path": project.path_names["model"], "md5": md5, "stage": stage},
        "git": git_revision(project.root),
        "params": stage_params(lock, stage),
        "metrics": read_metrics(project),
    }
