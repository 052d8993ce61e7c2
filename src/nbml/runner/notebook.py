"""Notebook files: the parameters cell, stripping, and stable executed output."""

from __future__ import annotations

import ast
import difflib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from nbml.errors import ConfigError, NotebookError
from nbml.project import Project, find_root, parse_file

PARAMETERS_TAG = "parameters"
INJECTED_TAG = "injected-parameters"
# Cell metadata that JupyterLab or the executors add and that means nothing
# to a reader of the source: dropped so a save does not change the file.
_VOLATILE_CELL_METADATA = ("execution", "papermill", "collapsed", "scrolled", "trusted")
# Notebook-level metadata papermill writes; only the parameters are kept in
# the executed notebook, everything time-dependent goes to the run record.
_KEPT_PAPERMILL_METADATA = ("parameters", "input_path")
# Lines a helper prints on a notebook's stderr with this prefix are repeated
# by the runner on the terminal, where a user of `dvc repro` sees them.


def read_json(path: Path) -> dict[str, Any]:
    """Read a notebook as plain JSON (fast: no schema validation on import)."""
    return parse_file(path, json.load, NotebookError, "notebook")


def dumps(nb: dict[str, Any]) -> str:
    """Serialise like nbformat/JupyterLab do (indent 1, sorted keys, newline)."""
    return json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def write_atomic(path: Path, text: str) -> None:
    """Write through a temporary file so a crash never leaves half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _source(cell: dict[str, Any]) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def parameters_cell(nb: dict[str, Any], where: str) -> tuple[int, dict[str, Any]]:
    """Return (index, cell) of the single code cell tagged ``parameters``."""
    tagged = [
        (i, c)
        for i, c in enumerate(nb.get("cells", []))
        if PARAMETERS_TAG in (c.get("metadata", {}).get("tags") or [])
    ]
    if not tagged:
        raise NotebookError(
            f"{where}: no cell is tagged '{PARAMETERS_TAG}'; tag the cell that "
            "declares the stage's parameters (JupyterLab: Property Inspector > Cell Tags)"
        )
    if len(tagged) > 1:
        cells = ", ".join(str(i + 1) for i, _ in tagged)
        raise NotebookError(f"{where}: cells {cells} are all tagged '{PARAMETERS_TAG}'; keep one")
    index, cell = tagged[0]
    if cell.get("cell_type") != "code":
        raise NotebookError(f"{where}: the '{PARAMETERS_TAG}' cell (cell {index + 1}) is not code")
    return index, cell


def declared_parameters(nb: dict[str, Any], where: str) -> list[str]:
    """Names the parameters cell assigns at top level (``_private`` names excluded)."""
    _, cell = parameters_cell(nb, where)
    try:
        tree = ast.parse(_source(cell))
    except SyntaxError as exc:
        raise NotebookError(f"{where}: the parameters cell is not valid Python: {exc}") from None
    names: list[str] = []
    for node in tree.body:
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.AnnAssign):
            targets = [node.target]
        for target in targets:
            if isinstance(target, ast.Name) and not target.id.startswith("_"):
                names.append(target.id)
    return names


def check_parameters(nb: dict[str, Any], injected: dict[str, Any], where: str, stage: str) -> None:
    """Refuse to run when the parameters cell and the stage's params disagree."""
    declared = set(declared_parameters(nb, where))
    unknown = sorted(set(injected) - declared)
    missing = sorted(declared - set(injected))
    problems = []
    # a key params.yaml spells differently from the name the notebook expects: one
    # problem naming both, not an unknown key and a missing one
    for key in list(unknown):
        close = difflib.get_close_matches(key, missing, n=1, cutoff=0.75)
        if close:
            problems.append(
                f"params.yaml gives {key} to stage '{stage}' (did you mean {close[0]}?), and "
                f"the parameters cell of {where} declares {close[0]}: rename it in params.yaml"
            )
            unknown.remove(key)
            missing.remove(close[0])
    if unknown:
        problems.append(
            f"params.yaml gives {', '.join(unknown)} to stage '{stage}', but the "
            f"parameters cell of {where} does not declare "
            + ("it" if len(unknown) == 1 else "them")
        )
    if missing:
        problems.append(
            f"the parameters cell of {where} declares {', '.join(missing)}, but "
            f"dvc.yaml stage '{stage}' injects no such param (add it to params.yaml "
            "and to the stage's params:)"
        )
    if problems:
        raise NotebookError("; ".join(problems))


def strip_outputs(nb: dict[str, Any]) -> dict[str, Any]:
    """Source form of a notebook: no outputs, no counts, no volatile metadata."""
    for cell in nb.get("cells", []):
        meta = cell.get("metadata", {})
        for key in _VOLATILE_CELL_METADATA:
            meta.pop(key, None)
        if cell.get("cell_type") == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
    meta = nb.get("metadata", {})
    for key in ("widgets", "papermill"):
        meta.pop(key, None)
    # the kernel fills language_info on save; keep only what identifies it
    if "language_info" in meta:
        meta["language_info"] = {"name": meta["language_info"].get("name", "python")}
    return nb


def has_outputs(nb: dict[str, Any]) -> bool:
    """True if any code cell carries outputs or an execution count."""
    return any(
        c.get("outputs") or c.get("execution_count")
        for c in nb.get("cells", [])
        if c.get("cell_type") == "code"
    )


def pre_save_hook(
    model: dict[str, Any], path: str = "", contents_manager: Any = None, **_: Any
) -> None:
    """Jupyter server hook: save the pipeline's notebooks without outputs.

    Outputs of an interactive session belong to the executed copy that
    ``dvc repro`` writes; keeping them out of the source keeps git diffs
    readable and keeps the stage from re-running after a plain save. Other
    notebooks (scratch work next to them) keep their outputs.
    """
    if model.get("type") != "notebook":
        return
    content = model.get("content")
    if not isinstance(content, dict):
        return
    root_dir = getattr(contents_manager, "root_dir", None)
    if root_dir is not None and not is_pipeline_notebook(Path(root_dir) / path.lstrip("/")):
        return
    strip_outputs(content)


def is_pipeline_notebook(file: Path) -> bool:
    """True if ``file`` is a dependency of a stage in the dvc.yaml above it."""
    file = file.resolve()
    try:
        proj = Project.load(find_root(file.parent))
        return any(
            (proj.root / dep).resolve() == file
            for stage in proj.pipeline.get("stages", {}) or {}
            for dep in proj.stage_files(stage, "deps")
        )
    except ConfigError:
        return False


def import_statements(nb: dict[str, Any]) -> list[str]:
    """Top-level ``import``/``from ... import`` lines of the code cells, in order."""
    lines: list[str] = []
    for cell in nb.get("cells", []):
        if cell.get("cell_type") != "code":
            continue
        text = "\n".join(
            ln for ln in _source(cell).splitlines() if not ln.lstrip().startswith(("%", "!"))
        )
        try:
            tree = ast.parse(text)
        except SyntaxError:
            continue
        lines += [ast.unparse(n) for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
    return lines


def split_run_record(nb: dict[str, Any]) -> dict[str, Any]:
    """Remove time-dependent metadata from an executed notebook, in place.

    Returns what was removed (start/end times, durations, per-cell timing) so
    the runner can keep it in the untracked run record instead.
    """
    record: dict[str, Any] = {"cells": []}
    meta = nb.get("metadata", {})
    pm = meta.get("papermill", {})
    record["papermill"] = {k: v for k, v in pm.items() if k not in _KEPT_PAPERMILL_METADATA}
    meta["papermill"] = {k: pm[k] for k in _KEPT_PAPERMILL_METADATA if k in pm}
    for index, cell in enumerate(nb.get("cells", [])):
        cmeta = cell.get("metadata", {})
        timing = {key: cmeta.pop(key) for key in ("papermill", "execution") if key in cmeta}
        if timing:
            record["cells"].append({"index": index, **timing})
        if INJECTED_TAG in (cmeta.get("tags") or []):
            # papermill gives this cell a random id on every run
            cell["id"] = INJECTED_TAG
    meta.pop("widgets", None)
    return record


_INSERTED_TAGS = {INJECTED_TAG, "papermill-error-cell-tag"}


def failed_cell(nb: dict[str, Any]) -> tuple[int, dict[str, Any]] | None:
    """The first code cell that raised or never finished, with its index in the source.

    Cells papermill inserts (injected parameters, error banners) are not
    counted, so the number matches what the user sees in the source notebook.
    """
    source_cells = [
        c
        for c in nb.get("cells", [])
        if not _INSERTED_TAGS & set(c.get("metadata", {}).get("tags") or [])
    ]
    last_ran: tuple[int, dict[str, Any]] | None = None
    for index, cell in enumerate(source_cells):
        if cell.get("cell_type") != "code":
            continue
        if any(o.get("output_type") == "error" for o in cell.get("outputs", [])):
            return index, cell
        papermill = cell.get("metadata", {}).get("papermill")
        status = (papermill or {}).get("status")
        if status is not None and status != "completed":
            return index, cell
        started = (
            papermill.get("start_time") is not None
            if papermill
            else cell.get("execution_count") is not None
        )
        if not started and _source(cell).strip():
            # never started: execution ended in the cell before (a dead kernel;
            # papermill then marks every cell "completed")
            return last_ran or (index, cell)
        last_ran = (index, cell)
    return None


# The cell's name and its error on one line up to this length (the runner adds ~70).
CELL_LINE = 120


def describe_cell(index: int, cell: dict[str, Any]) -> str:
    """A cell by number and its first line of code, with its error (on a second line if long)."""
    first = next((ln for ln in _source(cell).splitlines() if ln.strip()), "")
    if len(first) > 70:
        first = first[:67] + "..."
    errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
    cell_name = f"cell {index + 1} (id '{cell.get('id', '?')}') `{first}`"
    if not errors:
        return cell_name
    error = f"{errors[0].get('ename')}: {errors[0].get('evalue')}"
    # a long error goes on a line of its own: terminal lines stay within ~200 characters
    return (
        f"{cell_name}: {error}"
        if len(cell_name + error) <= CELL_LINE
        else f"{cell_name}:\n  {error}"
    )
