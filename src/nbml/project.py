"""Where things are: the project root, its paths and each stage's parameters.

dvc.yaml is the single place where paths are written (its ``vars: paths``
block) and where a stage declares which params.yaml entries it reads. The
runner and the notebooks both ask this module, so ``dvc repro`` and a
notebook run by hand in JupyterLab see the same values.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import IO, Any

import yaml

from nbml.errors import ConfigError, NbmlError

PIPELINE_FILE = "dvc.yaml"
PARAMS_FILE = "params.yaml"
# The params.yaml value that leaves a choice to the pipeline (data.task, train.estimator,
# evaluate.metrics). Here, not in nbml.steps.task, so the runner can test for it without
# importing pandas and scikit-learn.
AUTO = "auto"
_TEMPLATE = re.compile(r"\$\{\s*([\w.]+)\s*\}")


def find_root(start: Path | None = None) -> Path:
    """Return the nearest folder at or above ``start`` that holds dvc.yaml."""
    env = os.environ.get("NBML_ROOT")
    if env:
        return Path(env).resolve()
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / PIPELINE_FILE).is_file():
            return folder
    raise ConfigError(f"no {PIPELINE_FILE} found in {here} or any folder above it")


def parse_file(
    path: Path, parse: Callable[[IO[str]], Any], error: type[NbmlError], kind: str
) -> Any:
    """Parse a UTF-8 text file; a missing or malformed file raises ``error`` naming it."""
    try:
        with open(path, encoding="utf-8") as fh:
            return parse(fh)
    except FileNotFoundError:
        raise error(f"{path}: {kind} not found") from None
    except (ValueError, yaml.YAMLError) as exc:  # json's errors are ValueErrors
        raise error(f"{path}: not valid {kind}: {exc}") from None


def load_yaml(path: Path) -> Any:
    """Read a YAML file safely, naming the file in any error."""
    return parse_file(path, yaml.safe_load, ConfigError, "YAML")


def _lookup(tree: dict[str, Any], dotted: str, where: str) -> Any:
    node: Any = tree
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            raise ConfigError(f"{where}: '{dotted}' is not defined")
        node = node[part]
    return node


@dataclass(frozen=True)
class StageNotebook:
    """A stage's source notebook, executed copy and HTML report, root-relative."""

    notebook: str
    executed: str
    report: str


def _one(candidates: list[str], what: str, stage: str, key: str) -> str:
    if len(candidates) != 1:
        found = ", ".join(candidates) or "none"
        raise ConfigError(
            f"dvc.yaml stage '{stage}': expected exactly one {what} in {key} (found {found})"
        )
    return candidates[0]


@dataclass(frozen=True)
class Project:
    """The parsed pipeline definition and parameters of one checkout."""

    root: Path
    pipeline: dict[str, Any]
    params: dict[str, Any]

    @classmethod
    def load(cls, root: Path | None = None) -> Project:
        root = root or find_root()
        pipeline = load_yaml(root / PIPELINE_FILE) or {}
        params = load_yaml(root / PARAMS_FILE) or {}
        if not isinstance(pipeline.get("stages"), dict):
            raise ConfigError(f"{root / PIPELINE_FILE}: no 'stages' mapping")
        if not isinstance(params, dict):
            raise ConfigError(f"{root / PARAMS_FILE}: top level must be a mapping")
        return cls(root, pipeline, params)

    # -- templating -----------------------------------------------------
    @property
    def variables(self) -> dict[str, Any]:
        """dvc.yaml's inline ``vars`` merged over params.yaml, as DVC does."""
        merged: dict[str, Any] = dict(self.params)
        for entry in self.pipeline.get("vars", []) or []:
            if isinstance(entry, dict):
                merged.update(entry)
        return merged

    def resolve(self, text: str) -> str:
        """Substitute ``${a.b}`` the way DVC does for deps, outs and cmd."""
        where = f"{self.root / PIPELINE_FILE}"
        return _TEMPLATE.sub(lambda m: str(_lookup(self.variables, m.group(1), where)), text)

    # -- paths ----------------------------------------------------------
    @property
    def path_names(self) -> dict[str, str]:
        """The ``paths`` block of dvc.yaml's vars, as written (root-relative)."""
        names = self.variables.get("paths")
        if not isinstance(names, dict):
            raise ConfigError(f"{self.root / PIPELINE_FILE}: vars has no 'paths' mapping")
        return {key: str(value) for key, value in names.items()}

    def stage(self, name: str) -> dict[str, Any]:
        stages = self.pipeline["stages"]
        if name not in stages:
            raise ConfigError(
                f"{self.root / PIPELINE_FILE}: no stage '{name}' (stages: {', '.join(stages)})"
            )
        return stages[name]

    def stage_files(self, name: str, kind: str) -> list[str]:
        """Resolved, root-relative ``deps`` or ``outs`` (incl. metrics, plots) of a stage."""
        spec = self.stage(name)
        keys = ("outs", "metrics", "plots") if kind == "outs" else (kind,)
        found: list[str] = []
        for key in keys:
            for item in spec.get(key, []) or []:
                path = next(iter(item)) if isinstance(item, dict) else item
                found.append(self.resolve(str(path)))
        return found

    def stage_notebook(self, stage: str) -> StageNotebook:
        """Find a stage's notebook among its deps, executed copy and report among its outs."""
        notebooks_dir = self.path_names.get("notebooks", "notebooks").rstrip("/") + "/"
        deps = self.stage_files(stage, "deps")
        outs = self.stage_files(stage, "outs")
        notebook = _one(
            [d for d in deps if d.endswith(".ipynb") and d.startswith(notebooks_dir)],
            f"notebook under {notebooks_dir}",
            stage,
            "deps",
        )
        executed = _one([o for o in outs if o.endswith(".ipynb")], "executed .ipynb", stage, "outs")
        report = _one([o for o in outs if o.endswith(".html")], "HTML report", stage, "outs")
        return StageNotebook(notebook, executed, report)

    def stage_reports(self) -> dict[str, str]:
        """Each stage's HTML report, root-relative, in dvc.yaml order."""
        return {stage: self.stage_notebook(stage).report for stage in self.pipeline["stages"]}

    def page_path(self, name: str, given: Path | None = None) -> Path:
        """Where a page that is not a stage output goes: ``given``, else the reports folder."""
        if given is None:
            return self.root / self.path_names.get("reports", "reports") / name
        return given if given.is_absolute() else self.root / given

    # -- parameters -----------------------------------------------------
    def stage_param_keys(self, name: str) -> list[str]:
        """The params.yaml entries a stage declares (``params:`` in dvc.yaml)."""
        keys: list[str] = []
        for item in self.stage(name).get("params", []) or []:
            if isinstance(item, dict):
                # {file: [keys]} form: only params.yaml is supported here
                for file, sub in item.items():
                    if file != PARAMS_FILE:
                        raise ConfigError(
                            f"stage '{name}': params from '{file}' are not supported; "
                            f"keep parameters in {PARAMS_FILE}"
                        )
                    keys.extend(sub)
            else:
                keys.append(str(item))
        return keys

    def stage_params(self, name: str) -> dict[str, Any]:
        """Flatten the stage's declared params into notebook variable names.

        A whole section (``train``) contributes its keys; a dotted entry
        (``data.target``) contributes its last component. Two entries that
        would give the same variable name are an error, not a silent overwrite.
        """
        where = f"{self.root / PARAMS_FILE}"
        values: dict[str, Any] = {}
        origin: dict[str, str] = {}
        for key in self.stage_param_keys(name):
            value = _lookup(self.params, key, where)
            if "." not in key:
                if not isinstance(value, dict):
                    raise ConfigError(f"{where}: section '{key}' must be a mapping")
                items = {k: (f"{key}.{k}", v) for k, v in value.items()}
            else:
                items = {key.rsplit(".", 1)[1]: (key, value)}
            for var, (full, val) in items.items():
                if var in values:
                    raise ConfigError(
                        f"stage '{name}': params {origin[var]} and {full} both "
                        f"become the notebook variable '{var}'"
                    )
                values[var], origin[var] = val, full
        return values


@dataclass(frozen=True)
class Paths:
    """Absolute paths of the project, by their names in dvc.yaml's ``vars: paths``."""

    root: Path
    names: dict[str, str]

    def __getattr__(self, key: str) -> Path:
        names = object.__getattribute__(self, "names")
        if key not in names:
            raise AttributeError(
                f"no path '{key}' in dvc.yaml vars.paths (known: {', '.join(sorted(names))})"
            )
        return object.__getattribute__(self, "root") / names[key]

    def relative(self, key: str) -> str:
        return self.names[key]


@lru_cache(maxsize=4)
def _project(root: Path) -> Project:
    return Project.load(root)


def project(root: Path | None = None) -> Project:
    """The project around the current directory (cached per root)."""
    return _project(root or find_root())


def paths(root: Path | None = None) -> Paths:
    """The project's paths, absolute, resolved from dvc.yaml."""
    proj = project(root)
    return Paths(proj.root, proj.path_names)


def stage_params(stage: str, root: Path | None = None) -> dict[str, Any]:
    """Parameter values a stage's notebook receives (read fresh from params.yaml)."""
    return Project.load(root or find_root()).stage_params(stage)
