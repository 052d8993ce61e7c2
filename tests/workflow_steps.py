"""The GitHub workflows read as data, for the tests that lint and run their steps.

Steps are taken from the YAML, never copied into a test, so a change to a
workflow is what gets tested. Only the small part of GitHub's expression
language the workflows use is understood; anything else stops the test with
the expression named, rather than being guessed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from conftest import ROOT

WORKFLOWS = ROOT / ".github" / "workflows"
PR_WORKFLOW = WORKFLOWS / "pr-report.yml"
EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
LITERAL = re.compile(r"'((?:[^']|'')*)'")
# what GitHub runs a `run:` script with (docs: "Default shell" / "shell: bash")
SHELLS = {None: ["bash", "-e"], "bash": ["bash", "--noprofile", "--norc", "-eo", "pipefail"]}


@dataclass(frozen=True)
class Step:
    """One step of a job, with what GitHub needs to run it."""

    raw: dict[str, Any]
    default_shell: str | None = None

    @property
    def uses(self) -> str | None:
        """The action without its ref (``actions/checkout``), or None for a run step."""
        return self.raw["uses"].split("@")[0] if "uses" in self.raw else None

    @property
    def label(self) -> str:
        """The step's name, or its action when it has none (as GitHub shows it)."""
        return self.raw.get("name") or self.uses or self.raw["run"].splitlines()[0]

    @property
    def script(self) -> str | None:
        return self.raw.get("run")

    @property
    def shell(self) -> list[str]:
        shell = self.raw.get("shell", self.default_shell)
        if shell not in SHELLS:
            raise ValueError(f"step {self.label!r}: shell {shell!r} is not one the tests run")
        return SHELLS[shell]


def workflow_files() -> list[Path]:
    return sorted(p for p in WORKFLOWS.glob("*.y*ml") if p.suffix in {".yml", ".yaml"})


def load(path: Path = PR_WORKFLOW) -> dict[str, Any]:
    # PyYAML reads the key `on:` as True (YAML 1.1); nothing here needs it
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def job_steps(workflow: dict[str, Any], job: str) -> list[Step]:
    spec = workflow["jobs"][job]
    defaults = {
        **workflow.get("defaults", {}).get("run", {}),
        **spec.get("defaults", {}).get("run", {}),
    }
    return [Step(raw, defaults.get("shell")) for raw in spec["steps"]]


def all_steps() -> list[tuple[Path, Step]]:
    """Every step of every job of every workflow file."""
    found = []
    for path in workflow_files():
        workflow = load(path)
        for job in workflow["jobs"]:
            found += [(path, step) for step in job_steps(workflow, job)]
    return found


def evaluate(expression: str, context: dict[str, str]) -> str:
    """``a.b || 'literal'`` with names from ``context``: the first non-empty operand."""
    value = ""
    for operand in (part.strip() for part in expression.split("||")):
        if literal := LITERAL.fullmatch(operand):
            value = literal.group(1).replace("''", "'")
        elif operand in context:
            value = context[operand]
        else:
            raise ValueError(f"the tests do not know the value of ${{{{ {expression} }}}}")
        if value:
            return value
    return value


def expand(text: str, context: dict[str, str]) -> str:
    """Replace every ``${{ ... }}`` in ``text`` as GitHub would before the step runs."""
    return EXPRESSION.sub(lambda m: evaluate(m.group(1), context), text)


def step_env(
    workflow: dict[str, Any], job: str, step: Step, context: dict[str, str]
) -> dict[str, str]:
    """Workflow, job and step ``env:`` merged (the step's wins), expressions expanded."""
    merged = {**workflow.get("env", {}), **workflow["jobs"][job].get("env", {})}
    merged.update(step.raw.get("env", {}))
    return {key: expand(str(value), context) for key, value in merged.items()}
