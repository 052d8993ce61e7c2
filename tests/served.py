"""Helpers of the service tests: the saved model's own answers, the server's environment."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from nbml.project import paths
from nbml.steps.model import load_model

TARGET = "species"


def sample_rows(root: Path, n: int | None = None) -> list[dict[str, Any]]:
    """Rows of the test split as JSON request rows (NaN as null), target dropped."""
    frame = pd.read_parquet(paths(root).test).drop(columns=[TARGET])
    records = json.loads(frame.to_json(orient="records"))
    return records if n is None else records[:n]


def model_answers(root: Path, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The saved model's predict and predict_proba for rows, as the service should answer."""
    fitted = load_model(paths(root).model)
    train = pd.read_parquet(paths(root).train).drop(columns=[TARGET])
    frame = pd.DataFrame(rows, columns=list(train.columns))
    for column in frame:
        kind = train[column].dtype
        frame[column] = frame[column].astype(np.float64 if kind.kind in "fiu" else "str")
    labels = fitted.predict(frame)
    proba = fitted.predict_proba(frame)
    classes = [str(c) for c in fitted.classes_]
    return [
        {"label": str(label), "probabilities": dict(zip(classes, p.tolist(), strict=True))}
        for label, p in zip(labels, proba, strict=True)
    ]


def serve_env(**extra: str) -> dict[str, str]:
    """The environment for ``python -m nbml.serving serve`` in a test project."""
    env = {k: v for k, v in os.environ.items() if k not in ("NBML_ROOT", "WORKERS")}
    return {**env, **extra}
