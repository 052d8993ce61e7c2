"""The pull-request workflow's steps, run in order as on a fresh runner.

A copy of the project plays the runner's workspace: a bare clone is its
``origin`` holding the base branch ``main``, and the pull request (a changed
learning rate) is checked out the way actions/checkout leaves it: a detached
commit, no local branches, ``origin/*`` fetched as its ``with:`` asks. Each
``run:`` script is read from the YAML and run with the shell and environment
GitHub gives it, then what the step claims is checked. Actions cannot run
here; each has a stand-in or is only recorded, and the test names exactly
which steps were skipped and why.
"""

from __future__ import annotations

import glob
import json
import re
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import copy_project, project_env, run
from workflow_steps import PR_WORKFLOW, Step, expand, job_steps, load, step_env

pytestmark = pytest.mark.slow

JOB = "report"
PR_BRANCH = "change-learning-rate"
STEP_TIMEOUT = 300
# make in the copy uses this venv instead of building .venv there; through the
# environment, because the workflow's `make repro` takes no VENV argument
# make in the copy uses the running venv and never reinstalls it (that would
# point its editable nbml at the copy): see the Makefile's NO_SETUP
MAKEFLAGS = f"VENV={Path(sys.prefix)} NO_SETUP=1"
# the runner's step that needs GitHub itself
NEEDS_GITHUB = {"cml": "posts the comment through the GitHub API with the job's token"}
# paths the artifact keeps only when a stage failed
ON_FAILURE_ONLY = {"logs/failed/"}
METRICS = "outputs/metrics.json"
# the values of the expressions the steps use, for this pull request
CONTEXT = {"github.base_ref": "main", "github.head_ref": PR_BRANCH}


@dataclass
class PullRequest:
    """The runner's workspace for one pull request, and what happened to its steps."""

    repo: Path
    tmp: Path
    env: dict[str, str]
    learning_rate: tuple[float, float]  # base, this change
    base_metrics: dict[str, float]
    ran: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    summaries: dict[str, str] = field(default_factory=dict)


def learning_rate_change(repo: Path) -> tuple[float, float]:
    """Change train.kwargs.learning_rate in params.yaml; return (old, new)."""
    path = repo / "params.yaml"
    params = yaml.safe_load(path.read_text())
    old = params["train"]["kwargs"]["learning_rate"]
    new = 0.3 if old != 0.3 else 0.2
    params["train"]["kwargs"]["learning_rate"] = new
    path.write_text(yaml.safe_dump(params, sort_keys=False))
    return old, new


def pull_request(tmp: Path) -> PullRequest:
    """A copy on a commit that changes one parameter; origin holds main and that branch."""
    repo = copy_project(tmp / "project")
    base_metrics = json.loads((repo / METRICS).read_text())
    run(["git", "checkout", "-q", "-b", PR_BRANCH], repo)
    change = learning_rate_change(repo)
    run(["git", "commit", "-qam", "Try another learning rate"], repo)
    run(["git", "clone", "-q", "--bare", str(repo), str(tmp / "origin.git")], tmp)
    run(["git", "remote", "add", "origin", str(tmp / "origin.git")], repo)
    # as actions/checkout leaves a pull request: detached, no local branches
    run(["git", "checkout", "-q", "--detach", PR_BRANCH], repo)
    run(["git", "branch", "-q", "-D", "main", PR_BRANCH], repo)
    return PullRequest(repo, tmp, github_env(repo, tmp), change, base_metrics)


def github_env(repo: Path, tmp: Path) -> dict[str, str]:
    """The variables GitHub sets for every step of a pull_request job."""
    files = {name: tmp / name.lower() for name in ("GITHUB_ENV", "GITHUB_OUTPUT", "GITHUB_PATH")}
    for path in files.values():
        path.touch()
    return {
        **project_env(),
        "MAKEFLAGS": MAKEFLAGS,
        "CI": "true",
        "GITHUB_ACTIONS": "true",
        "GITHUB_EVENT_NAME": "pull_request",
        "GITHUB_BASE_REF": "main",
        "GITHUB_HEAD_REF": PR_BRANCH,
        "GITHUB_REF": "refs/pull/1/merge",
        "GITHUB_WORKSPACE": str(repo),
        "RUNNER_TEMP": str(tmp),
        **{name: str(path) for name, path in files.items()},
    }


# -- stand-ins for the actions -------------------------------------------------------
def checkout(pr: PullRequest, step: Step) -> None:
    """The copy already is the checked-out commit; fetch-depth: 0 adds every origin branch."""
    # actions/checkout fetches +refs/heads/*:refs/remotes/origin/* only for all history;
    # with its default depth of 1 it fetches the pull request's commit and nothing else
    if step.raw.get("with", {}).get("fetch-depth") == 0:
        run(["git", "fetch", "-q", "origin", "+refs/heads/*:refs/remotes/origin/*"], pr.repo)


def setup_python(pr: PullRequest, step: Step) -> None:
    """The running venv stands in: it must be the Python the workflow asks for."""
    wanted = str(step.raw.get("with", {}).get("python-version"))
    assert wanted == f"{sys.version_info.major}.{sys.version_info.minor}", (
        f"the workflow sets up Python {wanted}, the tests run {sys.version.split()[0]}"
    )


def nothing(pr: PullRequest, step: Step) -> None:
    """An action whose effect no step that runs here needs."""


def upload_artifact(pr: PullRequest, step: Step) -> None:
    """Every path the artifact keeps is there after a successful run (failure-only ones not)."""
    missing, unexpected = [], []
    for pattern in step.raw["with"]["path"].split():
        found = [f for f in glob.glob(pattern, root_dir=pr.repo) if kept(pr.repo / f)]
        if pattern in ON_FAILURE_ONLY and found:
            unexpected.append(pattern)
        elif pattern not in ON_FAILURE_ONLY and not found:
            missing.append(pattern)
    assert missing == [], f"the artifact would miss {missing} (if-no-files-found hides it)"
    assert unexpected == [], f"a successful run left {unexpected}"


def kept(path: Path) -> bool:
    """A file, or a folder holding at least one file."""
    return path.is_file() or (path.is_dir() and any(p.is_file() for p in path.rglob("*")))


STAND_INS: dict[str, tuple[str, Callable[[PullRequest, Step], None]]] = {
    "actions/checkout": ("the copy is the checkout: the pull request, detached", checkout),
    "actions/setup-python": (
        "the running venv stands in (MAKEFLAGS gives make VENV)",
        setup_python,
    ),
    "iterative/setup-cml": ("installs cml, which only the comment step uses", nothing),
    "actions/upload-artifact": ("uploads nothing: the paths it keeps are checked", upload_artifact),
}


# -- what the run steps claim ---------------------------------------------------------
def pipeline_ran(pr: PullRequest) -> None:
    """make repro: the pipeline ran on the pull request's params and nothing is stale."""
    assert "up to date" in run(["dvc", "status"], pr.repo, env=pr.env).stdout
    ours = json.loads((pr.repo / METRICS).read_text())
    assert set(ours) == set(pr.base_metrics)
    assert ours != pr.base_metrics, "the learning-rate change did not reach the metrics"


def report_written(pr: PullRequest) -> None:
    """make pr-report: a report against origin/main, whole in the step summary."""
    report = (pr.repo / "reports" / "pr-report.md").read_text(encoding="utf-8")
    assert pr.summaries[REPORT_STEP] == report
    assert "against `origin/main`" in report
    old, new = pr.learning_rate
    assert re.search(rf"\|\s*train\.kwargs\.learning_rate\s*\|\s*{old}\s*\|\s*{new}\s*\|", report)
    ours = json.loads((pr.repo / METRICS).read_text())
    for name, value in ours.items():
        # | path | metric | base | this change | change |
        cells = rf"\|\s*{re.escape(METRICS)}\s*\|\s*{name}\s*\|\s*([^|\s]+)\s*\|\s*([^|\s]+)\s*\|"
        row = re.search(cells, report)
        assert row, f"no metrics row for {name}"
        assert float(row.group(1)) == pytest.approx(pr.base_metrics[name], abs=1e-5)
        assert float(row.group(2)) == pytest.approx(value, abs=1e-5)
    for image in ("roc.png", "precision_recall.png", "confusion.png"):
        assert f"(pr-report/{image})" in report
        assert (pr.repo / "reports" / "pr-report" / image).stat().st_size > 1000


REPRO_STEP = "Set up and run the pipeline (README command)"
REPORT_STEP = "Write the report against the base branch"
CLAIMS: dict[str, Callable[[PullRequest], None]] = {
    REPRO_STEP: pipeline_ran,
    REPORT_STEP: report_written,
}


# -- running the job ------------------------------------------------------------------
def condition_holds(step: Step) -> bool:
    """A step's `if:`; the steps that run here use only these conditions."""
    condition = str(step.raw.get("if", "success()")).removeprefix("${{").removesuffix("}}")
    if condition.strip() in {"success()", "always()"}:
        return True  # every step before it succeeded, or the test has already failed
    raise ValueError(f"step {step.label!r}: the test does not evaluate `if: {condition}`")


def needs_github(step: Step) -> str | None:
    """The command of a run step that only works on GitHub, if it has one."""
    commands = re.findall(r"^\s*([\w.-]+)", step.script or "", re.M)
    return next((c for c in commands if c in NEEDS_GITHUB), None)


def run_script(pr: PullRequest, workflow: dict[str, Any], index: int, step: Step) -> None:
    """One run: step as GitHub runs it: expressions expanded, its shell, env and summary file."""
    script = pr.tmp / f"step-{index}.sh"
    script.write_text(expand(step.script or "", CONTEXT))
    summary = pr.tmp / f"step-{index}-summary.md"  # GitHub gives each step its own
    summary.touch()
    env = {**pr.env, **step_env(workflow, JOB, step, CONTEXT), "GITHUB_STEP_SUMMARY": str(summary)}
    cwd = pr.repo / step.raw.get("working-directory", ".")
    proc = subprocess.run(
        [*step.shell, str(script)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=STEP_TIMEOUT,
    )
    assert proc.returncode == 0, (
        f"step {step.label!r} exited {proc.returncode}\n--- stdout\n{proc.stdout}\n"
        f"--- stderr\n{proc.stderr}"
    )
    pr.summaries[step.label] = summary.read_text(encoding="utf-8")


def run_job(pr: PullRequest, workflow: dict[str, Any]) -> None:
    """Each step in order: a stand-in for an action, a skip for GitHub-only, else its script."""
    for index, step in enumerate(job_steps(workflow, JOB)):
        if step.uses is None and (command := needs_github(step)):
            pr.skipped.append((step.label, NEEDS_GITHUB[command]))
            continue
        assert condition_holds(step)
        if step.uses is not None:
            assert step.uses in STAND_INS, f"no stand-in for the action {step.uses}"
            reason, stand_in = STAND_INS[step.uses]
            stand_in(pr, step)
            pr.skipped.append((step.label, reason))
            continue
        assert step.label in CLAIMS, f"the test does not know what step {step.label!r} claims"
        run_script(pr, workflow, index, step)
        CLAIMS[step.label](pr)
        pr.ran.append(step.label)


def test_pull_request_workflow_runs_its_steps_and_writes_the_report(tmp_path: Path) -> None:
    pr = pull_request(tmp_path)
    run_job(pr, load(PR_WORKFLOW))

    assert pr.ran == [REPRO_STEP, REPORT_STEP]
    why = {action: reason for action, (reason, _) in STAND_INS.items()}
    assert pr.skipped == [
        ("actions/checkout", why["actions/checkout"]),
        ("actions/setup-python", why["actions/setup-python"]),
        ("iterative/setup-cml", why["iterative/setup-cml"]),
        ("Keep the report, its plots and the stage reports", why["actions/upload-artifact"]),
        ("Comment on the pull request (plots uploaded by cml)", NEEDS_GITHUB["cml"]),
    ]
