"""tools/expqueue.py, the experiment-queue driver: DVC's queue status through its API.

The slow tests queue experiments of a one-stage DVC project (a stage that
exits with the code its parameter says) and run them with one worker.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from conftest import project_env, run
from tools import expqueue

STAGE = {
    "cmd": "python -c \"import sys, yaml; sys.exit(yaml.safe_load(open('params.yaml'))['code'])\"",
    "params": ["code"],
}


def test_task_states_by_name_or_short_revision() -> None:
    tasks = [
        {"rev": "ad986f1" + "0" * 33, "name": "pushy-gram", "timestamp": None, "status": "Success"},
        {"rev": "1715b61" + "0" * 33, "name": "bad", "timestamp": None, "status": "Failed"},
        {"rev": "57bff9d" + "0" * 33, "name": None, "timestamp": None, "status": "Running"},
    ]
    assert expqueue.task_states(tasks) == {
        "pushy-gram": "Success",
        "bad": "Failed",
        "57bff9d": "Running",
    }


@pytest.fixture(scope="module")
def queued(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A committed one-stage project with a good and a failing experiment queued."""
    repo = tmp_path_factory.mktemp("queue") / "repo"
    repo.mkdir()
    (repo / "dvc.yaml").write_text(yaml.safe_dump({"stages": {"step": STAGE}}))
    (repo / "params.yaml").write_text(yaml.safe_dump({"code": 0}))
    for args in (
        ["git", "init", "-q", "-b", "main"],
        ["dvc", "init", "-q"],
        ["dvc", "repro", "-q"],
        ["git", "add", "-A"],
        ["git", "commit", "-qm", "baseline"],
        ["dvc", "exp", "run", "--queue", "-q", "-n", "good", "-S", "code=0"],
        ["dvc", "exp", "run", "--queue", "-q", "-n", "bad", "-S", "code=3"],
    ):
        run(args, repo)
    try:
        yield repo
    finally:
        expqueue.stop(repo, project_env())


@pytest.mark.slow
def test_status_follows_the_queue_from_queued_to_done(queued: Path) -> None:
    assert expqueue.status(queued) == {"good": "Queued", "bad": "Queued"}
    done = expqueue.run_queue(queued, jobs=1, timeout=180, env=project_env())
    assert done == {"good": "Success", "bad": "Failed"}
    assert expqueue.status(queued) == done
    # what the table of `dvc queue status` says too
    table = run(["dvc", "queue", "status"], queued).stdout
    for name, state in done.items():
        assert re.search(rf"\b{name}\b.*\b{state}\b", table), table
