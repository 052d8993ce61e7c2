"""The model to serve: the file ``dvc.lock`` records, checked byte for byte, loaded with skops.

A model file that DVC did not record (trained by hand, copied in, or edited)
is refused: answers must be traceable to the run that produced them.
Loading goes through :func:`nbml.steps.model.load_model`, which trusts only
the listed types and never reads pickle.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from pandas.api import types as ptypes

from nbml.errors import ModelError, ServeError
from nbml.project import Project, load_yaml
from nbml.steps.model import load_model

LOCK_FILE = "dvc.lock"
_CHUNK = 1 << 20


def file_md5(path: Path) -> str:
    """md5 of a file, as DVC computes it for a file output."""
    digest = hashlib.md5()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def recorded_out(lock: dict[str, Any], rel_path: str) -> tuple[str, str]:
    """The stage that records ``rel_path`` as an output in dvc.lock, and its md5."""
    for stage, spec in (lock.get("stages") or {}).items():
        for out in spec.get("outs") or []:
            if out.get("path") == rel_path and out.get("md5"):
                return stage, str(out["md5"])
    raise ServeError(
        f"{LOCK_FILE} records no {rel_path}: run `dvc repro` (or `dvc pull`) first, "
        "then serve the model it records"
    )


@dataclass(frozen=True)
class ServedModel:
    """A loaded model and where it came from."""

    model: Any
    path: Path
    rel_path: str
    md5: str
    stage: str
    lock: dict[str, Any]


def load_recorded_model(project: Project) -> ServedModel:
    """Load the model dvc.lock records; refuse a missing, unrecorded or different file."""
    rel = project.path_names["model"]
    path = project.root / rel
    lock_path = project.root / LOCK_FILE
    if not lock_path.is_file():
        raise ServeError(f"{lock_path}: not found; run `dvc repro` first to train a model")
    lock = load_yaml(lock_path) or {}
    stage, recorded = recorded_out(lock, rel)
    if not path.is_file():
        raise ServeError(f"{rel}: no model file; run `dvc repro` (or `dvc pull`) first")
    actual = file_md5(path)
    if actual != recorded:
        raise ServeError(
            f"{rel}: md5 {actual} differs from {recorded} recorded by stage '{stage}' in "
            f"{LOCK_FILE}; refusing to serve a model no run recorded. Run `dvc repro` "
            "(or `dvc checkout` to restore the recorded one)"
        )
    try:
        model = load_model(path)
    except ModelError as exc:
        raise ServeError(str(exc)) from None
    return ServedModel(model, path, rel, actual, stage, lock)


def split_parts(path: Path) -> list[Path]:
    """A split's Parquet files: the file itself, or the part files of the folder a Dask
    cluster writes, in the order pandas reads them."""
    if not path.is_dir():
        return [path]
    # lazy: pyarrow.dataset is needed only to list a folder of part files
    import pyarrow.dataset as ds

    return [Path(f) for f in ds.dataset(path, format="parquet").files]


def _distinct(values: pd.Series, keep_all: bool) -> pd.Series:
    """What the request schema needs of a column: for a number, its first value, minimum and
    maximum; for the rest (and ``keep_all``), each distinct value once, in order of rows."""
    if keep_all or not ptypes.is_numeric_dtype(values) or ptypes.is_bool_dtype(values):
        return values.drop_duplicates()
    present = values.dropna()
    return present.iloc[[0, present.argmin(), present.argmax()]] if len(present) else present


def training_frame(project: Project, categorical: set[str] | None = None) -> dict[str, pd.Series]:
    """Per column of the training split, the values its request schema is read from.

    Read one part file at a time (a Dask cluster's split is a folder of them) and
    reduced to what :func:`nbml.serving.schema.column_spec` uses: the same kind,
    example, categories and range as the whole split, without holding it.
    """
    path = project.root / project.path_names["train"]
    if not path.exists():
        raise ServeError(f"{path}: training split not found; run `dvc repro` first")
    keep = categorical or set()
    found: dict[str, pd.Series] = {}
    for part in split_parts(path):
        frame = pd.read_parquet(part)
        for column in frame.columns:
            both = pd.concat([found[column], frame[column]]) if column in found else frame[column]
            found[column] = _distinct(both, column in keep)
    return found


def test_frame(project: Project) -> pd.DataFrame | None:
    """The first rows of the test split (its first part file), for the try-it page's example
    row and the start-up self-check."""
    path = project.root / project.path_names["test"]
    return pd.read_parquet(split_parts(path)[0]) if path.exists() else None


def read_metrics(project: Project) -> dict[str, Any]:
    """The metrics the last evaluate wrote, or {} when it has not run."""
    path = project.root / project.path_names["metrics"]
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return {}
