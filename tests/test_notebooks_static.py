"""Checks on the source notebooks and dvc.yaml that need no execution.

They guard the promises that make the pipeline trustworthy: notebooks are
stored clean, every parameter is declared once, and every file or helper
module a notebook touches is a declared dependency (or output) of its stage.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from nbml import notebook as nbfile
from nbml.project import Project

ROOT = Path(__file__).resolve().parents[1]
PROJECT = Project.load(ROOT)
STAGES = list(PROJECT.pipeline["stages"])
HELPERS = ROOT / PROJECT.path_names["helpers"]


def code_of(stage: str) -> str:
    nb = nbfile.read_json(ROOT / PROJECT.stage_notebook(stage).notebook)
    cells = [c for c in nb["cells"] if c["cell_type"] == "code"]
    src = ["".join(c["source"]) if isinstance(c["source"], list) else c["source"] for c in cells]
    # IPython magics are not Python; comment them out for parsing
    return "\n".join(re.sub(r"^%", "# %", s, flags=re.M) for s in src)


def covered(path: str, declared: list[str]) -> bool:
    return any(path == d or path.startswith(d.rstrip("/") + "/") for d in declared)


def nbml_imports(source: str) -> set[str]:
    """nbml modules imported by some Python source (``nbml.x`` names)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("nbml"):
            if node.module == "nbml":  # `from nbml import x`: x may be a module or a name
                found |= {
                    f"nbml.{a.name}" if (HELPERS / f"{a.name}.py").is_file() else "nbml"
                    for a in node.names
                }
            else:
                found.add(node.module)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("nbml")}
    return found


def module_closure(modules: set[str]) -> set[str]:
    seen: set[str] = set()
    todo = list(modules)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        rel = name.split(".", 1)[1].replace(".", "/") + ".py" if "." in name else "__init__.py"
        file = HELPERS / rel
        if file.is_file():
            todo.extend(nbml_imports(file.read_text()))
    return seen


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
    modules = module_closure(nbml_imports(code_of(stage))) | {"nbml"}
    files = {
        str(
            (
                HELPERS / "__init__.py" if m == "nbml" else HELPERS / f"{m.split('.', 1)[1]}.py"
            ).relative_to(ROOT)
        )
        for m in modules
    }
    missing = sorted(files - set(PROJECT.stage_files(stage, "deps")))
    assert not missing, f"stage {stage} imports helper modules not in its deps: {missing}"


def test_no_path_literal_of_dvc_yaml_is_repeated_in_a_notebook():
    literals = {v for v in PROJECT.path_names.values() if "/" in v}
    for stage in STAGES:
        code = code_of(stage)
        repeated = [p for p in literals if p in code]
        assert not repeated, f"{stage} notebook repeats paths {repeated}; use paths()"
