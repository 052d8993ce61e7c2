"""A trained project for the service tests, built in seconds with the stages' own helpers.

The pipeline's steps (load, split, feature types, preprocessor, estimator,
skops file) run in-process on the bundled penguins data into a temporary
project, and a ``dvc.lock`` records the model's md5 and training params as
``dvc repro`` would: a fresh clone (CI) has no trained model to serve.
"""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient

from nbml.project import Project, paths
from nbml.serving.app import create_app
from nbml.serving.loading import file_md5
from nbml.serving.settings import Settings
from nbml.steps import data, feature_types, features, model
from served import serve_env
from tools import loopback

TARGET = "species"
ROOT = Path(__file__).resolve().parents[1]
START_TIMEOUT = 90
FIT_ROUNDS = 40


def train_into(root: Path) -> None:
    """prepare, featurize and train as the notebooks do, into ``root``; then a dvc.lock."""
    params = Project.load(root).params
    # fewer boosting rounds than params.yaml: the same kind of model, trained in a second
    params["train"]["kwargs"] = {**params["train"]["kwargs"], "max_iter": FIT_ROUNDS}
    P = paths(root)
    raw = data.load_source("penguins", root=root, raw_dir="data/raw")
    labelled = raw.dropna(subset=[TARGET])
    train, test = data.split(labelled, TARGET, params["prepare"]["test_size"], 42)
    data.write_parquet(train, P.train)
    data.write_parquet(test, P.test)
    types = feature_types.infer_feature_types(train, TARGET)
    P.feature_types.parent.mkdir(parents=True, exist_ok=True)
    P.feature_types.write_text(json.dumps(types.to_dict()))
    X, y = data.split_xy(train, TARGET)
    estimator = model.make_estimator(params["train"]["estimator"], params["train"]["kwargs"])
    # as featurize and train do: categories as codes for HistGradientBoosting
    codes = params["featurize"]["category_codes"]
    pre = features.build_preprocessor(types, category_codes=codes).fit(X, y)
    model.split_on_codes(estimator, pre)
    fitted = model.compose(pre, model.fit_rows(pre, estimator, X, y).fit(estimator))
    model.save_model(fitted, P.model)
    P.metrics.parent.mkdir(parents=True, exist_ok=True)
    P.metrics.write_text(json.dumps({"accuracy": 0.99}))
    write_lock(root, params)


def write_lock(root: Path, params: dict[str, Any]) -> None:
    rel = Project.load(root).path_names["model"]
    lock = {
        "schema": "2.0",
        "stages": {
            "train": {
                "cmd": "python -m nbml.runner train",
                "params": {"params.yaml": {"data.target": TARGET, "train": params["train"]}},
                "outs": [{"path": rel, "hash": "md5", "md5": file_md5(root / rel)}],
            }
        },
    }
    (root / "dvc.lock").write_text(yaml.safe_dump(lock, sort_keys=False))


def make_project(dest: Path) -> Path:
    dest.mkdir(parents=True)
    for name in ("dvc.yaml", "params.yaml"):
        shutil.copy(ROOT / name, dest / name)
    train_into(dest)
    return dest


@pytest.fixture(scope="session")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project with splits, feature types, a model and the dvc.lock recording it (read-only)."""
    return make_project(tmp_path_factory.mktemp("served") / "project")


@pytest.fixture
def trained_copy(trained: Path, tmp_path: Path) -> Path:
    """A copy of the trained project a test may break."""
    return Path(shutil.copytree(trained, tmp_path / "project"))


@pytest.fixture(scope="session")
def client(trained: Path) -> Iterator[TestClient]:
    """The app in-process (lifespan run), small limits so the 413 cases are cheap."""
    settings = Settings(trained, max_rows=100, max_body_bytes=64 * 1024)
    with TestClient(create_app(settings)) as test_client:
        yield test_client


@pytest.fixture(scope="session")
def live_server(trained: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``python -m nbml.serving serve`` on a free loopback port; stopped after the tests."""
    port = loopback.free_port()
    log = tmp_path_factory.mktemp("live") / "serve.log"
    env = serve_env(PORT=str(port), WORKERS="2", NBML_MAX_BODY_BYTES=str(256 * 1024))
    proc = loopback.start([sys.executable, "-m", "nbml.serving", "serve"], trained, env, log)
    base = f"http://{loopback.HOST}:{port}"
    try:
        loopback.wait_ready(proc, f"{base}/ready", START_TIMEOUT, log)
        yield base
    finally:
        loopback.stop(proc)
