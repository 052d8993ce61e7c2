"""The pull-request report: what this change does to metrics, params and plots.

``python -m nbml.reporting.pr_report --base main`` (``make pr-report BASE=main``) writes
``reports/pr-report.md`` with ``dvc metrics diff --md`` and
``dvc params diff --md`` against the base revision, and the key plots of the
base and the workspace overlaid (PNG files in ``reports/pr-report/``, linked
relatively). CI posts the same file as a pull-request comment.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from nbml.project import Project, find_root
from nbml.reporting.compare import (
    CURVE_HEADINGS,
    VERSUS_HEADING,
    WORKSPACE,
    CompareError,
    Revision,
    confusion_grid,
    list_revisions,
    overlay_curves,
    png,
    read_plot,
    run_writer,
    versus_grid,
)
from nbml.reporting.status import metrics_diff
from nbml.steps.summary import from_dvc_diff, higher_is_better

REPORT = "pr-report.md"
IMAGES = "pr-report"


def dvc_diff(root: Path, what: str, base: str) -> str:
    """``dvc metrics|params diff BASE --md`` (against the workspace)."""
    # every metric (changed or not), only the params that changed
    args = ["dvc", what, "diff", base, "--md", *(["--all"] if what == "metrics" else [])]
    proc = subprocess.run(args, cwd=root, capture_output=True, text=True)
    if proc.returncode != 0:
        raise CompareError(f"{' '.join(args)} failed:\n{proc.stderr.strip()}")
    return proc.stdout.strip() or f"_No {what} changed against `{base}`._"


def _arrow(name: str) -> str:
    return "↑" if higher_is_better(name) else "↓"


def verdicts(root: Path, base: str, metrics_file: str) -> str:
    """One line per tracked metric: its value, the change against ``base`` and whether that
    is better (directions from nbml.steps.summary, the same as the index and compare page)."""
    changes = from_dvc_diff(metrics_diff(root, base) or {}, metrics_file)
    lines = [f"- **{c.name}** {_arrow(c.name)}: {c.text()}" for c in changes]
    return "\n".join(lines) or f"_No metrics in `{metrics_file}` to compare with `{base}`._"


def resolve(root: Path, rev: str) -> str:
    """The commit a revision name points to (so the report says what was compared)."""
    proc = subprocess.run(
        ["git", "rev-parse", "--short", f"{rev}^{{commit}}"],
        cwd=root,
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        raise CompareError(f"git does not know the base revision '{rev}': {proc.stderr.strip()}")
    return proc.stdout.strip()


def plot_images(proj: Project, base: str, out_dir: Path) -> list[tuple[str, Path]]:
    """Base vs workspace: ROC, precision-recall, confusion, predicted vs actual; save PNGs."""
    P = proj.path_names
    out_dir.mkdir(parents=True, exist_ok=True)
    made: list[tuple[str, Path]] = []
    labels = {f"base ({base})": base, "this change": WORKSPACE}
    for key, title in CURVE_HEADINGS.items():
        frames = {
            n: df
            for n, r in labels.items()
            if key in P and (df := read_plot(proj.root, r, P[key])) is not None
        }
        if frames:
            path = out_dir / f"{key}.png"
            path.write_bytes(png(overlay_curves(frames, key, title)))
            made.append((title, path))
    frames = {
        n: df
        for n, r in labels.items()
        if "confusion" in P and (df := read_plot(proj.root, r, P["confusion"])) is not None
    }
    if frames:
        path = out_dir / "confusion.png"
        path.write_bytes(png(confusion_grid(frames)))
        made.append(("Confusion matrices (test split)", path))
    frames = {
        n: df
        for n, r in labels.items()
        if "predicted_actual" in P
        and (df := read_plot(proj.root, r, P["predicted_actual"])) is not None
    }
    if frames:
        path = out_dir / "predicted_actual.png"
        path.write_bytes(png(versus_grid(frames)))
        made.append((VERSUS_HEADING, path))
    return made


def experiments_table(revisions: list[Revision]) -> str:
    """Markdown table of local experiments (status and metrics); empty if there are none."""
    exps = [r for r in revisions if r.kind == "experiment"]
    if not exps:
        return ""
    names: list[str] = []
    for r in revisions:
        names.extend(m for m in r.metrics if m not in names)
    lines = [
        "| experiment | status | " + " | ".join(f"{m} {_arrow(m)}" for m in names) + " |",
        "|---|---|" + "---|" * len(names),
    ]
    for r in exps:
        values = [f"{r.metrics[m]:.6g}" if r.ok and m in r.metrics else "-" for m in names]
        lines.append(f"| {r.name} | {r.state} | " + " | ".join(values) + " |")
    return "\n".join(lines)


def build(root: Path, base: str, out: Path) -> str:
    """The Markdown report text; images are written next to ``out``."""
    proj = Project.load(root)
    sha = resolve(root, base)
    images = plot_images(proj, base, out.parent / IMAGES)
    parts = [
        f"## Pipeline report: this change against `{base}` ({sha})",
        "",
        "### Metrics",
        "",
        verdicts(root, base, proj.path_names["metrics"]),
        "",
        dvc_diff(root, "metrics", base),
        "",
        "### Params",
        "",
        dvc_diff(root, "params", base),
        "",
        "### Plots",
        "",
    ]
    for title, path in images:
        rel = path.relative_to(out.parent).as_posix()
        parts += [f"#### {title}", "", f"![{title}]({rel})", ""]
    table = experiments_table(list_revisions(root, proj.path_names["metrics"]))
    if table:
        parts += ["### Local experiments (`dvc exp show`)", "", table, ""]
    return "\n".join(parts).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m nbml.reporting.pr_report",
        description="Markdown report of metrics, params and plots against a base revision.",
    )
    parser.add_argument("--base", default="main", help="git revision to compare with")
    parser.add_argument("--out", type=Path, help="output file (default reports/pr-report.md)")
    args = parser.parse_args(argv)
    root = find_root()
    proj = Project.load(root)
    out = proj.page_path(REPORT, args.out)
    return run_writer(lambda: write_report(root, args.base, out), "pull-request report")


def write_report(root: Path, base: str, out: Path) -> Path:
    """Write the report (and its images) to ``out``; return ``out``."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(build(root, base, out), encoding="utf-8")
    return out


if __name__ == "__main__":
    sys.exit(main())
