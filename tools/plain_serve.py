"""The plain way to serve the model, as the tutorials do: the benchmark's baseline.

A FastAPI endpoint builds a pandas DataFrame from each request and calls the
scikit-learn pipeline; uvicorn runs it in one process with default settings.
Same contract as ``/predict`` of the real service, so both get the same load.
Run by ``tools.bench_serve``: ``uvicorn tools.plain_serve:app``.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from fastapi import FastAPI

from nbml.project import paths
from nbml.steps.model import load_model

app = FastAPI()
model = load_model(paths().model)


@app.get("/health")
def health() -> dict[str, str]:
    return {"status": "ok"}


@app.post("/predict")
def predict(body: dict[str, Any]) -> dict[str, Any]:
    frame = pd.DataFrame(body["rows"])
    labels = model.predict(frame).tolist()
    proba = model.predict_proba(frame).tolist()
    classes = [str(c) for c in model.classes_]
    return {
        "predictions": [
            {"label": label, "probabilities": dict(zip(classes, p, strict=True))}
            for label, p in zip(labels, proba, strict=True)
        ]
    }
