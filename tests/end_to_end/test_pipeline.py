"""End to end: the real pipeline with DVC, papermill and the project kernel.

The tests run in order on one copy of the reproduced project (conftest's
``baseline``: the pipeline run once, in a fresh copy, with an empty HOME), as
a user would: inspect results, re-run, run notebooks by hand, save
from JupyterLab, change a parameter, force a full re-run.
"""

from __future__ import annotations

import json
import re
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from conftest import project_env, reproduced_copy, run, set_params
from nbml.project import Project
from nbml.runner import notebook as nbfile
from nbml.runner.jupyter import private_dirs
from nbml.steps.model import estimator_class
from nbml.steps.regression import metric_names
from nbml.steps.task import CLASSIFICATION, estimator_for

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("home")


@pytest.fixture(scope="module")
def repo(tmp_path_factory, baseline) -> Path:
    return reproduced_copy(baseline, tmp_path_factory.mktemp("e2e") / "project")


def ran_stages(output: str) -> set[str]:
    return set(re.findall(r"Running stage '(\w+)'", output))


def test_every_declared_output_exists_and_metrics_are_sane(repo):
    proj = Project.load(repo)
    for stage in proj.pipeline["stages"]:
        for out in proj.stage_files(stage, "outs"):
            assert (repo / out).exists(), f"{stage} did not produce {out}"
    metrics = json.loads((repo / "outputs/metrics.json").read_text())
    # evaluate.metrics: auto is every metric of the task; penguins' species are classes
    assert set(metrics) == set(metric_names(proj.params["evaluate"]["metrics"], CLASSIFICATION))
    assert json.loads((repo / proj.path_names["task"]).read_text())["task"] == CLASSIFICATION
    for name in ("accuracy", "balanced_accuracy", "f1_macro", "roc_auc_ovr"):
        assert 0.0 <= metrics[name] <= 1.0
    # far better than always guessing the most common class (about 0.44 here)
    train = __import__("pandas").read_parquet(repo / "data/prepared/train.parquet")
    majority = train["species"].value_counts(normalize=True).max()
    assert metrics["accuracy"] > majority + 0.2
    assert metrics["log_loss"] > 0
    shown = run(["dvc", "metrics", "show", "--json"], repo).stdout
    assert "balanced_accuracy" in shown


def test_pipeline_wrote_nothing_to_the_home_directory(baseline):
    assert [p.name for p in baseline.home.iterdir()] == []


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


@contextmanager
def jupyter_server(root: Path, home: Path) -> Iterator[Callable[..., Any]]:
    """A real Jupyter server from the venv, as ``make lab`` starts it, on loopback.

    Yields ``call(method, path, body=None)`` for its REST API.
    """
    token = secrets.token_hex(16)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**project_env(home), **private_dirs(Path(sys.prefix))}
    log = root.parent / "jupyter-server.log"
    with open(log, "wb") as out:
        server = subprocess.Popen(
            [
                str(Path(sys.prefix) / "bin" / "jupyter"),
                "server",
                "--no-browser",
                "--allow-root",
                "--ServerApp.ip=127.0.0.1",
                f"--ServerApp.port={port}",
                "--ServerApp.port_retries=0",
                f"--ServerApp.root_dir={root}",
                f"--IdentityProvider.token={token}",
            ],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )

    def call(method: str, path: str, body: Any = None) -> Any:
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}{path}",
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": f"token {token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read() or b"null")

    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                call("GET", "/api/status")
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"no jupyter server:\n{log.read_text()}") from None
                time.sleep(0.2)
        yield call
    finally:
        server.terminate()
        server.wait(timeout=30)


def with_session_outputs(nb: dict[str, Any]) -> dict[str, Any]:
    """What an interactive session leaves in a notebook before it is saved."""
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] == "code":
            cell["execution_count"] = i
            cell["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "x\n"}]
            cell["metadata"]["execution"] = {"iopub.status.idle": "2026-01-01T00:00:00Z"}
    nb["metadata"]["language_info"] = {
        "name": "python",
        "version": "3.11.7",
        "mimetype": "text/x-python",
    }
    return nb


def test_saving_from_jupyterlab_keeps_the_source_clean_and_the_stage_current(repo, home):
    path = "notebooks/train.ipynb"
    before = (repo / path).read_bytes()
    scratch = repo / "notebooks" / "scratch.ipynb"
    try:
        with jupyter_server(repo, home) as call:
            nb = call("GET", f"/api/contents/{path}?content=1")["content"]
            saved = {"type": "notebook", "format": "json", "content": with_session_outputs(nb)}
            call("PUT", f"/api/contents/{path}", saved)
            # a notebook no stage reads keeps its outputs
            call("PUT", f"/api/contents/{scratch.relative_to(repo)}", saved)
        assert (repo / path).read_bytes() == before
        assert nbfile.has_outputs(json.loads(scratch.read_text()))
    finally:
        scratch.unlink(missing_ok=True)
    assert json.loads(run(["dvc", "status", "--json"], repo).stdout) == {}
    assert [p.name for p in home.iterdir()] == []  # the server kept its state in the venv


def test_changing_a_train_param_reruns_only_train_and_downstream(repo):
    params = repo / "params.yaml"
    train = Project.load(repo).params["train"]
    name = estimator_for(train["estimator"], CLASSIFICATION)
    if "random_state" not in estimator_class(name)().get_params():
        pytest.skip(f"{train['estimator']} has no random_state to change")
    kwargs = dict(train.get("kwargs") or {})
    kwargs["random_state"] = int(kwargs.get("random_state") or 0) + 1
    text = set_params(repo, "train", kwargs=kwargs)
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
