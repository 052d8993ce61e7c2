"""Benchmark: the whole pipeline on large synthetic tables vs the plain pandas way.

``python -m tools.bench_scale`` (``make bench-scale``) generates, once, a CSV
table per size (cached in ``$BENCH_CACHE``, else in the git-ignored
``.cache/bench-scale`` of the project's main checkout, which its git
worktrees share; never in the home directory): 20 float columns with 2% missing values,
three text category columns and a three-class text label that depends on
them. For each size, in the same run and side by side, it times

- the pipeline: a copy of the project with the table under ``data/raw/``,
  ``dvc add``-ed and named in params.yaml, then ``dvc repro``;
- the plain way: one Python script with pandas and the same scikit-learn
  estimator (read, split, fit, score), in the user's environment untouched
  (no OpenMP setting of the runner's).

It prints seconds per stage, the peak memory of each process tree (the sum
of RSS over the process and its children, sampled), the output sizes, the
ratio to the plain script and the seconds per million rows, and the CPU
seconds of both (user + system of every process that ran), which other work
on a shared machine inflates far less than the wall-clock seconds. ``BENCH_ROWS``
(e.g. ``1e5,1e6,1e7``) chooses the sizes; the default is 1e5.
Timings on a shared machine are noisy: read the ratios, measured together.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import psutil
import pyarrow as pa
import pyarrow.csv as pacsv
import yaml

from nbml.project import find_root
from tools.copies import copy_tracked

CHUNK = 500_000
N_FLOATS = 20
CATEGORIES = {"region": 6, "channel": 4, "segment": 12}
CLASSES = np.array(["low", "mid", "high"])
MISSING = 0.02
TARGET = "label"
STAGES = ("prepare", "explore", "featurize", "train", "evaluate", "report")

# The estimator's settings and the split of both sides: the plain script's, and the
# pipeline copy's params.yaml, whatever the user's own params.yaml says.
PLAIN_KWARGS = {
    "learning_rate": 0.1,
    "max_iter": 200,
    "max_leaf_nodes": 15,
    "l2_regularization": 0.0,
    "random_state": 42,
}
TEST_SIZE, SEED = 0.25, 42

# What a user would otherwise write: read, split, fit, score (same estimator).
PLAIN_SCRIPT = f"""\
import sys

import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.model_selection import train_test_split

df = pd.read_csv(sys.argv[1])
y = df.pop("label")
X = pd.get_dummies(df, columns=["region", "channel", "segment"], dtype=float)
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size={TEST_SIZE}, random_state={SEED}, stratify=y
)
model = HistGradientBoostingClassifier(
    {", ".join(f"{k}={v!r}" for k, v in PLAIN_KWARGS.items())}
)
model.fit(X_train, y_train)
print(f"accuracy {{model.score(X_test, y_test):.6f}}")
"""


def default_cache(root: Path) -> Path:
    """``.cache/bench-scale`` in the main checkout: every worktree of it reuses the tables."""
    found = subprocess.run(
        ["git", "rev-parse", "--path-format=absolute", "--git-common-dir"],
        cwd=root,
        capture_output=True,
        text=True,
    )
    common = Path(found.stdout.strip()) if found.returncode == 0 else None
    base = common.parent if common is not None and common.name == ".git" else root
    return base / ".cache" / "bench-scale"


def parse_rows(text: str) -> list[int]:
    """``"1e5,1e6"`` -> [100000, 1000000]."""
    return [int(float(part)) for part in text.split(",") if part.strip()]


def synthetic_chunk(n: int, rng: np.random.Generator) -> pa.Table:
    """n rows of the benchmark table; the label is a noisy function of the columns."""
    # four decimals, as exported data usually has: ~230 bytes a row
    floats = rng.standard_normal((n, N_FLOATS)).round(4)
    weights = np.linspace(1.0, 0.05, N_FLOATS)
    score = floats @ weights / 2.0
    columns: dict[str, object] = {}
    for name, levels in CATEGORIES.items():
        codes = rng.integers(0, levels, n)
        score += (codes % 3 - 1) * 0.4
        columns[name] = np.char.add(f"{name}_", codes.astype(str))
    score += rng.standard_normal(n) * 0.8
    label = CLASSES[np.digitize(score, [-0.6, 0.6])]
    floats[rng.random((n, N_FLOATS)) < MISSING] = np.nan
    table = {f"x{i:02d}": pa.array(floats[:, i], from_pandas=True) for i in range(N_FLOATS)}
    table.update({k: pa.array(v) for k, v in columns.items()})
    table[TARGET] = pa.array(label)
    return pa.table(table)


def dataset(rows: int, cache: Path) -> Path:
    """The cached CSV of ``rows`` rows, generated (seeded) when missing."""
    path = cache / f"scale_{rows}.csv"
    if path.is_file():
        return path
    cache.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(rows)
    partial = path.with_suffix(".part")
    with pacsv.CSVWriter(partial, synthetic_chunk(1, rng).schema) as writer:
        for start in range(0, rows, CHUNK):
            writer.write_table(synthetic_chunk(min(CHUNK, rows - start), rng))
    partial.rename(path)
    return path


@dataclass
class Measured:
    """One timed command: seconds, peak RSS of its process tree, its stdout, and the CPU
    seconds of its process tree (which other work on a shared machine does not inflate)."""

    seconds: float
    peak_mb: float
    stdout: str = ""
    cpu: float = 0.0
    stages: dict[str, float] = field(default_factory=dict)
    timelines: dict[str, dict[str, float]] = field(default_factory=dict)


def tree_rss(proc: psutil.Process) -> int:
    """RSS of a process and all its descendants, in bytes."""
    total = 0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            total += p.memory_info().rss
        except psutil.Error:
            continue
    return total


def measured(args: list[str], cwd: Path, extra: dict[str, str] | None = None) -> Measured:
    """Run a command, sampling its process tree's memory every 0.2 s."""
    # stage commands call `python -m nbml.runner`: the venv's python must come first
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    env.update(extra or {})
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = subprocess.Popen(
        args, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    peak = [0]
    out: list[str] = []
    reader = threading.Thread(target=lambda: out.extend(proc.stdout), daemon=True)
    reader.start()
    ps = psutil.Process(proc.pid)
    while proc.poll() is None:
        peak[0] = max(peak[0], tree_rss(ps))
        time.sleep(0.2)
    reader.join()
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} exited {proc.returncode}:\n{''.join(out)[-3000:]}")
    return Measured(seconds, peak[0] / 2**20, "".join(out), cpu=children_cpu(before))


def children_cpu(before: resource.struct_rusage) -> float:
    """User + system CPU seconds of the descendants that ended since ``before``."""
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def pinned_params(data: Path) -> dict[tuple[str, str], object]:
    """What the copy's params.yaml is given, (section, key) -> value.

    Whatever the user's params.yaml says, the pipeline then trains what the
    plain script trains, on every row, on this machine: like for like.
    """
    return {
        # the benchmark's table and how it is written, not the user's
        ("data", "source"): f"data/raw/{data.name}",
        ("data", "target"): TARGET,
        ("data", "task"): "auto",
        ("data", "drop"): [],
        ("data", "categorical"): [],
        ("data", "dates"): {},
        ("data", "csv"): {"delimiter": "auto", "encoding": "auto", "decimal": "auto"},
        ("prepare", "schema"): {},
        ("prepare", "test_size"): TEST_SIZE,
        ("prepare", "seed"): SEED,
        ("prepare", "sample"): None,
        ("train", "estimator"): "auto",
        ("train", "kwargs"): dict(PLAIN_KWARGS),
        ("compute", "scheduler"): None,
    }


# changed silently: naming the benchmark's table is the point of the copy
_THE_TABLES = {("data", "source"), ("data", "target")}


def project_on(root: Path, data: Path, dest: Path) -> Path:
    """A project copy whose params.yaml names ``data`` (hard-linked under data/raw/).

    The user's own ``.dvc`` files under data/raw/ are left out: the copy has
    the file they track only in the checkout's DVC cache, and ``dvc repro``
    would stop at them (the pipeline reads the benchmark's table instead).
    The settings that would make the two sides train different things
    (:func:`pinned_params`) are set, and each one changed from the user's is
    printed; the user's other params (featurize, evaluate, ...) stay theirs.
    """
    repo = copy_tracked(root, dest)
    for tracked in (repo / "data" / "raw").glob("*.dvc"):
        if not (repo / "data" / "raw" / tracked.stem).exists():
            tracked.unlink()
    raw = repo / "data" / "raw" / data.name
    raw.parent.mkdir(parents=True, exist_ok=True)
    os.link(data, raw)
    path = repo / "params.yaml"
    params = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    for (section, key), value in pinned_params(data).items():
        part = params.setdefault(section, {})
        if key in part and part[key] != value and (section, key) not in _THE_TABLES:
            why = "to train what the plain script trains"
            print(f"bench: {section}.{key}: {part[key]!r} -> {value!r}, {why}")
        part[key] = value
    path.write_text(yaml.safe_dump(params, sort_keys=False), encoding="utf-8")
    return repo


def output_sizes(repo: Path) -> dict[str, int]:
    """Largest plot CSV, executed notebook and HTML report, and the features folder, in bytes."""
    groups = {
        "plot csv": repo.glob("outputs/plots/*.csv"),
        "notebook": repo.glob("outputs/notebooks/*.ipynb"),
        "report": repo.glob("reports/*.html"),
        "features": (p for p in (repo / "data" / "features").rglob("*") if p.is_file()),
    }
    sizes = {name: [p.stat().st_size for p in files] for name, files in groups.items()}
    return {
        "plot csv": max(sizes["plot csv"], default=0),
        "notebook": max(sizes["notebook"], default=0),
        "report": max(sizes["report"], default=0),
        "features": sum(sizes["features"]),
    }


def run_pipeline(root: Path, data: Path, tmp: Path) -> tuple[Measured, dict[str, int], str]:
    """``dvc add`` then timed ``dvc repro`` in a fresh copy; stage seconds from the run records."""
    repo = project_on(root, data, tmp / "project")
    dvc = str(Path(sys.executable).parent / "dvc")
    subprocess.run([dvc, "add", "-q", f"data/raw/{data.name}"], cwd=repo, check=True)
    result = measured([dvc, "repro"], repo)
    for stage in STAGES:
        record = json.loads((repo / "logs" / "runs" / f"{stage}.json").read_text())
        result.stages[stage] = float(record["seconds"])
        result.timelines[stage] = record.get("timeline") or {}
    metrics = json.loads((repo / "outputs" / "metrics.json").read_text())
    return result, output_sizes(repo), f"{metrics['accuracy']:.6f}"


def run_plain(data: Path, tmp: Path) -> Measured:
    """The plain script, in the user's environment as it is.

    That is the way a user takes: libgomp's defaults for OpenMP (idle threads
    spin a while), not the policy the runner chooses for each stage.
    """
    script = tmp / "plain.py"
    script.write_text(PLAIN_SCRIPT, encoding="utf-8")
    return measured([sys.executable, str(script), str(data)], tmp)


def bench_one(root: Path, rows: int, cache: Path) -> dict[str, object]:
    data = dataset(rows, cache)
    print(f"bench-scale: {rows:,} rows ({data.stat().st_size / 2**20:.0f} MB) ...", flush=True)
    with tempfile.TemporaryDirectory(prefix="nbml-scale-") as tmp:
        pipe, sizes, accuracy = run_pipeline(root, data, Path(tmp))
        plain = run_plain(data, Path(tmp))
    return {
        "rows": rows,
        "pipe": pipe,
        "plain": plain,
        "sizes": sizes,
        "accuracy": accuracy,
        "plain_accuracy": plain.stdout.split()[-1],
    }


def print_table(results: list[dict[str, object]]) -> None:
    head = "".join(f"{s:>10}" for s in STAGES)
    print(
        f"\n{'rows':>10}{head}{'repro s':>10}{'peak MB':>9}{'plain s':>9}{'plain MB':>9}"
        f"{'ratio':>7}{'s/1e6 rows':>11}{'accuracy':>10}{'plain acc':>10}"
        f"{'cpu s':>8}{'plain cpu':>10}{'cpu ratio':>10}"
    )
    for r in results:
        pipe, plain = r["pipe"], r["plain"]
        stages = "".join(f"{pipe.stages[s]:>10.1f}" for s in STAGES)
        per_million = pipe.seconds / (r["rows"] / 1e6)
        print(
            f"{r['rows']:>10,}{stages}{pipe.seconds:>10.1f}{pipe.peak_mb:>9.0f}"
            f"{plain.seconds:>9.1f}{plain.peak_mb:>9.0f}{pipe.seconds / plain.seconds:>7.2f}"
            f"{per_million:>11.1f}{r['accuracy']:>10}{r['plain_accuracy']:>10}"
            f"{pipe.cpu:>8.1f}{plain.cpu:>10.1f}{pipe.cpu / max(plain.cpu, 1e-9):>10.2f}"
        )
    print(f"\nload average (1, 5, 15 min) at the end: {os.getloadavg()}")
    print("\noutput sizes, kB (largest plot CSV, notebook, report; features folder)")
    for r in results:
        sizes = "  ".join(f"{k} {v / 1024:,.0f}" for k, v in r["sizes"].items())
        print(f"{r['rows']:>10,}  {sizes}")


# Where a stage's seconds go, from the runner's time line (nbml.runner.timeline):
# each part runs from the first mark to the second, in seconds since the runner started.
PARTS = (
    ("to kernel start", None, "kernel started"),
    # the notebook's first code cell waits for the kernel's warm-up imports to finish
    ("kernel ready + imports", "kernel started", "first code cell done"),
    ("other cells", "first code cell done", "notebook executed"),
    ("report + files", "notebook executed", "outputs written"),
    ("runner process", None, "outputs written"),
)


def stage_parts(timeline: dict[str, float]) -> dict[str, float] | None:
    """Seconds of each part of PARTS in one stage's time line (None: not recorded)."""
    if any(end not in timeline or (start and start not in timeline) for _, start, end in PARTS):
        return None
    return {name: timeline[end] - (timeline[start] if start else 0.0) for name, start, end in PARTS}


def print_fixed_costs(results: list[dict[str, object]]) -> None:
    """Per stage, the parts of the runner's process; dvc's own work is what is left."""
    for r in results:
        pipe = r["pipe"]
        parts = {stage: stage_parts(pipe.timelines.get(stage, {})) for stage in STAGES}
        if any(p is None for p in parts.values()):
            continue  # runs of a runner without a time line
        print(f"\n{r['rows']:,} rows: where each stage's seconds go (runner's time line)")
        print(f"{'':<24}" + "".join(f"{s:>10}" for s in STAGES) + f"{'sum':>10}")
        for name, _, _ in PARTS:
            values = [parts[s][name] for s in STAGES]
            cells = "".join(f"{v:>10.2f}" for v in values)
            print(f"{name:<24}{cells}{sum(values):>10.2f}")
        runners = sum(parts[s]["runner process"] for s in STAGES)
        print(f"dvc's own work (the rest of dvc repro's {pipe.seconds:.1f} s): ", end="")
        print(f"{pipe.seconds - runners:.1f} s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.bench_scale", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--rows",
        default=os.environ.get("BENCH_ROWS", "1e5"),
        help="comma-separated table sizes (default: $BENCH_ROWS or 1e5)",
    )
    parser.add_argument(
        "--cache",
        type=Path,
        default=os.environ.get("BENCH_CACHE") or None,
        help="folder of the generated tables (default: $BENCH_CACHE, else .cache/bench-scale "
        "in the project's main checkout)",
    )
    args = parser.parse_args(argv)
    root = find_root()
    cache = Path(args.cache) if args.cache else default_cache(root)
    results = [bench_one(root, rows, cache) for rows in parse_rows(args.rows)]
    print_table(results)
    print_fixed_costs(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
