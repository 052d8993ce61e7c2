"""The comparison helpers: unit tests on tiny in-memory inputs, and one slow test that
reads an older revision's files through DVC in a copy of the project."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from conftest import copy_project, run
from nbml.project import Project
from nbml.reporting import compare, pr_report
from nbml.reporting.pr_report import experiments_table

METRICS = "outputs/metrics.json"


def _entry(rev: str, name: str | None, lr: float, loss: float, acc: float) -> dict:
    return {
        "rev": rev,
        "name": name,
        "data": {
            "params": {
                "params.yaml": {
                    "data": {
                        "train": {"kwargs": {"learning_rate": lr}},
                        "evaluate": {"metrics": ["log_loss"]},
                    }
                }
            },
            "metrics": {METRICS: {"data": {"log_loss": loss, "accuracy": acc}}},
        },
        "error": None,
    }


def _exp_show() -> list[dict]:
    good = _entry("b" * 40, "good-exp", 0.2, 0.01, 0.9)
    bad = _entry("c" * 40, "bad-exp", -1, 0.005, 0.99)  # never to be credited: it failed
    bad["error"] = {"msg": "Experiment run failed", "type": ""}
    head = _entry("a" * 40, "main", 0.1, 0.02, 0.95)
    head["experiments"] = [
        {"executor": {"state": "success"}, "name": "good-exp", "revs": [good]},
        {"executor": {"state": "failed"}, "name": "bad-exp", "revs": [bad]},
    ]
    return [_entry("workspace", None, 0.1, 0.02, 0.95), head]


def test_parse_exp_show_reads_workspace_commit_and_experiments() -> None:
    revs = compare.parse_exp_show(_exp_show(), METRICS)
    assert [(r.name, r.kind, r.state) for r in revs] == [
        ("workspace", "workspace", "success"),
        ("main", "commit", "success"),
        ("good-exp", "experiment", "success"),
        ("bad-exp", "experiment", "failed"),
    ]
    assert revs[2].params["train.kwargs.learning_rate"] == 0.2
    assert revs[2].metrics == {"log_loss": 0.01, "accuracy": 0.9}


def test_best_values_respect_lower_is_better_and_skip_failed_runs() -> None:
    revs = compare.parse_exp_show(_exp_show(), METRICS)
    assert compare.best_values(revs, ["log_loss", "accuracy"]) == {
        "log_loss": 0.01,  # lower is better; the failed 0.005 does not count
        "accuracy": 0.95,
    }
    assert compare.differing_params([r for r in revs if r.ok]) == ["train.kwargs.learning_rate"]


def test_metrics_table_marks_best_and_greys_failed() -> None:
    revs = compare.parse_exp_show(_exp_show(), METRICS)
    table = compare.metrics_table(revs, ["log_loss", "accuracy"], ["train.kwargs.learning_rate"])
    assert '<td class="best">0.01 ★</td>' in table
    assert "log_loss ↓" in table and "accuracy ↑" in table
    assert "<tr class=failed><td>bad-exp (failed)" in table
    md = experiments_table(revs)
    assert "| good-exp | success | 0.01 | 0.9 |" in md
    assert "| bad-exp | failed | - | - |" in md
    assert "| experiment | status | log_loss ↓ |" in md


def test_stale_workspace_is_greyed_and_never_best() -> None:
    revs = compare.parse_exp_show(_exp_show(), METRICS)
    revs[0].metrics = {"log_loss": 0.001, "accuracy": 0.999}  # of a run before params changed
    compare.mark_stale(revs, ["evaluate", "train"])
    assert [r.state for r in revs[:2]] == ["stale", "success"]
    assert compare.best_values(revs, ["log_loss"]) == {"log_loss": 0.01}
    table = compare.metrics_table(revs, ["log_loss", "accuracy"], [])
    assert "<tr class=failed><td>workspace (stale)" in table
    assert "0.001" not in table
    compare.mark_stale(revs := compare.parse_exp_show(_exp_show(), METRICS), [])
    assert revs[0].ok  # an up-to-date workspace counts


def test_pr_report_verdicts_know_which_way_is_better(monkeypatch, tmp_path) -> None:
    diff = {
        METRICS: {
            "accuracy": {"old": 0.9, "new": 0.95},
            "log_loss": {"old": 0.2, "new": 0.3},
            "median_absolute_error": {"old": 2.0, "new": 1.5},
            "r2": {"new": 0.8},
        }
    }
    monkeypatch.setattr(pr_report, "metrics_diff", lambda root, base: diff)
    lines = pr_report.verdicts(tmp_path, "main", METRICS).splitlines()
    assert lines[0].startswith("- **accuracy** ↑: 0.950 (+0.05 ▲ better)")
    assert lines[1].startswith("- **log_loss** ↓: 0.300 (+0.1 ▲ worse)")
    assert lines[2].startswith("- **median_absolute_error** ↓: 1.50 (-0.5 ▼ better)")
    assert lines[3] == "- **r2** ↑: 0.800 (new)"
    monkeypatch.setattr(pr_report, "metrics_diff", lambda root, base: None)
    assert "No metrics" in pr_report.verdicts(tmp_path, "main", METRICS)


def test_flatten_keeps_lists_as_values() -> None:
    assert compare.flatten({"a": {"b": 1, "c": [1, 2]}, "d": {}}) == {
        "a.b": 1,
        "a.c": [1, 2],
        "d": {},
    }


def test_figures_overlay_every_revision() -> None:
    roc = pd.DataFrame({"class": ["x", "x", "y", "y"], "fpr": [0, 1, 0, 1], "tpr": [0, 1, 0, 1]})
    fig = compare.overlay_curves({"one": roc, "two": roc}, "roc", "ROC")
    # one line per revision in each class's panel, then the chance-level diagonal
    assert [len(ax.lines) for ax in fig.axes if ax.get_visible()] == [3, 3]
    conf = pd.DataFrame({"actual": ["x", "y"], "predicted": ["x", "x"]})
    grid = compare.confusion_grid({"one": conf, "two": conf, "three": conf})
    assert sum(ax.get_visible() for ax in grid.axes) == 3
    assert compare.png(grid)[:4] == b"\x89PNG"


def test_regression_runs_compare_errors_lower_and_draw_predicted_vs_actual(tmp_path) -> None:
    assert compare.best_values(
        [
            compare.Revision("a", "a", "commit", metrics={"rmse": 3.0, "r2": 0.5}),
            compare.Revision("b", "b", "commit", metrics={"rmse": 2.0, "r2": 0.7}),
        ],
        ["rmse", "r2"],
    ) == {"rmse": 2.0, "r2": 0.7}
    versus = pd.DataFrame({"actual": [1.0, 2.0, 3.0], "predicted": [1.5, 2.0, 2.5]})
    grid = compare.versus_grid({"one": versus, "two": versus * 2})
    panels = [ax for ax in grid.axes if ax.get_visible()]
    assert len(panels) == 2 and panels[0].get_xlim() == panels[1].get_xlim() == (1.0, 6.0)
    # a header-only plot file is the other task's: no plot, not an empty one
    (tmp_path / "roc.csv").write_text("class,fpr,tpr\n")
    (tmp_path / "versus.csv").write_text(versus.to_csv(index=False))
    assert compare.read_plot(tmp_path, compare.WORKSPACE, "roc.csv") is None
    assert len(compare.read_plot(tmp_path, compare.WORKSPACE, "versus.csv")) == 3


# -- an older revision's files, through dvc.api ------------------------------------
def _fake_run(repo: Path, proj: Project, tag: str) -> None:
    """Write every stage's outs (and the deps that are other stages' files), commit them
    as DVC would after a run (``dvc commit``), then commit to git: a run without running."""
    for stage in proj.pipeline["stages"]:
        files = proj.stage_files(stage, "outs") + proj.stage_files(stage, "deps")
        for rel in files:
            path = repo / rel
            if path.suffix and (rel in proj.stage_files(stage, "outs") or not path.exists()):
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(f"{rel} {tag}\n", encoding="utf-8")
            elif not path.suffix:
                path.mkdir(parents=True, exist_ok=True)
    roc = pd.DataFrame({"class": ["x", "x", "x"], "fpr": [0, 0.5, 1], "tpr": [0, RUN_TPR[tag], 1]})
    roc.to_csv(repo / proj.path_names["roc"], index=False)
    run(["dvc", "commit", "-f", "-q"], repo)
    run(["git", "add", "-A"], repo)
    run(["git", "commit", "-qm", f"run {tag}"], repo)


RUN_TPR = {"one": 0.25, "two": 0.75}


@pytest.mark.slow
def test_older_revision_read_from_elsewhere_cache_and_remote(tmp_path: Path) -> None:
    """A cache outside .dvc/ (`dvc cache dir`), plot data kept in the DVC cache too, and,
    once the cache is gone, the remote: the page still shows the older run's files."""
    repo = copy_project(tmp_path / "project")
    cache, remote = tmp_path / "elsewhere-cache", tmp_path / "remote"
    run(["dvc", "cache", "dir", str(cache)], repo)
    run(["dvc", "remote", "modify", "--local", "shared", "url", str(remote)], repo)
    # this project keeps its plot data in the DVC cache rather than in git
    pipeline = (repo / "dvc.yaml").read_text(encoding="utf-8")
    pipeline = pipeline.replace("${paths.plots}:\n          cache: false", "${paths.plots}")
    (repo / "dvc.yaml").write_text(pipeline, encoding="utf-8")
    run(["git", "rm", "-r", "-q", "--cached", "outputs/plots"], repo)
    proj = Project.load(repo)
    _fake_run(repo, proj, "one")
    old = run(["git", "rev-parse", "HEAD"], repo).stdout.strip()
    _fake_run(repo, proj, "two")
    assert not (repo / ".dvc" / "cache").exists() and any(cache.rglob("*"))

    page_dir = repo / "reports"
    revisions = [
        compare.Revision("workspace", compare.WORKSPACE, "workspace"),
        compare.Revision("one", old, "commit"),
    ]
    copied = page_dir / "compare" / old[:12] / "train.html"

    def check_page() -> None:
        roc = compare.read_plot(repo, old, proj.path_names["roc"])
        assert roc is not None and roc["tpr"].tolist() == [0, RUN_TPR["one"], 1]
        page = compare.render_page(proj, revisions, page_dir, "t")
        assert f'href="compare/{old[:12]}/train.html"' in page
        assert copied.read_text(encoding="utf-8") == "reports/train.html one\n"
        assert "ROC (one-vs-rest)" in page

    check_page()
    # a git-tracked file at that revision comes through dvc.api as well
    assert compare.read_file(repo, old, "params.yaml") == (repo / "params.yaml").read_text()

    run(["dvc", "push", "-q", "--all-commits"], repo)
    shutil.rmtree(cache)
    copied.unlink()
    check_page()

    shutil.rmtree(remote)
    copied.unlink()
    page = compare.render_page(proj, revisions, page_dir, "t")
    assert "not in the DVC cache or on the remote" in page and not copied.exists()
