"""The GitHub workflows pass zizmor and shellcheck, and those checkers still catch mistakes.

zizmor runs offline with its strictest persona (``auditor``): untrusted
pull-request text expanded in ``run:`` lines, actions not pinned to a commit,
write permissions wider than a job, credentials left for later steps. Every
``run:`` script goes through shellcheck as the shell GitHub runs it with.
tests/end_to_end/test_pr_workflow.py runs the steps themselves.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from conftest import VENV_BIN
from workflow_steps import EXPRESSION, PR_WORKFLOW, Step, all_steps, workflow_files

PINNED = re.compile(r"uses:\s*[\w.-]+/[\w./-]+@[0-9a-f]{40}\s+#\s*v\d+\.\d+\.\d+\s*$")


def zizmor(path: Path) -> tuple[list[dict], str]:
    """zizmor's findings on one file (JSON) and its readable report."""
    args = [str(VENV_BIN / "zizmor"), "--offline", "--persona=auditor", "--no-progress"]
    found = subprocess.run([*args, "--format=json", str(path)], capture_output=True, text=True)
    try:
        findings = json.loads(found.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"zizmor did not audit {path.name}:\n{found.stdout}\n{found.stderr}")
    readable = subprocess.run([*args, "--color=never", str(path)], capture_output=True, text=True)
    return findings, readable.stdout


def shellcheck(step: Step) -> subprocess.CompletedProcess[str]:
    """shellcheck on a run: script, expressions blanked as actionlint does."""
    script = EXPRESSION.sub(lambda m: "_" * len(m.group(0)), step.script or "")
    shell = step.shell[0]
    return subprocess.run(
        [str(VENV_BIN / "shellcheck"), f"--shell={shell}", "--severity=style", "-"],
        input=script,
        capture_output=True,
        text=True,
    )


def test_there_is_a_workflow_to_check():
    assert PR_WORKFLOW in workflow_files()


@pytest.mark.parametrize("path", workflow_files(), ids=lambda p: p.name)
def test_zizmor_finds_nothing(path: Path):
    findings, readable = zizmor(path)
    assert findings == [], readable


RUN_STEPS = [(path, step) for path, step in all_steps() if step.script is not None]


@pytest.mark.parametrize("path, step", RUN_STEPS, ids=[f"{p.name}:{s.label}" for p, s in RUN_STEPS])
def test_run_scripts_pass_shellcheck(path: Path, step: Step):
    proc = shellcheck(step)
    assert proc.returncode == 0, f"{path.name}, step {step.label!r}:\n{proc.stdout}{proc.stderr}"


@pytest.mark.parametrize("path", workflow_files(), ids=lambda p: p.name)
def test_actions_are_pinned_to_a_commit_with_the_release_in_a_comment(path: Path):
    # zizmor checks the commit pin; the comment is what a reader (and an
    # update) needs to know which release that commit is
    lines = path.read_text(encoding="utf-8").splitlines()
    uses = [line.strip() for line in lines if re.match(r"\s*(-\s+)?uses:", line)]
    assert uses, f"{path.name} uses no action"
    unpinned = [line for line in uses if not PINNED.search(line) and "uses: ./" not in line]
    assert unpinned == []


# -- the checkers themselves --------------------------------------------------------
def test_zizmor_catches_an_unpinned_action_and_pr_text_in_a_run_line(tmp_path: Path):
    text = PR_WORKFLOW.read_text(encoding="utf-8")
    bad = re.sub(r"(uses:\s*actions/checkout)@.*", r"\1@v4", text, count=1).replace(
        "run: make repro", 'run: echo "${{ github.event.pull_request.title }}" && make repro'
    )
    assert "actions/checkout@v4" in bad and "pull_request.title" in bad
    (tmp_path / "bad.yml").write_text(bad, encoding="utf-8")
    findings, readable = zizmor(tmp_path / "bad.yml")
    assert {f["ident"] for f in findings} >= {"unpinned-uses", "template-injection"}, readable


def test_shellcheck_catches_an_unquoted_expansion():
    proc = shellcheck(Step({"run": 'rm -rf $BASE_BRANCH/reports\necho "$GITHUB_STEP_SUMMARY"'}))
    assert proc.returncode != 0 and "SC2086" in proc.stdout
