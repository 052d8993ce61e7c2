"""End to end on a Dask cluster: `dvc repro` with compute.scheduler: local.

A copy of the project trains LightGBM on a generated Parquet table of four
row groups (so four partitions over two workers); every stage starts its own
LocalCluster on 127.0.0.1 and stops it. The workers hold less of the data
than the table (1 MiB workers, 0.6 MiB of it for data, a 2.5 MB table: the
rest is spilled to their disks; their own Python is not limited, or they
could not start). A forced second fit must give the same model file. A
quantity (regression) runs through the same notebooks.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import yaml

from conftest import copy_project, project_env, run, set_params
from nbml.steps.model import load_model
from tools.bench_scale import synthetic_chunk

pytestmark = pytest.mark.slow

ROWS = 12_000
# Dask settings of the stages' LocalCluster workers (from the environment, as a user
# would set them): data beyond 60% of compute.worker_memory is spilled to disk; the
# process's own memory (imports, ~200 MB) neither pauses nor kills them.
SMALL_WORKERS = {
    **{f"DASK_DISTRIBUTED__WORKER__MEMORY__{k}": "False" for k in ("SPILL", "PAUSE", "TERMINATE")},
    "DASK_DISTRIBUTED__WORKER__MEMORY__TARGET": "0.6",
}


def repro(repo, *args: str):
    return run(["dvc", "repro", *args], repo, env={**project_env(), **SMALL_WORKERS}, timeout=900)


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
    on_cluster(repo, "lightgbm.LGBMClassifier")
    run(["dvc", "add", "-q", "data/raw/gen.parquet"], repo)
    output = repro(repo)
    return repo, output.stdout + output.stderr


def on_cluster(repo, estimator: str) -> None:
    set_params(repo, "compute", scheduler="local", workers=2, worker_memory="1MiB")
    set_params(repo, "evaluate", importance_repeats=2, importance_sample=500)
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["train"] = {
        "estimator": estimator,
        "kwargs": {"n_estimators": 60, "num_leaves": 15, "random_state": 42},
    }
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


def model_md5(repo) -> str:
    lock = yaml.safe_load((repo / "dvc.lock").read_text())
    (out,) = lock["stages"]["train"]["outs"][:1]
    return out["md5"]


def test_the_pipeline_runs_on_the_cluster_and_writes_the_usual_outputs(repo):
    repo, output = repo
    # LightGBM's socket is never offered for spilling (Dask cannot pickle it)
    assert "Failed to pickle" not in output and "_RemoteSocket" not in output
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


def test_a_second_fit_gives_the_same_model_so_nothing_downstream_reruns(repo):
    # the split's and the fit's determinism on the cluster are unit-tested in
    # test_cluster.py; here the stage as dvc runs it gives the same bytes
    repo, _ = repo
    md5 = model_md5(repo)
    repro(repo, "-f", "-s", "train")
    assert model_md5(repo) == md5
    # the same model and the same train report (no LightGBM network chatter with its
    # random ports in it) leave evaluate and report up to date
    status = json.loads(run(["dvc", "status", "--json"], repo).stdout)
    assert status == {}, status
    assert "[LightGBM] [Info]" not in (repo / "outputs/notebooks/train.ipynb").read_text()


def test_a_quantity_is_predicted_on_the_cluster(tmp_path):
    repo = copy_project(tmp_path / "project")
    rng = np.random.default_rng(1)
    n = 4000
    x = rng.normal(size=(n, 2))
    colour = rng.choice(["red", "green", "blue"], n)
    price = 3 * x[:, 0] - x[:, 1] + (colour == "red") + rng.normal(scale=0.3, size=n)
    frame = pd.DataFrame({"a": x[:, 0], "b": x[:, 1], "colour": colour, "price": price})
    (repo / "data" / "raw").mkdir(parents=True, exist_ok=True)
    frame.to_csv(repo / "data" / "raw" / "q.csv", index=False)
    set_params(repo, "data", source="data/raw/q.csv", target="price")
    on_cluster(repo, "lightgbm.LGBMRegressor")
    run(["dvc", "add", "-q", "data/raw/q.csv"], repo)
    repro(repo, "evaluate")
    metrics = json.loads((repo / "outputs" / "metrics.json").read_text())
    assert set(metrics) == {"r2", "rmse", "mae", "median_absolute_error"}
    assert metrics["r2"] > 0.9
    baseline = json.loads((repo / "outputs" / "baseline.json").read_text())
    assert baseline["metrics"]["r2"] < 0.01
    assert len(json.loads((repo / "outputs" / "per_class.json").read_text())) == 4
    versus = pd.read_csv(repo / "outputs" / "plots" / "predicted_actual.csv")
    assert 0 < len(versus) <= 2000
    model = load_model(repo / "data" / "models" / "model.skops")
    assert type(model.steps[-1][1]).__name__ == "LGBMRegressor"
