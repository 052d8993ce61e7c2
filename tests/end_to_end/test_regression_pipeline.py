"""End to end: a numeric target of many values gives a regression pipeline, detected.

One copy of the project, a small cars-like table made here (fuel consumption
from weight, power and origin), one `dvc repro` with data.task: auto and
train.estimator: auto; the tests then read what it wrote, as a user would.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from conftest import copy_project, run, set_params
from nbml.project import Project
from nbml.reporting.compare import VERSUS_HEADING
from nbml.serving.app import create_app
from nbml.serving.settings import Settings
from nbml.steps.model import load_model
from nbml.steps.regression import MAX_PLOT_POINTS, METRICS
from nbml.steps.summary import fmt

pytestmark = pytest.mark.slow

SOURCE = "data/raw/cars.csv"
TARGET = "consumption"
ROWS = 240


def cars(rows: int = ROWS, seed: int = 0) -> pd.DataFrame:
    """A cars-like table: litres per 100 km grow with weight and power; a few gaps."""
    rng = np.random.default_rng(seed)
    weight = rng.uniform(800, 2200, rows)
    power = rng.uniform(50, 250, rows)
    origin = rng.choice(["europe", "japan", "usa"], rows)
    consumption = 2 + weight / 400 + power / 60 + (origin == "usa") * 1.5 + rng.normal(0, 0.4, rows)
    frame = pd.DataFrame(
        {
            "weight": weight.round(0),
            "power": power.round(0),
            "cylinders": rng.choice([4, 6, 8], rows),
            "origin": origin,
            TARGET: consumption.round(2),
        }
    )
    frame.loc[::40, "power"] = np.nan
    return frame


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    repo = copy_project(tmp_path_factory.mktemp("regression") / "project")
    (repo / SOURCE).parent.mkdir(parents=True, exist_ok=True)
    cars().to_csv(repo / SOURCE, index=False)
    run(["dvc", "add", SOURCE], repo)
    set_params(repo, "data", source=SOURCE, target=TARGET)
    run(["dvc", "repro"], repo)
    return repo


def test_the_task_is_detected_printed_and_recorded(repo):
    proj = Project.load(repo)
    record = json.loads((repo / proj.path_names["task"]).read_text())
    assert record["task"] == "regression" and record["requested"] == "auto"
    executed = (repo / "outputs/notebooks/prepare.ipynb").read_text()
    assert "task: regression (detected): target 'consumption' is numeric with" in executed
    for page in ("explore.html", "index.html"):
        assert "task: regression (detected)" in (repo / "reports" / page).read_text()


def test_metrics_are_the_regression_ones_and_beat_the_mean(repo):
    metrics = json.loads((repo / "outputs/metrics.json").read_text())
    assert set(metrics) == set(METRICS)
    test = pd.read_parquet(repo / "data/prepared/test.parquet")
    train = pd.read_parquet(repo / "data/prepared/train.parquet")
    mean_rmse = float(np.sqrt(((test[TARGET] - train[TARGET].mean()) ** 2).mean()))
    assert metrics["rmse"] < mean_rmse / 2 and metrics["r2"] > 0.7
    assert 0 < metrics["median_absolute_error"] <= metrics["mae"] <= metrics["rmse"]
    shown = run(["dvc", "metrics", "show", "--json"], repo).stdout
    assert "median_absolute_error" in shown


def test_index_summary_card_and_slices_are_those_of_a_regression(repo):
    metrics = json.loads((repo / "outputs/metrics.json").read_text())
    reference = json.loads((repo / "outputs/baseline.json").read_text())
    assert reference["strategy"] == "training mean" and set(reference["metrics"]) == set(METRICS)
    assert reference["metrics"]["r2"] <= 0 < metrics["r2"]
    index = (repo / "reports/index.html").read_text()
    headline = f"r2 {fmt(metrics['r2'], [reference['metrics']['r2']])}; always answering the "
    assert headline + f"training mean ({reference['answer']}): " in index
    assert "Regression</b> of <code>consumption</code>" in index
    slices = json.loads((repo / "outputs/per_class.json").read_text())
    assert list(slices) == ["q1", "q2", "q3", "q4"]
    assert sum(s["rows"] for s in slices.values()) == round(ROWS * 0.25)
    assert f"Largest errors where {TARGET} is" in index
    shown = json.loads(run(["dvc", "metrics", "show", "--json"], repo).stdout)
    assert "q4" in json.dumps(shown)
    card = (repo / "data/models/card.md").read_text()
    assert "regression of the quantity `consumption`" in card and "classes:" not in card
    assert "Errors by range of the target" in card and "training mean of consumption" in card
    with TestClient(create_app(Settings(repo))) as client:
        page = client.get("/card")
        assert page.status_code == 200 and "Errors by range of the target" in page.text


def test_plot_files_exist_are_bounded_and_dvc_draws_only_this_tasks(repo):
    plots = repo / "outputs/plots"
    versus = pd.read_csv(plots / "predicted_actual.csv")
    residuals = pd.read_csv(plots / "residuals.csv")
    assert len(versus) == len(residuals) == round(ROWS * 0.25) <= MAX_PLOT_POINTS
    # both files round to 6 significant digits
    assert np.allclose(residuals["residual"], versus["actual"] - versus["predicted"], atol=1e-4)
    for name in ("confusion", "roc", "precision_recall"):
        assert len(pd.read_csv(plots / f"{name}.csv")) == 0  # header only
    assert all(p.stat().st_size < 1_000_000 for p in plots.iterdir())
    importance = pd.read_csv(plots / "importance.csv")
    assert importance["feature"].iloc[0] in ("weight", "power")
    shown = json.loads(run(["dvc", "plots", "show", "--json"], repo).stdout)
    assert not shown.get("errors")
    drawn = {name for name, figures in shown["data"].items() if figures}
    assert drawn == {
        "Predicted vs actual (regression)",
        "Residuals vs predicted (regression)",
        "Feature importance",
    }


def test_the_saved_model_predicts_numbers_from_raw_rows(repo):
    model = load_model(repo / "data/models/model.skops")
    raw = cars(rows=5, seed=7).drop(columns=TARGET)
    predicted = model.predict(raw)
    assert predicted.dtype.kind == "f" and predicted.shape == (5,)
    assert np.all((predicted > 3) & (predicted < 20))
    assert not hasattr(model, "predict_proba")


def test_compare_page_and_pr_report_show_regression_metrics(repo):
    """The copy's first commit holds the bundled penguins run: both tasks side by side."""
    run([sys.executable, "-m", "nbml.reporting.compare"], repo)
    page = (repo / "reports/compare.html").read_text()
    assert "rmse ↓" in page and "r2 ↑" in page and "accuracy ↑" in page
    assert VERSUS_HEADING in page and "Confusion matrices" in page
    run([sys.executable, "-m", "nbml.reporting.pr_report", "--base", "HEAD"], repo)
    report = (repo / "reports/pr-report.md").read_text()
    assert "rmse" in report and "accuracy" in report
    # directions from nbml.steps.summary: a regression metric against the penguins commit is new
    assert "- **rmse** ↓: " in report and "- **r2** ↑: " in report
    assert "(pr-report/predicted_actual.png)" in report


def test_the_service_and_batch_scoring_answer_numbers(repo, tmp_path):
    settings = Settings(repo)
    rows = cars(rows=3, seed=9).drop(columns=TARGET)
    body = {"rows": json.loads(rows.to_json(orient="records"))}
    expected = load_model(repo / "data/models/model.skops").predict(rows)
    with TestClient(create_app(settings)) as client:
        meta = client.get("/metadata").json()
        assert meta["task"] == "regression" and meta["classes"] == []
        assert meta["estimator"] == "HistGradientBoostingRegressor" and meta["tree_walk"] is True
        answer = client.post("/predict", json=body).json()
        assert [p["value"] for p in answer["predictions"]] == expected.tolist()
        columns = [
            {
                "name": c,
                "shape": [3],
                "datatype": "BYTES" if c == "origin" else "FP64",
                "data": body_column,
            }
            for c, body_column in ((c, [r[c] for r in body["rows"]]) for c in rows.columns)
        ]
        infer = client.post("/v2/models/nbml/infer", json={"inputs": columns}).json()
        assert [o["name"] for o in infer["outputs"]] == ["value"]
        assert infer["outputs"][0]["data"] == expected.tolist()
        assert "Prediction: " in client.get("/").text
    source, out = tmp_path / "new.csv", tmp_path / "scored.csv"
    cars(rows=50, seed=11).to_csv(source, index=False)  # the target column is ignored
    run([sys.executable, "-m", "nbml.serving", "score", str(source), str(out)], repo)
    scored = pd.read_csv(out)
    assert list(scored.columns) == ["prediction"] and len(scored) == 50
    assert scored["prediction"].between(3, 20).all()
