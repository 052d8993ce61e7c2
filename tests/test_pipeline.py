"""End to end: the real pipeline with DVC, papermill and the project kernel.

One copy of the project is reproduced once; the tests then run in order on
it, as a user would: inspect results, re-run, run notebooks by hand, save
from JupyterLab, change a parameter, force a full re-run.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

from conftest import copy_project, project_env, run
from nbml.project import Project

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("home")


@pytest.fixture(scope="module")
def repo(tmp_path_factory, home) -> Path:
    repo = copy_project(tmp_path_factory.mktemp("e2e") / "project")
    run(["dvc", "repro"], repo, env=project_env(home))
    return repo


def ran_stages(output: str) -> set[str]:
    return set(re.findall(r"Running stage '(\w+)'", output))


def test_every_declared_output_exists_and_metrics_are_sane(repo):
    proj = Project.load(repo)
    for stage in proj.pipeline["stages"]:
        for out in proj.stage_files(stage, "outs"):
            assert (repo / out).exists(), f"{stage} did not produce {out}"
    metrics = json.loads((repo / "outputs/metrics.json").read_text())
    assert set(metrics) == set(proj.params["evaluate"]["metrics"])
    for name in ("accuracy", "balanced_accuracy", "f1_macro", "roc_auc_ovr"):
        assert 0.0 <= metrics[name] <= 1.0
    # far better than always guessing the most common class (about 0.44 here)
    train = __import__("pandas").read_parquet(repo / "data/prepared/train.parquet")
    majority = train["species"].value_counts(normalize=True).max()
    assert metrics["accuracy"] > majority + 0.2
    assert metrics["log_loss"] > 0
    shown = run(["dvc", "metrics", "show", "--json"], repo).stdout
    assert "balanced_accuracy" in shown


def test_pipeline_wrote_nothing_to_the_home_directory(repo, home):
    assert [p.name for p in home.iterdir()] == []


def test_reports_open_offline_and_stay_small(repo):
    reports = sorted((repo / "reports").glob("*.html"))
    assert {p.name for p in reports} >= {"index.html", "prepare.html", "evaluate.html"}
    for page in reports:
        html = page.read_text()
        assert not re.search(r"<(script|link)[^>]+(src|href)=\"https?://", html), page.name
        assert page.stat().st_size < 1_000_000, page.name
        assert "jp-InputArea" not in html or "def " not in html  # code is not shown
    index = (repo / "reports/index.html").read_text()
    for stage in ("prepare", "explore", "featurize", "train", "evaluate"):
        assert f'href="{stage}.html"' in index
    assert "<svg" in index and "balanced_accuracy" in index and "learning_rate" in index


def test_second_repro_runs_nothing(repo):
    out = run(["dvc", "repro"], repo).stdout
    assert ran_stages(out) == set()
    assert "didn't change" in out or "up to date" in out


def test_notebooks_run_by_hand_write_the_same_artifacts(repo):
    """nbval runs every notebook in its folder with the project kernel, as
    JupyterLab's 'run all' would; afterwards DVC sees nothing changed."""
    proc = run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--nbval-lax",
            "-p",
            "no:cacheprovider",
            "-q",
            "notebooks",
        ],
        repo,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert re.search(r"\b6 passed\b", proc.stdout) or "passed" in proc.stdout
    status = run(["dvc", "status", "--json"], repo).stdout
    assert json.loads(status) == {}, status


def test_saving_from_jupyterlab_keeps_the_source_clean_and_the_stage_current(repo):
    from jupyter_server.services.contents.filemanager import FileContentsManager
    from traitlets.config import Config

    conf_file = Path(sys.prefix) / "etc/jupyter/jupyter_server_config.d/nbml.json"
    manager = FileContentsManager(
        config=Config(json.loads(conf_file.read_text())), root_dir=str(repo)
    )
    path = "notebooks/train.ipynb"
    before = (repo / path).read_bytes()
    model = manager.get(path)
    nb = model["content"]
    for i, cell in enumerate(nb.cells):  # what an interactive session leaves behind
        if cell.cell_type == "code":
            cell.execution_count = i
            cell.outputs = [{"output_type": "stream", "name": "stdout", "text": "x\n"}]
            cell.metadata["execution"] = {"iopub.status.idle": "2026-01-01T00:00:00Z"}
    nb.metadata["language_info"] = {
        "name": "python",
        "version": "3.11.7",
        "mimetype": "text/x-python",
    }
    manager.save({"type": "notebook", "format": "json", "content": nb}, path)
    assert (repo / path).read_bytes() == before
    assert json.loads(run(["dvc", "status", "--json"], repo).stdout) == {}


def test_changing_a_train_param_reruns_only_train_and_downstream(repo):
    params = repo / "params.yaml"
    text = params.read_text()
    params.write_text(text.replace("learning_rate: 0.1", "learning_rate: 0.05"))
    try:
        out = run(["dvc", "repro"], repo).stdout
        assert ran_stages(out) == {"train", "evaluate", "report"}
    finally:
        params.write_text(text)
    # back to the old value: DVC restores those stages from its run-cache
    out = run(["dvc", "repro"], repo).stdout
    restored = set(re.findall(r"Stage '(\w+)' is cached", out))
    assert ran_stages(out) | restored == {"train", "evaluate", "report"}


def test_forced_repro_gives_the_same_bytes_and_lock(repo):
    lock = (repo / "dvc.lock").read_text()
    executed = {p.name: p.read_bytes() for p in (repo / "outputs/notebooks").glob("*.ipynb")}
    reports = {p.name: p.read_bytes() for p in (repo / "reports").glob("*.html")}
    run(["dvc", "repro", "-f"], repo)
    assert (repo / "dvc.lock").read_text() == lock
    for name, blob in executed.items():
        assert (repo / "outputs/notebooks" / name).read_bytes() == blob, name
    for name, blob in reports.items():
        assert (repo / "reports" / name).read_bytes() == blob, name
