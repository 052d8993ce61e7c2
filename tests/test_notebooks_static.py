"""Checks on the source notebooks and dvc.yaml that need no execution.

They guard the promises that make the pipeline trustworthy: notebooks are
stored clean, every parameter is declared once, and every file or helper
module a notebook touches is a declared dependency (or output) of its stage.
"""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import notebook_code
from nbml.project import Project
from nbml.runner import notebook as nbfile

ROOT = Path(__file__).resolve().parents[1]
PROJECT = Project.load(ROOT)
STAGES = list(PROJECT.pipeline["stages"])
HELPERS = ROOT / PROJECT.path_names["helpers"]


def code_of(stage: str) -> str:
    return notebook_code(ROOT / PROJECT.stage_notebook(stage).notebook)


def covered(path: str, declared: list[str]) -> bool:
    return any(path == d or path.startswith(d.rstrip("/") + "/") for d in declared)


def module_file(name: str) -> Path | None:
    """The file of an ``nbml...`` module: ``a/b.py`` or the package's ``a/b/__init__.py``."""
    path = HELPERS.joinpath(*name.split(".")[1:])
    for candidate in (path.with_suffix(".py"), path / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def nbml_imports(source: str) -> set[str]:
    """nbml modules imported by some Python source (``nbml.x.y`` names), anywhere in it."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "nbml":
            # `from nbml.steps import data`: data may be a module or a name
            for alias in node.names:
                name = f"{node.module}.{alias.name}"
                found.add(name if module_file(name) else node.module)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "nbml"}
    return found


def module_closure(modules: set[str]) -> set[str]:
    """The modules given, what they import in turn, and every package they sit in."""
    seen: set[str] = set()
    todo = list(modules)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        parts = name.split(".")
        todo.extend(".".join(parts[:i]) for i in range(1, len(parts)))
        file = module_file(name)
        if file is not None:
            todo.extend(nbml_imports(file.read_text()))
    return seen


def helper_files(stage: str) -> set[str]:
    """Root-relative files of every helper module a stage's notebook imports."""
    modules = module_closure(nbml_imports(code_of(stage)))
    return {str(module_file(m).relative_to(ROOT)) for m in modules if module_file(m)}


# Stages whose kernels never need scikit-learn: its import (with scipy) is about 2 s of
# a kernel's start, paid on every run of the stage. Report draws scikit-learn's
# confusion and curve displays, so it is not here.
WITHOUT_SKLEARN = ["explore"]


def import_lines(stage: str) -> str:
    """The notebook's import statements, as the runner warms its kernel with them."""
    nb = nbfile.read_json(ROOT / PROJECT.stage_notebook(stage).notebook)
    return "\n".join(nbfile.import_statements(nb))


@pytest.mark.parametrize("stage", WITHOUT_SKLEARN)
def test_the_notebooks_imports_leave_scikit_learn_out(stage):
    probe = (
        f"{import_lines(stage)}\nimport json, sys\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, check=True
    )
    loaded = set(json.loads(done.stdout))
    assert "pandas" in loaded  # the probe ran the notebook's imports
    assert not loaded & {"sklearn", "scipy"}, f"{stage}: {sorted(loaded & {'sklearn', 'scipy'})}"


@pytest.mark.parametrize("stage", STAGES)
def test_source_notebook_is_stored_without_outputs(stage):
    nb = nbfile.read_json(ROOT / PROJECT.stage_notebook(stage).notebook)
    assert not nbfile.has_outputs(nb)
    assert nb["metadata"]["kernelspec"]["name"] == "nbml"


@pytest.mark.parametrize("stage", STAGES)
def test_parameters_cell_declares_exactly_the_stage_params(stage):
    files = PROJECT.stage_notebook(stage)
    nb = nbfile.read_json(ROOT / files.notebook)
    nbfile.check_parameters(nb, PROJECT.stage_params(stage), files.notebook, stage)


@pytest.mark.parametrize("stage", STAGES)
def test_every_path_a_notebook_uses_is_declared_in_its_stage(stage):
    used = set(re.findall(r"\bP\.(\w+)\b", code_of(stage)))
    used |= set(re.findall(r"\bP\.relative\(['\"](\w+)['\"]\)", code_of(stage)))
    used -= {"relative", "root"}  # Paths' own attributes, not path names
    assert used, f"{stage} reads no project paths?"
    declared = PROJECT.stage_files(stage, "deps") + PROJECT.stage_files(stage, "outs")
    undeclared = [k for k in used if not covered(PROJECT.path_names[k], declared)]
    assert not undeclared, f"stage {stage} uses paths {undeclared} not in its deps/outs"


@pytest.mark.parametrize("stage", STAGES)
def test_every_helper_module_a_notebook_imports_is_a_dependency(stage):
    missing = sorted(helper_files(stage) - set(PROJECT.stage_files(stage, "deps")))
    assert not missing, f"stage {stage} imports helper modules not in its deps: {missing}"


@pytest.mark.parametrize("stage", STAGES)
def test_a_stage_depends_only_on_the_helper_modules_it_imports(stage):
    """Deps name what the notebook really imports, so editing another module re-runs nothing."""
    helpers = PROJECT.path_names["helpers"].rstrip("/") + "/"
    declared = {d for d in PROJECT.stage_files(stage, "deps") if d.startswith(helpers)}
    extra = sorted(declared - helper_files(stage))
    assert not extra, f"stage {stage} depends on helper files its notebook never imports: {extra}"


def test_no_path_literal_of_dvc_yaml_is_repeated_in_a_notebook():
    literals = {v for v in PROJECT.path_names.values() if "/" in v}
    for stage in STAGES:
        code = code_of(stage)
        repeated = [p for p in literals if p in code]
        assert not repeated, f"{stage} notebook repeats paths {repeated}; use paths()"
