"""Unit tests of tools/bench_scale.py: sizes, and the synthetic table's shape."""

import subprocess

import numpy as np
import pyarrow.csv as pacsv
import yaml

from tools import bench_scale


def test_parse_rows():
    assert bench_scale.parse_rows("1e5, 1e6,") == [100_000, 1_000_000]


def test_synthetic_table_has_the_benchmark_shape(tmp_path):
    path = bench_scale.dataset(2_000, tmp_path)
    table = pacsv.read_csv(path).to_pandas()
    assert table.shape == (2_000, bench_scale.N_FLOATS + len(bench_scale.CATEGORIES) + 1)
    assert set(table[bench_scale.TARGET]) == set(bench_scale.CLASSES)
    missing = table.filter(like="x").isna().to_numpy().mean()
    assert 0.01 < missing < 0.03
    assert bench_scale.dataset(2_000, tmp_path) == path  # cached: generated once
    again = pacsv.read_csv(path).to_pandas()
    assert np.array_equal(again["x00"].fillna(0), table["x00"].fillna(0))


def test_tables_are_cached_in_the_main_checkout_shared_by_its_worktrees(tmp_path):
    """Not in the home directory: .cache/bench-scale of the checkout, one for every worktree."""
    main, worktree, plain = tmp_path / "main", tmp_path / "wt", tmp_path / "plain"
    plain.mkdir()
    who = ["-c", "user.name=t", "-c", "user.email=t@t"]
    for args in (
        ["init", "-q", "-b", "main", str(main)],
        ["-C", str(main), *who, "commit", "-q", "--allow-empty", "-m", "x"],
        ["-C", str(main), "worktree", "add", "-q", str(worktree), "-b", "wt"],
    ):
        subprocess.run(["git", *args], check=True, capture_output=True)
    shared = main / ".cache" / "bench-scale"
    assert bench_scale.default_cache(main) == shared
    assert bench_scale.default_cache(worktree) == shared
    assert bench_scale.default_cache(plain) == plain / ".cache" / "bench-scale"


def test_measured_counts_the_cpu_seconds_of_the_whole_process_tree(tmp_path):
    """A child that burns CPU in a grandchild: the CPU seconds include the grandchild's."""
    import sys

    burn = "import time\nt = time.process_time()\nwhile time.process_time() - t < 0.3: pass\n"
    child = f"import subprocess, sys; subprocess.run([sys.executable, '-c', {burn!r}], check=True)"
    result = bench_scale.measured([sys.executable, "-c", child], tmp_path)
    assert result.cpu >= 0.3 and result.seconds >= 0.3


def test_the_plain_script_runs_in_the_users_environment_untouched(tmp_path, monkeypatch):
    """The plain way a user takes has libgomp's defaults, not the runner's OpenMP policy."""
    seen = {}

    def fake_measured(args, cwd, extra=None):
        seen.update(args=args, extra=extra)
        return bench_scale.Measured(1.0, 1.0)

    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    monkeypatch.setattr(bench_scale, "measured", fake_measured)
    bench_scale.run_plain(tmp_path / "table.csv", tmp_path)
    assert seen["extra"] is None
    assert (tmp_path / "plain.py").read_text() == bench_scale.PLAIN_SCRIPT


def test_stage_parts_split_the_runner_time_line():
    timeline = {
        "process started (epoch)": 1.7e9,
        "kernel started": 0.25,
        "first cell sent": 1.0,
        "first code cell done": 2.0,
        "notebook executed": 5.5,
        "outputs written": 5.75,
    }
    assert bench_scale.stage_parts(timeline) == {
        "to kernel start": 0.25,
        "kernel ready + imports": 1.75,
        "other cells": 3.5,
        "report + files": 0.25,
        "runner process": 5.75,
    }
    # a run record of a runner without a time line, or with a mark missing
    assert bench_scale.stage_parts({}) is None
    assert (
        bench_scale.stage_parts({k: v for k, v in timeline.items() if k != "first code cell done"})
        is None
    )


def test_fixed_costs_table_sums_the_parts_and_leaves_the_rest_to_dvc(capsys):
    timeline = {
        "kernel started": 0.25,
        "first cell sent": 1.0,
        "first code cell done": 2.0,
        "notebook executed": 5.5,
        "outputs written": 5.75,
    }
    pipe = bench_scale.Measured(seconds=40.0, peak_mb=1.0)
    pipe.timelines = {stage: dict(timeline) for stage in bench_scale.STAGES}
    bench_scale.print_fixed_costs([{"rows": 100_000, "pipe": pipe}])
    out = capsys.readouterr().out
    lines = {line.split("  ")[0]: line.split() for line in out.splitlines() if line}
    assert lines["kernel ready + imports"][-1] == "10.50"  # 6 stages x 1.75 s
    assert lines["runner process"][-1] == "34.50"
    assert "dvc's own work (the rest of dvc repro's 40.0 s): 5.5 s" in out
    # a run without time lines (a runner from before them) prints no table
    pipe.timelines = {}
    bench_scale.print_fixed_costs([{"rows": 100_000, "pipe": pipe}])
    assert capsys.readouterr().out == ""


def copy_of_users_project(tmp_path, params: dict, files: dict[str, str] | None = None):
    """bench_scale's copy of a user's project (``params`` and ``files``, in git) on a
    one-row table, scale_10.csv."""
    root = tmp_path / "project"
    root.mkdir()
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    for name, text in (files or {}).items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    table = tmp_path / "scale_10.csv"
    table.write_text("x\n1\n")
    return bench_scale.project_on(root, table, tmp_path / "copy")


def test_the_copy_leaves_out_the_users_own_dvc_tracked_tables(tmp_path):
    """A user who `dvc add`-ed a table of their own: the copy has its .dvc file but not
    the file, and `dvc repro` would stop there; the benchmark's table is used instead."""
    files = {
        "data/raw/mine.csv.dvc": "outs:\n- path: mine.csv\n",
        "data/raw/kept.csv": "a\n1\n",
        "data/raw/kept.csv.dvc": "outs:\n- path: kept.csv\n",
    }
    params = {"data": {"source": "penguins", "target": "species"}}
    repo = copy_of_users_project(tmp_path, params, files)
    raw = repo / "data" / "raw"
    assert not (raw / "mine.csv.dvc").exists() and (raw / "kept.csv.dvc").exists()
    assert (raw / "scale_10.csv").read_text() == "x\n1\n"
    assert "source: data/raw/scale_10.csv" in (repo / "params.yaml").read_text()


def test_the_copy_trains_what_the_plain_script_trains_whatever_the_users_params(
    tmp_path, capsys
):
    """A user's own estimator, sample or cluster would make the two sides train different
    things; the copy gets the plain script's, says so, and keeps the user's other params."""
    mine = {
        "data": {"source": "data/raw/mine.csv", "target": "y", "drop": ["id"]},
        "compute": {"scheduler": "tcp://127.0.0.1:8786", "workers": None},
        "prepare": {"test_size": 0.5, "seed": 1, "sample": 0.1, "min_rows_per_class": 3},
        "train": {"estimator": "sklearn.linear_model.LogisticRegression", "kwargs": {"C": 2}},
        "evaluate": {"importance_sample": 500},
    }
    repo = copy_of_users_project(tmp_path, mine)
    params = yaml.safe_load((repo / "params.yaml").read_text())
    assert params["train"] == {"estimator": "auto", "kwargs": bench_scale.PLAIN_KWARGS}
    assert params["compute"] == {"scheduler": None, "workers": None}
    assert params["prepare"] == {
        "test_size": bench_scale.TEST_SIZE,
        "seed": bench_scale.SEED,
        "sample": None,
        "min_rows_per_class": 3,
        "schema": {},
    }
    assert params["evaluate"] == mine["evaluate"]
    said = capsys.readouterr().out
    assert "train.estimator: 'sklearn.linear_model.LogisticRegression' -> 'auto'" in said
    assert "prepare.sample: 0.1 -> None" in said and "data.drop: ['id'] -> []" in said
    assert "data.source" not in said and params["data"]["source"] == "data/raw/scale_10.csv"
    # the plain script is written from the same settings
    for key, value in bench_scale.PLAIN_KWARGS.items():
        assert f"{key}={value!r}" in bench_scale.PLAIN_SCRIPT
