"""The live part of the index: git revision, changes since the last commit and main, last runs.

``reports/index.html`` is a DVC output and must keep the same bytes for the
same inputs, so it cannot hold what depends on git (the revision, whether
the workspace has uncommitted changes, what changed since a commit) or on
the clock (how long a stage took). Those go into ``reports/status.js``,
written after the pipeline by ``make repro`` and by ``make status``
(``python -m nbml.reporting.status``); it is git-ignored and no stage reads
it. The index loads it with a ``<script src>`` (which works from disk,
offline) and fills in its "what changed" column and the graph's run times;
without it the page says how to make it.

The changes are what ``dvc metrics diff REV --json --all`` gives, for the
last commit (``HEAD``) and the main branch.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from nbml.project import Project, find_root
from nbml.reporting.overview import STATUS_FILE
from nbml.runner.stage import LOG_DIR
from nbml.serving.metadata import git_revision
from nbml.steps.summary import from_dvc_diff

VARIABLE = "NBML_STATUS"
DVC_TIMEOUT = 120


def _dvc() -> str:
    """This environment's dvc (the venv's, next to its Python), else the one on PATH."""
    beside = Path(sys.executable).with_name("dvc")
    return str(beside) if beside.is_file() else "dvc"


def metrics_diff(root: Path, rev: str) -> dict[str, Any] | None:
    """``dvc metrics diff REV --json --all`` (the workspace against REV); None if DVC cannot."""
    try:
        proc = subprocess.run(
            [_dvc(), "metrics", "diff", rev, "--json", "--all"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=DVC_TIMEOUT,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if proc.returncode != 0:
        return None
    try:
        return json.loads(proc.stdout or "{}")
    except ValueError:
        return None


def rev_exists(root: Path, rev: str) -> bool:
    proc = subprocess.run(
        ["git", "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}"],
        cwd=root,
        capture_output=True,
        text=True,
    )
    return proc.returncode == 0


def change_rows(diff: dict[str, Any] | None, metrics_file: str) -> list[dict[str, Any]] | None:
    """Per metric: old, new, the mark ('▲ better') and the text the index shows."""
    if diff is None:
        return None
    return [
        {
            "name": c.name,
            "old": c.old,
            "new": c.new,
            "verdict": c.verdict,
            "change": c.change_text(),
            "text": c.text(),
        }
        for c in from_dvc_diff(diff, metrics_file)
    ]


def read_runs(root: Path, since: float | None = None) -> dict[str, dict[str, Any]]:
    """Each stage's last run record; ``ran`` says whether it ran in the last ``dvc repro``.

    With ``since`` (a time stamp taken before ``dvc repro``), a stage ran if its
    record is newer; without, if it belongs to the same ``dvc repro`` process
    as the newest record (the runner writes that process as ``session``).
    """
    records = {}
    for path in sorted((root / LOG_DIR / "runs").glob("*.json")):
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        record["mtime"] = path.stat().st_mtime
        records[str(record.get("stage", path.stem))] = record
    if not records:
        return {}
    newest = max(records.values(), key=lambda r: r["mtime"])
    runs = {}
    for stage, record in records.items():
        if since is not None:
            ran = record["mtime"] >= since
        else:
            ran = record.get("session") is not None and record.get("session") == newest.get(
                "session"
            )
        runs[stage] = {
            "seconds": record.get("seconds"),
            "finished": record.get("finished"),
            "ran": bool(ran),
        }
    return runs


def collect(root: Path, since: float | None = None, base: str = "main") -> dict[str, Any]:
    """Everything status.js carries."""
    proj = Project.load(root)
    metrics_file = proj.path_names["metrics"]
    diffs: dict[str, Any] = {"HEAD": change_rows(metrics_diff(root, "HEAD"), metrics_file)}
    if rev_exists(root, base):
        diffs[base] = change_rows(metrics_diff(root, base), metrics_file)
    return {
        "git": git_revision(root),
        "diffs": diffs,
        "runs": read_runs(root, since),
    }


def write_status(root: Path, since: float | None = None, base: str = "main") -> Path:
    """Write status.js next to the index (``reports/status.js``)."""
    proj = Project.load(root)
    path = (root / proj.stage_notebook("report").report).parent / STATUS_FILE
    data = json.dumps(collect(root, since, base), indent=1, sort_keys=True, ensure_ascii=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"window.{VARIABLE} = {data};\n", encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m nbml.reporting.status",
        description="Write reports/status.js: git revision, metric changes, last stage runs.",
    )
    parser.add_argument("--since", type=float, help="time stamp taken before `dvc repro`")
    parser.add_argument("--base", default="main", help="the branch to compare with besides HEAD")
    args = parser.parse_args(argv)
    path = write_status(find_root(), args.since, args.base)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
