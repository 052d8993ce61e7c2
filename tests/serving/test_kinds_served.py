"""The service starts and answers for a model with a date column, a boolean, an identifier
and a target-encoded category: the raw columns in, the saved model's own answers out."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from fastapi.testclient import TestClient

from kinds_tables import table
from nbml.project import Project, paths
from nbml.serving.app import create_app
from nbml.serving.loading import file_md5
from nbml.serving.predictor import Predictor, check_rows
from nbml.serving.service import Service
from nbml.serving.settings import Settings
from nbml.steps import data, feature_types, features, model

ROOT = Path(__file__).resolve().parents[2]


def _lock(root: Path, params: dict) -> None:
    rel = Project.load(root).path_names["model"]
    stage = {
        "cmd": "python -m nbml.runner train",
        "params": {"params.yaml": {"data.target": "label", "train": params["train"]}},
        "outs": [{"path": rel, "hash": "md5", "md5": file_md5(root / rel)}],
    }
    (root / "dvc.lock").write_text(yaml.safe_dump({"schema": "2.0", "stages": {"train": stage}}))


def _trained_project(root: Path, train: pd.DataFrame, test: pd.DataFrame) -> Path:
    """A project at ROOT whose model is trained on TRAIN (target 'label'), as the stages would."""
    root.mkdir()
    for name in ("dvc.yaml", "params.yaml"):
        shutil.copy(ROOT / name, root / name)
    P, params = paths(root), Project.load(root).params
    data.write_parquet(train, P.train)
    data.write_parquet(test, P.test)
    types = feature_types.infer_feature_types(train, "label")
    P.feature_types.parent.mkdir(parents=True, exist_ok=True)
    P.feature_types.write_text(json.dumps(types.to_dict()))
    X, y = data.split_xy(train, "label")
    pre = features.build_preprocessor(types, target_encode_above=100, y=y).fit(X, y)
    estimator = model.make_estimator(params["train"]["estimator"], {"max_iter": 40})
    estimator.fit(model.training_matrix(pre, X, y), y)
    model.save_model(model.compose(pre, estimator), P.model)
    _lock(root, params)
    return root


@pytest.fixture(scope="module")
def dated(tmp_path_factory) -> Path:
    """A trained project whose table has one column of each kind (dates as ISO text)."""
    root = tmp_path_factory.mktemp("dated") / "project"
    return _trained_project(root, table(seed=0), table(seed=1, n=120))


def _with_gappy_boolean(frame: pd.DataFrame, seed: int) -> pd.DataFrame:
    """member as True/False with gaps: an object column of bools and None, as a CSV of
    True/False with empty cells reads, or a Parquet column of pandas' nullable booleans
    once prepare has loaded it."""
    rng = np.random.default_rng(seed)
    member = pd.Series(rng.choice([True, False], len(frame)), dtype=object)
    member[rng.random(len(frame)) < 0.3] = None
    return frame.assign(member=member)


@pytest.fixture(scope="module")
def gappy(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("gappy") / "project"
    train = _with_gappy_boolean(table(seed=0), 0)
    return _trained_project(root, train, _with_gappy_boolean(table(seed=1, n=120), 1))


def test_a_boolean_column_with_gaps_takes_json_booleans(gappy):
    test = pd.read_parquet(paths(gappy).test).head(20)
    assert test["member"].dtype == object and test["member"].isna().any()
    rows = json.loads(test.drop(columns="label").to_json(orient="records"))
    assert {row["member"] for row in rows} == {True, False, None}
    with TestClient(create_app(Settings(gappy))) as client:
        answer = client.post("/predict", json={"rows": rows})
        member = [f for f in client.get("/metadata").json()["features"] if f["name"] == "member"]
    assert answer.status_code == 200, answer.text
    assert member[0]["kind"] == "boolean"
    expected = model.load_model(paths(gappy).model).predict(test.drop(columns="label"))
    assert [p["label"] for p in answer.json()["predictions"]] == list(expected)


def test_the_fast_path_declines_cleanly_and_answers_stay_the_models(dated):
    service = Service.prepare(Settings(dated))
    predictor = service.load()
    assert isinstance(predictor, Predictor) and not predictor.fast
    rows = check_rows(pd.read_parquet(paths(dated).test), service.specs)
    labels, proba = predictor.predict(rows)
    assert (labels, proba.tolist()) == (
        predictor.reference(rows)[0],
        predictor.reference(rows)[1].tolist(),
    )


def test_predict_takes_the_raw_date_column(dated):
    test = pd.read_parquet(paths(dated).test)
    rows = json.loads(test.drop(columns="label").head(20).to_json(orient="records"))
    with TestClient(create_app(Settings(dated))) as client:
        answer = client.post("/predict", json={"rows": rows})
        described = client.get("/openapi.json").text
    assert answer.status_code == 200, answer.text
    fitted = model.load_model(paths(dated).model)
    expected = fitted.predict(test.drop(columns="label").head(20))
    assert [p["label"] for p in answer.json()["predictions"]] == list(expected)
    assert np.mean(expected == test["label"].head(20).to_numpy()) > 0.8
    assert (
        "not used by the model"
        not in json.loads(described)["components"]["schemas"]["Row"]["properties"]["when"][
            "description"
        ]
    )


def test_only_categories_and_booleans_list_the_values_training_saw(dated):
    # an identifier, a date or free text has a value per row: listing them would publish
    # the training split's names and dates in /metadata and fill the try-it page
    with TestClient(create_app(Settings(dated))) as client:
        features = {f["name"]: f for f in client.get("/metadata").json()["features"]}
        page = client.get("/").text
    listed = {name for name, f in features.items() if f["categories"]}
    assert listed == {"shop", "member"}
    shops = pd.read_parquet(paths(dated).train)["shop"]
    assert features["shop"]["categories"] == sorted(shops.unique())
    assert '<input type="text" id="f0" name="when" data-column="when" data-kind="text"' in page
    assert 'name="shop" data-column="shop" data-kind="text"><option value="">' in page
