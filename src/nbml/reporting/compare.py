"""Compare the workspace, the last commit and the experiments on one static page.

``python -m nbml.reporting.compare`` (``make compare``) writes ``reports/compare.html``:
a params and metrics table with the best value per metric marked, ROC and
precision-recall curves overlaid per class, one confusion matrix per run (for
regression runs: predicted against actual values per run, and their metrics),
and links to each run's stage reports. The page is not a pipeline output:
it reads what ``dvc exp show --json`` lists, and each revision's plot CSVs and
stage reports through ``dvc.api``, which finds a file in git (the plot data is
``cache: false``) or in the DVC cache wherever ``dvc cache dir`` puts it, else
on the default remote. Images are inline base64 PNG, so the page opens from
disk with no network.
"""

from __future__ import annotations

import argparse
import base64
import html
import io
import json
import math
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from dvc.api import open as dvc_open
from dvc.api import read as dvc_read
from dvc.exceptions import DvcException
from matplotlib.figure import Figure

from nbml.errors import CompareError
from nbml.messages import say
from nbml.project import PARAMS_FILE, Project, find_root
from nbml.reporting import plots, regression_plots
from nbml.steps.summary import higher_is_better

WORKSPACE = "workspace"
PAGE = "compare.html"
REPORTS_SUBDIR = "compare"  # copies of each revision's stage reports, next to the page
# plot-data path name in dvc.yaml (and plots.CURVES kind) -> heading
CURVE_HEADINGS = {"roc": "ROC (one-vs-rest)", "precision_recall": "Precision-recall"}
VERSUS_HEADING = "Predicted vs actual (regression, test split)"


@dataclass
class Revision:
    """One column of the comparison: the workspace, a commit or an experiment."""

    name: str
    rev: str  # "workspace" or a commit sha
    kind: str  # "workspace", "commit" or "experiment"
    params: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    state: str = "success"  # experiments: success, failed, queued, running; workspace: stale

    @property
    def ok(self) -> bool:
        return self.state == "success"


def _cmd(args: list[str], root: Path) -> str:
    proc = subprocess.run(args, cwd=root, capture_output=True, text=True)
    if proc.returncode != 0:
        raise CompareError(f"{' '.join(args)} failed in {root}:\n{proc.stderr.strip()}")
    return proc.stdout


def flatten(tree: Any, prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` -> ``{"a.b": 1}``; lists stay values."""
    if not isinstance(tree, dict):
        return {prefix: tree} if prefix else {}
    out: dict[str, Any] = {}
    for key, value in tree.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, dict) and value:
            out.update(flatten(value, name))
        else:
            out[name] = value
    return out


def _numbers(tree: Any) -> dict[str, float]:
    return {
        k: float(v)
        for k, v in flatten(tree).items()
        if isinstance(v, int | float) and not isinstance(v, bool)
    }


def _revision_data(entry: dict[str, Any], metrics_file: str) -> tuple[dict, dict]:
    data = entry.get("data") or {}
    params = flatten(((data.get("params") or {}).get(PARAMS_FILE) or {}).get("data") or {})
    metrics = _numbers(((data.get("metrics") or {}).get(metrics_file) or {}).get("data") or {})
    return params, metrics


def parse_exp_show(rows: list[dict[str, Any]], metrics_file: str) -> list[Revision]:
    """Revisions from ``dvc exp show --json``: workspace, baseline(s), experiments."""
    found: list[Revision] = []
    for row in rows:
        params, metrics = _revision_data(row, metrics_file)
        if row.get("rev") == WORKSPACE:
            found.append(Revision(WORKSPACE, WORKSPACE, "workspace", params, metrics))
            continue
        label = row.get("name") or row["rev"][:7]
        found.append(Revision(label, row["rev"], "commit", params, metrics))
        for exp in row.get("experiments") or []:
            state = ((exp.get("executor") or {}).get("state")) or "success"
            for item in exp.get("revs") or []:
                params, metrics = _revision_data(item, metrics_file)
                state_here = "failed" if item.get("error") else state
                name = item.get("name") or exp.get("name") or item["rev"][:7]
                found.append(Revision(name, item["rev"], "experiment", params, metrics, state_here))
    return found


def changed_stages(root: Path) -> list[str]:
    """Stages whose params, code, data or outputs changed since they last ran (``dvc status``)."""
    status = json.loads(_cmd(["dvc", "status", "--json"], root) or "{}")
    return sorted(status)


def mark_stale(revisions: list[Revision], changed: list[str]) -> None:
    """The workspace's metrics are of its last run: with stages changed since, its params
    (a failed ``dvc exp run -S`` leaves them applied) never gave those metrics."""
    for r in revisions:
        if r.kind == WORKSPACE and changed:
            r.state = "stale"


def list_revisions(root: Path, metrics_file: str) -> list[Revision]:
    """Ask DVC for the workspace, HEAD and every experiment based on HEAD."""
    rows = json.loads(_cmd(["dvc", "exp", "show", "--json"], root) or "[]")
    revisions = parse_exp_show(rows, metrics_file)
    mark_stale(revisions, changed_stages(root))
    return revisions


def read_file(root: Path, rev: str, rel: str) -> str | None:
    """A file's text at a revision, or None when that revision has none.

    ``workspace`` reads the disk. Any other revision goes through dvc.api,
    which serves git-tracked files and DVC outputs alike (from the cache,
    wherever it is configured, or the default remote).
    """
    if rev == WORKSPACE:
        path = root / rel
        return path.read_text(encoding="utf-8") if path.is_file() else None
    try:
        return dvc_read(rel, repo=str(root), rev=rev, encoding="utf-8")
    except (DvcException, OSError):  # not at that revision, or in no cache or remote
        return None


def read_plot(root: Path, rev: str, rel: str) -> pd.DataFrame | None:
    """Plot data (CSV) of one revision, or None when that revision has none.

    A file with only its header is the plot of the other task (classification
    or regression): evaluate writes every declared file; that counts as none.
    """
    text = read_file(root, rev, rel)
    frame = pd.read_csv(io.StringIO(text)) if text else None
    return frame if frame is not None and len(frame) else None


def best_values(revisions: list[Revision], names: list[str]) -> dict[str, float]:
    """Best value per metric over the successful revisions (min where lower is better)."""
    best: dict[str, float] = {}
    for name in names:
        values = [r.metrics[name] for r in revisions if r.ok and name in r.metrics]
        values = [v for v in values if not math.isnan(v)]
        if values:
            best[name] = max(values) if higher_is_better(name) else min(values)
    return best


def differing_params(revisions: list[Revision]) -> list[str]:
    """Params whose value is not the same in every revision, in file order."""
    keys: list[str] = []
    for r in revisions:
        keys.extend(k for k in r.params if k not in keys)
    return [
        k for k in keys if len({json.dumps(r.params.get(k), sort_keys=True) for r in revisions}) > 1
    ]


# -- figures ---------------------------------------------------------------
def overlay_curves(frames: dict[str, pd.DataFrame], kind: str, title: str) -> Figure:
    """One panel per class, one curve per revision (kind: roc or precision_recall)."""
    classes = plots.class_order({str(c) for df in frames.values() for c in df["class"].unique()})
    cols = min(3, max(1, len(classes)))
    fig, axes = plots.grid(len(classes), cols, width=3.4 * cols, row_height=3.0, extra_height=0.6)
    colour_of = dict(zip(frames, plots.class_colours(len(frames)), strict=True))
    for ax, label in zip(axes, classes, strict=True):
        parts = {name: df[df["class"].astype(str) == label] for name, df in frames.items()}
        parts = {name: part for name, part in parts.items() if len(part)}
        plots.draw_curves(ax, kind, parts, [colour_of[name] for name in parts])
        ax.get_legend().remove()  # one legend for the whole figure, below it
        ax.set_title(label, fontsize=9)
        ax.xaxis.label.set_fontsize(8)
        ax.yaxis.label.set_fontsize(8)
        ax.tick_params(labelsize=7)
    if classes:
        plots.legend_below(fig, axes[0], ncols=min(len(frames) + 1, 4))
    fig.suptitle(title)
    return fig


def confusion_grid(frames: dict[str, pd.DataFrame]) -> Figure:
    """One confusion matrix (counts) per revision, side by side, on the same classes."""
    labels = plots.confusion_labels(frames.values())
    cols = min(4, max(1, len(frames)))
    fig, axes = plots.grid(len(frames), cols, width=3.0 * cols, row_height=2.9)
    for ax, (name, df) in zip(axes, frames.items(), strict=True):
        plots.draw_confusion(ax, df, labels, fontsize=7)
        ax.xaxis.label.set_fontsize(8)
        ax.yaxis.label.set_fontsize(8)
        ax.set_title(name, fontsize=9)
    return fig


def versus_grid(frames: dict[str, pd.DataFrame]) -> Figure:
    """Predicted against actual values (regression), one panel per revision, same scales."""
    cols = min(4, max(1, len(frames)))
    fig, axes = plots.grid(len(frames), cols, width=3.0 * cols, row_height=2.9)
    limits = regression_plots.value_range(list(frames.values()))
    for ax, (name, df) in zip(axes, frames.items(), strict=True):
        regression_plots.draw_versus(ax, df, limits)
        ax.set_xlim(*limits)
        ax.set_ylim(*limits)
        ax.xaxis.label.set_fontsize(8)
        ax.yaxis.label.set_fontsize(8)
        ax.tick_params(labelsize=7)
        ax.set_title(name, fontsize=9)
    return fig


def png(fig: Figure) -> bytes:
    """A figure as PNG bytes."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    return buf.getvalue()


def _img(fig: Figure, alt: str) -> str:
    data = base64.b64encode(png(fig)).decode("ascii")
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


# -- stage reports of each revision ---------------------------------------
def copy_file(root: Path, rev: str, rel: str, target: Path) -> bool:
    """Copy a file as it was at a revision to ``target``; False when it is nowhere to be had."""
    try:
        with dvc_open(rel, repo=str(root), rev=rev, mode="rb") as source:
            target.parent.mkdir(parents=True, exist_ok=True)
            with open(target, "wb") as out:
                shutil.copyfileobj(source, out)
    except (DvcException, OSError):
        target.unlink(missing_ok=True)  # a copy cut short is no report
        return False
    return True


def stage_reports(proj: Project, rev: Revision, page_dir: Path) -> dict[str, str]:
    """Links (relative to the page) to a revision's stage reports, where available."""
    reports = proj.stage_reports()
    if rev.kind == WORKSPACE:
        return {
            s: _relpath(proj.root / r, page_dir)
            for s, r in reports.items()
            if (proj.root / r).is_file()
        }
    dest = page_dir / REPORTS_SUBDIR / rev.rev[:12]
    links: dict[str, str] = {}
    for stage, rel in reports.items():
        target = dest / Path(rel).name
        if copy_file(proj.root, rev.rev, rel, target):
            links[stage] = _relpath(target, page_dir)
    return links


def _relpath(path: Path, start: Path) -> str:
    return os.path.relpath(path, start).replace(os.sep, "/")


# -- the page --------------------------------------------------------------
_CSS = """
body{font-family:system-ui,sans-serif;margin:1.5rem;color:#1f2328}
table{border-collapse:collapse;font-size:.85rem;margin:.5rem 0 1.5rem}
th,td{border:1px solid #d0d7de;padding:.25rem .5rem;text-align:right}
th:first-child,td:first-child{text-align:left}
thead th{background:#f6f8fa}
td.best{background:#dafbe1;font-weight:600}
tr.failed td{color:#8c959f}
img{max-width:100%}
.note{color:#57606a;font-size:.85rem}
"""


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, list | dict | bool) or value is None:
        return json.dumps(value)
    return str(value)


def metrics_table(revisions: list[Revision], metric_names: list[str], params: list[str]) -> str:
    """HTML table: one row per revision, metrics (best marked) then changed params."""
    best = best_values(revisions, metric_names)
    head = "".join(
        f"<th>{html.escape(m)} {'↑' if higher_is_better(m) else '↓'}</th>" for m in metric_names
    ) + "".join(f"<th>{html.escape(p)}</th>" for p in params)
    body = []
    for r in revisions:
        cells = []
        for m in metric_names:
            value = r.metrics.get(m) if r.ok else None
            mark = value is not None and best.get(m) == value
            text = _fmt(value) if value is not None else "—"
            cells.append(f'<td class="best">{text} ★</td>' if mark else f"<td>{text}</td>")
        cells.extend(f"<td>{html.escape(_fmt(r.params.get(p)))}</td>" for p in params)
        state = "" if r.ok else f" ({html.escape(r.state)})"
        label = f"{html.escape(r.name)}{state}<br><small>{r.kind}</small>"
        body.append(f"<tr{'' if r.ok else ' class=failed'}><td>{label}</td>{''.join(cells)}</tr>")
    return (
        f"<table><thead><tr><th>revision</th>{head}</tr></thead>"
        f"<tbody>{''.join(body)}</tbody></table>"
    )


def plot_frames(proj: Project, revisions: list[Revision], rel: str) -> dict[str, pd.DataFrame]:
    """Each revision's plot file ``rel``, by revision name; revisions without it left out."""
    found = {r.name: read_plot(proj.root, r.rev, rel) for r in revisions}
    return {name: df for name, df in found.items() if df is not None}


def render_page(proj: Project, revisions: list[Revision], page_dir: Path, title: str) -> str:
    """The whole comparison page as one self-contained HTML string."""
    P = proj.path_names
    metric_names: list[str] = []
    for r in revisions:
        metric_names.extend(m for m in r.metrics if m not in metric_names)
    usable = [r for r in revisions if r.ok]
    params = differing_params(usable) or []
    parts = [
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>",
        f"<style>{_CSS}</style></head><body><h1>{html.escape(title)}</h1>",
        "<p class=note>The workspace, the last commit and every experiment of "
        "<code>dvc exp show</code>. ★ marks the best value of each metric (↑ higher is "
        "better, ↓ lower is better). Failed or unfinished experiments are greyed out "
        "and have no metrics; <code>dvc queue logs NAME</code> shows why. A stale "
        "workspace (params, code or data changed since its last run, e.g. by a failed "
        "<code>dvc exp run</code>) is greyed out too: <code>dvc repro</code> brings it "
        "up to date.</p>",
        "<h2>Metrics and changed parameters</h2>",
        metrics_table(revisions, metric_names, params),
    ]
    for key, heading in CURVE_HEADINGS.items():
        if key not in P:
            continue
        if frames := plot_frames(proj, usable, P[key]):
            parts.append(f"<h2>{heading}</h2>")
            parts.append(_img(overlay_curves(frames, key, heading), heading))
    if "confusion" in P:
        if frames := plot_frames(proj, usable, P["confusion"]):
            parts.append("<h2>Confusion matrices (test split)</h2>")
            parts.append(_img(confusion_grid(frames), "confusion matrices"))
    if "predicted_actual" in P:
        if frames := plot_frames(proj, usable, P["predicted_actual"]):
            parts.append(f"<h2>{VERSUS_HEADING}</h2>")
            parts.append(_img(versus_grid(frames), VERSUS_HEADING))
    parts.append(
        "<h2>Stage reports</h2><table><thead><tr><th>revision</th><th>reports</th>"
        "</tr></thead><tbody>"
    )
    for r in usable:
        links = stage_reports(proj, r, page_dir)
        cell = (
            " · ".join(f'<a href="{html.escape(h)}">{html.escape(s)}</a>' for s, h in links.items())
            or "not in the DVC cache or on the remote"
        )
        parts.append(f"<tr><td>{html.escape(r.name)}</td><td>{cell}</td></tr>")
    parts.append("</tbody></table>")
    parts.append("</body></html>\n")
    return "".join(parts)


def write_page(root: Path | None = None, out: Path | None = None) -> Path:
    """Collect the revisions and write the comparison page; return its path."""
    proj = Project.load(root or find_root())
    P = proj.path_names
    out = proj.page_path(PAGE, out)
    out.parent.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(out.parent / REPORTS_SUBDIR, ignore_errors=True)
    revisions = list_revisions(proj.root, P["metrics"])
    title = str((proj.params.get("report") or {}).get("title", "Pipeline")) + ": experiments"
    out.write_text(render_page(proj, revisions, out.parent, title), encoding="utf-8")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m nbml.reporting.compare",
        description="Write a static HTML page comparing workspace, HEAD and experiments.",
    )
    parser.add_argument("--out", type=Path, help="output file (default reports/compare.html)")
    args = parser.parse_args(argv)
    return run_writer(lambda: write_page(out=args.out), "comparison")


def run_writer(write: Callable[[], Path], what: str) -> int:
    """Exit status of a page-writing command: 0 and where it wrote, or 1 and why not."""
    try:
        path = write()
    except CompareError as exc:
        say(f"error: {exc}")
        return 1
    say(f"{what} written to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
