"""Sharing and versioning results: the default remote, push/pull, checkout, diff.

The slow tests read the project reproduced on data/raw/wine.csv
(wine_project.py) and work in git clones of it, as a colleague would.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import project_env, run
from wine_project import SOURCE, set_params, snapshot, wine_csv, wine_project

REMOTE = "shared"
BUCKET = "nbml-test"


def remote_objects(remote: Path) -> list[Path]:
    return [p for p in remote.rglob("*") if p.is_file()]


def clone(repo: Path, dest: Path) -> Path:
    run(["git", "clone", "-q", str(repo), str(dest)], repo.parent)
    return dest


# -- the default remote -----------------------------------------------------------
def remote_urls(repo: Path) -> dict[str, str]:
    """`dvc remote list` as {name: url}.

    DVC wraps the table at the terminal's width (80 columns without one), which
    splits a long temporary path over two lines; COLUMNS widens it.
    """
    listed = run(["dvc", "remote", "list"], repo, env={**project_env(), "COLUMNS": "4096"})
    rows = [line.split() for line in listed.stdout.splitlines() if line.strip()]
    return {row[0]: row[1] for row in rows}


def test_fresh_copy_has_a_default_remote_outside_the_work_tree(project_copy: Path):
    repo = project_copy
    assert run(["dvc", "remote", "default"], repo).stdout.strip() == REMOTE
    url = Path(remote_urls(repo)[REMOTE])
    # relative URLs in .dvc/config are relative to .dvc/; `dvc remote list` resolves them
    resolved = (repo / url).resolve() if not url.is_absolute() else url.resolve()
    assert resolved == repo.parent.resolve() / "nbml-remote"
    assert not resolved.is_relative_to(repo.resolve())
    # credentials and per-machine locations go to config.local, which git ignores
    assert "/config.local" in (repo / ".dvc/.gitignore").read_text().split()


def test_remote_location_is_configurable_per_clone(project_copy: Path, tmp_path: Path):
    repo = project_copy
    elsewhere = tmp_path / "team-share" / "nbml"
    run(["dvc", "remote", "modify", "--local", REMOTE, "url", str(elsewhere)], repo)
    assert str(elsewhere) in (repo / ".dvc/config.local").read_text()
    assert remote_urls(repo)[REMOTE] == str(elsewhere)
    assert run(["git", "status", "--porcelain"], repo).stdout == ""


# -- sections 2 and 3: push after repro, pull in a second clone ---------------------
@pytest.fixture(scope="module")
def pushed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wine project pushed to its default remote with a bare `dvc push`."""
    repo = wine_project(tmp_path_factory)
    run(["dvc", "push"], repo)
    return repo


@pytest.mark.slow
def test_push_then_pull_in_a_second_clone(pushed: Path):
    repo = pushed
    remote = repo.parent / "nbml-remote"
    assert remote_objects(remote), "dvc push wrote nothing to the default remote"
    # do not trust push's message (iterative/dvc#11011): ask the remote itself
    assert json.loads(run(["dvc", "status", "--cloud", "--json"], repo).stdout) == {}

    second = clone(repo, repo.parent / "second")
    assert not (second / "reports/index.html").exists()
    run(["dvc", "pull"], second)
    assert snapshot(second) == snapshot(repo)
    assert json.loads(run(["dvc", "status", "--json"], second).stdout) == {}
    index = (second / "reports/index.html").read_text()
    assert "<html" in index and "evaluate.html" in index
    json.loads((second / "outputs/notebooks/evaluate.ipynb").read_text())
    repro = run(["dvc", "repro"], second)
    assert "Running stage" not in repro.stdout + repro.stderr
    assert snapshot(second) == snapshot(repo)
    assert run(["git", "status", "--porcelain"], second).stdout == ""


# -- section 4: a new data version, and back ----------------------------------------
@pytest.mark.slow
def test_checkout_restores_an_older_version_and_diff_shows_changes(pushed: Path):
    first = pushed
    repo = clone(first, first.parent / "versions")
    run(["dvc", "pull"], repo)
    old_commit = run(["git", "rev-parse", "HEAD"], repo).stdout.strip()
    old = snapshot(repo)
    old_metrics = json.loads((repo / "outputs/metrics.json").read_text())

    # the dataset changes (fewer rows) and so does a parameter
    wine_csv(repo / SOURCE, slice(0, 150))
    stale = json.loads(run(["dvc", "status", "--json"], repo).stdout)
    assert "prepare" in stale, "a changed data/raw file must make prepare stale"
    run(["dvc", "add", SOURCE], repo)
    run(["git", "commit", "-q", "-am", "wine.csv: first 150 rows"], repo)
    set_params(repo, prepare={"test_size": 0.3})
    run(["dvc", "repro"], repo)
    run(["git", "add", "-A"], repo)
    run(["git", "commit", "-q", "-m", "retrain on the new data"], repo)
    new_commit = run(["git", "rev-parse", "HEAD"], repo).stdout.strip()
    new = snapshot(repo)
    new_metrics = json.loads((repo / "outputs/metrics.json").read_text())
    for path in (
        SOURCE,
        "data/prepared/train.parquet",
        "data/models/model.skops",
        "reports/prepare.html",
        "outputs/notebooks/prepare.ipynb",
    ):
        assert old[path] != new[path], f"{path} did not change with the data"

    diff = json.loads(run(["dvc", "diff", "--json", old_commit, new_commit], repo).stdout)
    modified = {entry["path"].rstrip("/") for entry in diff["modified"]}
    assert {SOURCE, "data/prepared", "data/models/model.skops"} <= modified
    params = json.loads(
        run(["dvc", "params", "diff", "--json", old_commit, new_commit], repo).stdout
    )
    change = params["params.yaml"]["prepare.test_size"]
    assert (change["old"], change["new"]) == (0.25, 0.3)
    metrics = json.loads(
        run(["dvc", "metrics", "diff", "--all", "--json", old_commit, new_commit], repo).stdout
    )["outputs/metrics.json"]
    assert metrics, "dvc metrics diff shows no metrics"
    for key, change in metrics.items():
        assert change["old"] == _get(old_metrics, key)
        assert change["new"] == _get(new_metrics, key)

    run(["git", "checkout", "-q", old_commit], repo)
    run(["dvc", "checkout"], repo)
    assert snapshot(repo) == old, "git checkout + dvc checkout did not restore the old version"
    assert json.loads(run(["dvc", "status", "--json"], repo).stdout) == {}
    run(["git", "checkout", "-q", "main"], repo)
    run(["dvc", "checkout"], repo)
    assert snapshot(repo) == new


def _get(tree: dict, dotted: str) -> object:
    node: object = tree
    for part in dotted.split("."):
        node = node[part]  # type: ignore[index]
    return node


# -- the same round trip through S3 (moto's server on loopback) ----------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def s3_env() -> dict[str, str]:
    env = project_env()
    env.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_SESSION_TOKEN="testing",
        AWS_DEFAULT_REGION="us-east-1",
    )
    for proxy in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        env.pop(proxy, None)
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    return env


class S3:
    """moto's S3 server on 127.0.0.1, started and stopped by the test."""

    def __init__(self, port: int):
        from moto.server import ThreadedMotoServer

        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)

    def start(self) -> S3:
        self.server.start()
        self.client().create_bucket(Bucket=BUCKET)
        return self

    def stop(self) -> None:
        self.server.stop()

    def client(self):  # noqa: ANN201 - boto3 client types are generated
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.url,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    def keys(self, prefix: str) -> list[str]:
        pages = (
            self.client().get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix)
        )
        return [obj["Key"] for page in pages for obj in page.get("Contents", [])]


def add_s3_remote(repo: Path, name: str, prefix: str, port: int, env: dict[str, str]) -> None:
    """Per-machine remote in .dvc/config.local, as the docs show for credentials."""
    run(["dvc", "remote", "add", "--local", name, f"s3://{BUCKET}/{prefix}"], repo, env=env)
    run(
        ["dvc", "remote", "modify", "--local", name, "endpointurl", f"http://127.0.0.1:{port}"],
        repo,
        env=env,
    )


@pytest.fixture
def s3_server() -> Iterator[S3]:
    server = S3(free_port()).start()
    yield server
    server.stop()


@pytest.fixture
def work_clone(pushed: Path, tmp_path: Path) -> Path:
    """A clone of the wine project with its data pulled from the default remote."""
    repo = clone(pushed, pushed.parent / f"clone-{tmp_path.name}")
    run(["dvc", "pull"], repo)
    return repo


@pytest.mark.slow
def test_s3_round_trip(work_clone: Path, s3_server: S3):
    env = s3_env()
    source = work_clone
    add_s3_remote(source, "s3", "roundtrip", s3_server.port, env)
    run(["dvc", "push", "-r", "s3"], source, env=env)
    cache_files = [p for p in (source / ".dvc/cache/files").rglob("*") if p.is_file()]
    assert len(s3_server.keys("roundtrip/")) == len(cache_files)

    other = clone(source, source.parent / f"{source.name}-from-s3")
    add_s3_remote(other, "s3", "roundtrip", s3_server.port, env)
    run(["dvc", "pull", "-r", "s3"], other, env=env)
    assert snapshot(other) == snapshot(source)
    assert json.loads(run(["dvc", "status", "--json"], other, env=env).stdout) == {}
    repro = run(["dvc", "repro"], other, env=env)
    assert "Running stage" not in repro.stdout + repro.stderr
    shutil.rmtree(other)


@pytest.mark.slow
def test_push_to_an_unreachable_remote_fails_then_completes(work_clone: Path):
    env = s3_env()
    port = free_port()
    add_s3_remote(work_clone, "later", "later", port, env)
    # fail fast instead of retrying with back-off
    run(
        ["dvc", "remote", "modify", "--local", "later", "connect_timeout", "2"], work_clone, env=env
    )
    failed = run(["dvc", "push", "-r", "later"], work_clone, check=False, env=env, timeout=300)
    assert failed.returncode != 0
    message = failed.stdout + failed.stderr
    assert "could not connect to the endpoint url" in message.lower(), message

    server = S3(port).start()
    try:
        run(["dvc", "push", "-r", "later"], work_clone, env=env)
        cache_files = [p for p in (work_clone / ".dvc/cache/files").rglob("*") if p.is_file()]
        assert len(server.keys("later/")) == len(cache_files)
        assert (
            json.loads(
                run(["dvc", "status", "-c", "-r", "later", "--json"], work_clone, env=env).stdout
            )
            == {}
        )
    finally:
        server.stop()


@pytest.mark.slow
def test_pull_with_an_object_missing_on_the_remote_names_it(work_clone: Path, tmp_path: Path):
    remote = tmp_path / "broken-remote"
    run(["dvc", "remote", "add", "--local", "broken", str(remote)], work_clone)
    run(["dvc", "push", "-r", "broken"], work_clone)
    lock = (work_clone / "dvc.lock").read_text()
    model_md5 = lock.split("path: data/models/model.skops")[1].split("md5: ")[1].split()[0]
    missing = remote / "files" / "md5" / model_md5[:2] / model_md5[2:]
    assert missing.is_file()
    missing.unlink()

    fresh = clone(work_clone, tmp_path / "fresh")
    run(["dvc", "remote", "add", "--local", "broken", str(remote)], fresh)
    pulled = run(["dvc", "pull", "-r", "broken"], fresh, check=False)
    assert pulled.returncode != 0
    message = pulled.stdout + pulled.stderr
    assert "data/models/model.skops" in message and model_md5 in message, message
    # everything else did arrive
    assert (fresh / "reports/index.html").is_file()
    assert not (fresh / "data/models/model.skops").exists()
    os.sync()
