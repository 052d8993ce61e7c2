"""Benchmark: each stage as a notebook (the real stage command) vs a plain script.

``python -m tools.bench`` (``make bench``) copies the project into a temporary
git repository, runs ``dvc repro`` once so every stage has its inputs, then
for each stage times, side by side and alternating, in the same run:

- the stage command, ``python -m nbml.runner STAGE`` (papermill, kernel,
  executed notebook, HTML report);
- the notebook's code cells as one plain Python script, run in the
  notebook's folder (what the same work costs without Jupyter).

It prints the median of each, the overhead per stage in seconds, the
whole-pipeline ratio, and the time of a no-op ``dvc repro``. Timings on a
shared machine are noisy: read the ratios, which are measured together.
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from nbml.project import Project, find_root
from nbml.runner import notebook as nbfile
from tools.copies import copy_tracked


def notebook_as_script(nb: dict) -> str:
    """The code cells of a notebook as a script (IPython magics made plain)."""
    lines = ["import matplotlib", "matplotlib.use('Agg')"]
    for cell in nb.get("cells", []):
        if cell.get("cell_type") != "code":
            continue
        src = cell["source"]
        src = "".join(src) if isinstance(src, list) else src
        lines.append(re.sub(r"^%.*$", "", src, flags=re.M))
    return "\n\n".join(lines) + "\n"


def timed(args: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    proc = subprocess.run(args, cwd=cwd, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed in {cwd}:\n{proc.stderr[-2000:]}")
    return elapsed


def bench(root: Path, repeats: int) -> int:
    python = sys.executable
    dvc = str(Path(python).parent / "dvc")
    with tempfile.TemporaryDirectory(prefix="nbml-bench-") as tmp:
        repo = copy_tracked(root, Path(tmp) / "project")
        print(f"bench: project copied to {repo}; running the pipeline once for inputs ...")
        timed([dvc, "repro", "--quiet"], repo)
        proj = Project.load(repo)
        rows = []
        for stage in proj.pipeline["stages"]:
            files = proj.stage_notebook(stage)
            source = repo / files.notebook
            script = repo / "logs" / "bench" / f"{stage}.py"
            script.parent.mkdir(parents=True, exist_ok=True)
            script.write_text(notebook_as_script(nbfile.read_json(source)))
            nb_times, py_times = [], []
            for _ in range(repeats):
                nb_times.append(timed([python, "-m", "nbml.runner", stage], repo))
                py_times.append(timed([python, str(script)], source.parent))
            rows.append((stage, statistics.median(nb_times), statistics.median(py_times)))
        timed([dvc, "repro", "--quiet"], repo)  # the stage runs above re-wrote outputs
        noop = statistics.median(timed([dvc, "repro", "--quiet"], repo) for _ in range(repeats))

    print(f"\nmedian of {repeats} runs each, seconds")
    print(f"{'stage':<11}{'notebook':>10}{'script':>10}{'overhead':>10}{'ratio':>8}")
    for stage, nb, py in rows:
        print(f"{stage:<11}{nb:>10.2f}{py:>10.2f}{nb - py:>10.2f}{nb / py:>8.2f}")
    total_nb, total_py = sum(r[1] for r in rows), sum(r[2] for r in rows)
    worst = max(r[1] - r[2] for r in rows)
    print(
        f"{'pipeline':<11}{total_nb:>10.2f}{total_py:>10.2f}{total_nb - total_py:>10.2f}"
        f"{total_nb / total_py:>8.2f}"
    )
    print(f"\nworst overhead per stage: {worst:.2f} s (target <= 1.0 s)")
    print(f"whole pipeline: {total_nb / total_py:.2f}x the scripts (target <= 1.5x)")
    print(f"no-op dvc repro: {noop:.2f} s (target < 1 s)")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.bench", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--repeats", type=int, default=5, help="runs per stage and variant")
    args = parser.parse_args(argv)
    return bench(find_root(), args.repeats)


if __name__ == "__main__":
    sys.exit(main())
