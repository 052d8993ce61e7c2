"""The layout rules of the code base, checked on its source (nothing runs).

- the helper package is grouped by audience, and the notebooks' package never
  imports the developer tools;
- no function is longer than 60 lines;
- every exception class lives in ``nbml/errors.py``, under ``NbmlError``;
- a function-local import says why it is not at the top (``# lazy: ...``);
- every third-party package the code imports is declared in pyproject.toml.
"""

from __future__ import annotations

import ast
import functools
import importlib.metadata
import inspect
import re
import sys
import tomllib
from pathlib import Path

import pytest

import nbml.errors
from conftest import ROOT, notebook_code

PACKAGE = ROOT / "src" / "nbml"
TOOLS = ROOT / "tools"
MAX_FUNCTION_LINES = 60


def python_files(*folders: Path) -> list[Path]:
    return sorted(p for folder in folders for p in folder.rglob("*.py"))


def rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def parsed(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def functions(tree: ast.AST) -> list[ast.FunctionDef | ast.AsyncFunctionDef]:
    return [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]


def imported_modules(tree: ast.AST) -> set[str]:
    """Absolute module names imported anywhere in a tree."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
    return found


# -- layout ----------------------------------------------------------------------
def test_package_is_grouped_by_audience():
    subpackages = sorted(p.parent.name for p in PACKAGE.glob("*/__init__.py"))
    assert subpackages == ["reporting", "runner", "serving", "steps"]
    top_modules = sorted(p.stem for p in PACKAGE.glob("*.py"))
    assert top_modules == ["__init__", "errors", "messages", "project"]
    assert not list(PACKAGE.rglob("utils.py")), "name modules by what they do"


def test_the_runtime_package_never_imports_the_developer_tools():
    offenders = [
        rel(path)
        for path in python_files(PACKAGE)
        if any(m.split(".")[0] == "tools" for m in imported_modules(parsed(path)))
    ]
    assert offenders == []


def test_the_notebooks_import_only_steps_reporting_and_project():
    allowed = ("nbml.steps", "nbml.reporting", "nbml.project")
    for notebook in sorted((ROOT / "notebooks").glob("*.ipynb")):
        used = {m for m in imported_modules(ast.parse(notebook_code(notebook))) if "nbml" in m}
        wrong = sorted(m for m in used if not m.startswith(allowed))
        assert not wrong, f"{rel(notebook)} imports {wrong}"


# -- functions -------------------------------------------------------------------
def test_no_function_is_longer_than_60_lines():
    long = [
        f"{rel(path)}:{fn.lineno} {fn.name} ({fn.end_lineno - fn.lineno + 1} lines)"
        for path in python_files(PACKAGE, TOOLS, ROOT / "tests")
        for fn in functions(parsed(path))
        if fn.end_lineno - fn.lineno + 1 > MAX_FUNCTION_LINES
    ]
    assert long == []


def test_function_local_imports_say_why():
    """An import inside a function is there to keep a start-up fast; it says so."""
    unexplained = []
    for path in python_files(PACKAGE, TOOLS):
        lines = path.read_text(encoding="utf-8").splitlines()
        for fn in functions(parsed(path)):
            local = [
                n
                for n in ast.walk(fn)
                if isinstance(n, ast.Import | ast.ImportFrom)
                and n.lineno > fn.lineno
                and not any(n in ast.walk(inner) for inner in functions(fn) if inner is not fn)
            ]
            if local:
                first = min(n.lineno for n in local)
                before = lines[fn.lineno - 1 : first - 1]
                if not any("lazy:" in line for line in before):
                    unexplained.append(f"{rel(path)}:{first} in {fn.name}")
    assert unexplained == [], "add a '# lazy: <what it saves>' comment or import at the top"


def test_no_private_module_of_another_package_is_imported():
    """A module path with a part starting with '_' (sklearn.utils._param_validation) is
    a package's internals: it may change in any release without notice."""
    private = sorted(
        f"{rel(path)}: {module}"
        for path in python_files(PACKAGE, TOOLS)
        for module in imported_modules(parsed(path))
        if module.split(".")[0] in _third_party({module})
        and any(part.startswith("_") for part in module.split(".")[1:])
    )
    assert private == []


# -- errors ----------------------------------------------------------------------
def _is_exception_base(base: ast.expr) -> bool:
    name = ast.unparse(base).split(".")[-1]
    return name.endswith(("Error", "Exception", "Timeout", "Warning")) or name in {
        "Exception",
        "BaseException",
    }


def test_every_exception_class_is_defined_in_the_errors_module():
    elsewhere = [
        f"{rel(path)}:{node.lineno} {node.name}"
        for path in python_files(PACKAGE, TOOLS)
        if path != PACKAGE / "errors.py"
        for node in ast.walk(parsed(path))
        if isinstance(node, ast.ClassDef) and any(_is_exception_base(b) for b in node.bases)
    ]
    assert elsewhere == []


def test_every_project_error_derives_from_one_base():
    classes = [
        cls
        for _, cls in inspect.getmembers(nbml.errors, inspect.isclass)
        if cls.__module__ == "nbml.errors"
    ]
    assert len(classes) >= 10
    assert all(issubclass(cls, nbml.errors.NbmlError) for cls in classes)
    with pytest.raises(nbml.errors.NbmlError):
        raise nbml.errors.DataError("data.source=x", ["a problem"])


# -- dependencies ----------------------------------------------------------------
def _declared(extra: str | None = None) -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    specs = list(project["dependencies"])
    if extra:
        specs += project.get("optional-dependencies", {}).get(extra, [])
    names = {re.split(r"[\s\[<>=!~;]", spec, maxsplit=1)[0] for spec in specs}
    return {importlib.metadata.metadata(n)["Name"].lower().replace("_", "-") for n in names}


def _third_party(modules: set[str]) -> set[str]:
    tops = {m.split(".")[0] for m in modules}
    local = {"nbml", "tools", "conftest", "wine_project"} | {
        p.stem for p in (ROOT / "tests").rglob("*.py")
    }
    return {m for m in tops if m not in sys.stdlib_module_names and m not in local}


@functools.cache
def _packages_distributions() -> dict[str, list[str]]:
    # reads every installed distribution's file list: about a second each time
    return importlib.metadata.packages_distributions()


def _distributions(module: str) -> set[str]:
    dists = _packages_distributions().get(module, [])
    return {d.lower().replace("_", "-") for d in dists}


@pytest.mark.parametrize(
    "where, extra",
    [("src/nbml", None), ("notebooks", None), ("tools", "dev"), ("tests", "dev")],
)
def test_every_imported_package_is_declared(where: str, extra: str | None):
    folder = ROOT / where
    if where == "notebooks":
        trees = [ast.parse(notebook_code(p)) for p in sorted(folder.glob("*.ipynb"))]
    else:
        trees = [parsed(p) for p in python_files(folder)]
    modules = set().union(*(imported_modules(t) for t in trees))
    declared = _declared(extra)
    undeclared = sorted(
        f"{m} (from {', '.join(sorted(_distributions(m))) or '?'})"
        for m in _third_party(modules)
        if not _distributions(m) & declared
    )
    assert undeclared == [], f"imported in {where} but not declared in pyproject.toml"


def test_one_conftest_only():
    """A second conftest.py would replace the module `from conftest import ...` finds."""
    assert sorted(rel(p) for p in (ROOT / "tests").rglob("conftest.py")) == ["tests/conftest.py"]
