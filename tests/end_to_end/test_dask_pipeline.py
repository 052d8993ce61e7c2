"""End to end on a Dask cluster: `dvc repro` with compute.scheduler: local.

A copy of the project trains LightGBM on a generated Parquet table of four
row groups (so four partitions over two workers); every stage starts its own
LocalCluster on 127.0.0.1 and stops it. A forced second run must give the
same metrics and the same model file.
"""

from __future__ import annotations

import json

import numpy as np
import pyarrow.parquet as pq
import pytest
import yaml

from conftest import copy_project, run, set_params
from nbml.steps.model import load_model
from tools.bench_scale import synthetic_chunk

pytestmark = pytest.mark.slow

ROWS = 12_000


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    repo = copy_project(tmp_path_factory.mktemp("dask") / "project")
    raw = repo / "data" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    pq.write_table(
        synthetic_chunk(ROWS, np.random.default_rng(0)),
        raw / "gen.parquet",
        row_group_size=ROWS // 4,
    )
    set_params(repo, "data", source="data/raw/gen.parquet", target="label")
    set_params(repo, "compute", scheduler="local", workers=2, worker_memory="1GiB")
    set_params(repo, "evaluate", importance_repeats=2, importance_sample=500)
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["train"] = {
        "estimator": "lightgbm.LGBMClassifier",
        "kwargs": {"n_estimators": 60, "num_leaves": 15, "random_state": 42},
    }
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    run(["dvc", "add", "-q", "data/raw/gen.parquet"], repo)
    run(["dvc", "repro"], repo, timeout=900)
    return repo


def model_md5(repo) -> str:
    lock = yaml.safe_load((repo / "dvc.lock").read_text())
    (out,) = lock["stages"]["train"]["outs"][:1]
    return out["md5"]


def test_the_pipeline_runs_on_the_cluster_and_writes_the_usual_outputs(repo):
    metrics = json.loads((repo / "outputs" / "metrics.json").read_text())
    assert set(metrics) == {"accuracy", "balanced_accuracy", "f1_macro", "roc_auc_ovr", "log_loss"}
    assert metrics["accuracy"] > 0.5  # three classes, the largest about 40%
    train = repo / "data" / "prepared" / "train.parquet"
    assert train.is_dir() and len(list(train.glob("*.parquet"))) == 4
    model = load_model(repo / "data" / "models" / "model.skops")
    assert type(model.steps[-1][1]).__name__ == "LGBMClassifier"
    notebook = (repo / "outputs" / "notebooks" / "train.ipynb").read_text()
    assert "Dask: a LocalCluster on 127.0.0.1, 2 worker(s)" in notebook
    for plot in (repo / "outputs" / "plots").glob("*.csv"):
        assert plot.stat().st_size < 1_000_000


def test_a_second_run_gives_the_same_metrics_and_model(repo):
    metrics = (repo / "outputs" / "metrics.json").read_text()
    md5 = model_md5(repo)
    run(["dvc", "repro", "-f", "prepare", "featurize", "train", "evaluate"], repo, timeout=900)
    assert (repo / "outputs" / "metrics.json").read_text() == metrics
    assert model_md5(repo) == md5
