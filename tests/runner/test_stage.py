"""The stage runner on a one-stage project: parameters, stable output, loud failures."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml

from conftest import project_env, run

pytestmark = pytest.mark.slow

PIPELINE = {
    "vars": [{"paths": {"notebooks": "notebooks", "result": "out/result.json"}}],
    "stages": {
        "step": {
            "cmd": "python -m nbml.runner step",
            "deps": ["${paths.notebooks}/step.ipynb"],
            "params": ["step"],
            "outs": ["${paths.result}", "outputs/step.ipynb", "reports/step.html"],
        }
    },
}
PARAMS = {
    "step": {
        "count": 7,
        "ratio": 0.5,
        "names": ["a", "b"],
        "flag": True,
        "options": {"depth": 2},
        "empty": None,
    }
}
BODY = """
import json
P.result.parent.mkdir(parents=True, exist_ok=True)
values = dict(count=count, ratio=ratio, names=names, flag=flag, options=options, empty=empty)
P.result.write_text(json.dumps({k: [type(v).__name__, v] for k, v in values.items()}))
"""


def notebook(
    extra: str = "",
    param_tags: tuple[str, ...] = ("parameters",),
    params: tuple[str, ...] = tuple(PARAMS["step"]),
) -> dict:
    def cell(cid, src, tags=()):
        return {
            "cell_type": "code",
            "id": cid,
            "metadata": {"tags": list(tags)} if tags else {},
            "source": src,
            "outputs": [],
            "execution_count": None,
        }

    declared = "_p = stage_params('step')\n" + "\n".join(f"{n} = _p['{n}']" for n in params)
    cells = [
        cell("imports", "from nbml.project import paths, stage_params"),
        cell("params", declared, param_tags),
        cell("paths", "P = paths()"),
        cell("work", BODY),
    ]
    if extra:
        cells.append(cell("boom", extra))
        cells.append(cell("after", "print('after')"))
    return {
        "cells": cells,
        "metadata": {
            "kernelspec": {"name": "nbml", "display_name": "nbml", "language": "python"},
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }


@pytest.fixture
def mini(tmp_path: Path) -> Path:
    repo = tmp_path / "mini"
    (repo / "notebooks").mkdir(parents=True)
    (repo / "dvc.yaml").write_text(yaml.safe_dump(PIPELINE, sort_keys=False))
    (repo / "params.yaml").write_text(yaml.safe_dump(PARAMS))
    write_nb(repo, notebook())
    run(["git", "init", "-q"], repo)
    run(["dvc", "init", "-q"], repo)
    return repo


def write_nb(repo: Path, nb: dict) -> None:
    (repo / "notebooks" / "step.ipynb").write_text(json.dumps(nb, indent=1))


def repro(repo: Path, env: dict | None = None):
    return run(["dvc", "repro"], repo, check=False, env=env)


def test_output_written_in_pieces_is_one_stream_output(mini):
    # a line printed in two writes reaches the runner as one message or two,
    # by timing; the executed notebook must be the same either way
    pieces = (
        "import sys, time\n"
        "sys.stdout.write('half'); sys.stdout.flush(); time.sleep(0.3)\n"
        "print(' and the rest')\n"
        "print('x', file=sys.stderr); sys.stderr.flush(); time.sleep(0.3)\n"
        "print('y', file=sys.stderr)"
    )
    write_nb(mini, notebook(extra=pieces))
    proc = repro(mini)
    assert proc.returncode == 0, proc.stderr
    nb = json.loads((mini / "outputs/step.ipynb").read_text())
    cell = next(c for c in nb["cells"] if c.get("id") == "boom")
    streams = [(out["name"], "".join(out["text"])) for out in cell["outputs"]]
    assert streams == [("stdout", "half and the rest\n"), ("stderr", "x\ny\n")]


def test_params_are_injected_with_their_types_and_output_is_stable(mini):
    first = repro(mini)
    assert first.returncode == 0, first.stderr
    result = json.loads((mini / "out/result.json").read_text())
    assert result == {
        "count": ["int", 7],
        "ratio": ["float", 0.5],
        "names": ["list", ["a", "b"]],
        "flag": ["bool", True],
        "options": ["dict", {"depth": 2}],
        "empty": ["NoneType", None],
    }
    executed = (mini / "outputs/step.ipynb").read_bytes()
    report = (mini / "reports/step.html").read_bytes()
    assert b"start_time" not in executed and b"duration" not in executed
    assert b"<script src=" not in report
    record = json.loads((mini / "logs/runs/step.json").read_text())
    assert record["stage"] == "step" and "start_time" in record["papermill"]
    # the runner's steps, in the order they happen, as seconds since its process started
    timeline = record["timeline"]
    steps = [k for k in timeline if k != "process started (epoch)"]
    assert steps == [
        "interpreter ready",
        "runner imported",
        "stage loaded",
        "kernel started",
        "params checked",
        "papermill imported",
        "first cell sent",
        "first code cell done",
        "notebook executed",
        "exporter ready",
        "report exported",
        "outputs written",
    ]
    seconds = [timeline[k] for k in steps]
    assert seconds == sorted(seconds) and 0 < seconds[0] < seconds[-1] < 600, timeline
    lock = (mini / "dvc.lock").read_text()
    assert run(["dvc", "repro", "-f"], mini).returncode == 0
    assert (mini / "outputs/step.ipynb").read_bytes() == executed
    assert (mini / "reports/step.html").read_bytes() == report
    assert (mini / "dvc.lock").read_text() == lock


def test_stage_output_has_no_kernel_log_lines(mini):
    """The project kernel logs errors only (its IPython config, nbml.runner.jupyter): its
    "running over TCP without encryption" warning would otherwise open every stage run."""
    proc = repro(mini)
    assert proc.returncode == 0, proc.stderr
    output = proc.stdout + proc.stderr
    assert "without encryption" not in output and "[IPKernelApp]" not in output, output


def test_the_runner_kernel_runs_without_debugger_or_history_and_writes_nothing_home(mini, tmp_path):
    """The runner's kernel is ipykernel without debugpy and IPython's SQLite history (both
    cost start-up time and neither serves a headless run); the notebook still sees a normal
    kernel (the working folder not on sys.path, as ipykernel_launcher leaves it; the garbage
    collector on), and nothing is written in the user's home folder."""
    probe = (
        "import os, sys\n"
        "print('debugpy', sys.modules.get('debugpy', 'absent'))\n"
        "print('history', get_ipython().history_manager.enabled)\n"
        f"print('cwd on path', {CWD_ON_PATH})\n"
        "import gc\n"
        "print('gc', gc.isenabled())"  # paused only while the warm-up imported
    )
    write_nb(mini, notebook(extra=probe))
    home = tmp_path / "home"
    home.mkdir()
    env = project_env(home)
    for key in ("IPYTHONDIR", "MPLCONFIGDIR", "JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR"):
        env.pop(key, None)  # as in a fresh shell: the venv's folders come from the runner
    proc = repro(mini, env=env)
    assert proc.returncode == 0, proc.stderr
    nb = json.loads((mini / "outputs/step.ipynb").read_text())
    cell = next(c for c in nb["cells"] if c.get("id") == "boom")
    text = "".join("".join(out.get("text", "")) for out in cell["outputs"])
    standard = standard_kernel_says(f"print({CWD_ON_PATH})", mini / "notebooks")
    assert text == f"debugpy None\nhistory False\ncwd on path {standard}gc True\n", text
    assert list(home.rglob("*")) == []


# where the working folder is on sys.path ('' or its absolute path), by position
CWD_ON_PATH = "[i for i, p in enumerate(sys.path) if p in ('', os.getcwd())]"


def standard_kernel_says(code: str, cwd: Path) -> str:
    """What ``code`` prints in the project kernel as jupyter_client starts it from its spec."""
    from jupyter_client.manager import KernelManager

    from nbml.runner.jupyter import private_dirs

    manager = KernelManager(kernel_name="nbml")
    manager.start_kernel(cwd=str(cwd), env={**os.environ, **private_dirs()})
    client = manager.client()
    out: list[str] = []
    try:
        client.start_channels()
        client.wait_for_ready(timeout=120)
        reply = client.execute_interactive(
            f"import os, sys\n{code}",
            timeout=120,
            output_hook=lambda m: out.append(m["content"].get("text", "")),
        )
        assert reply["content"]["status"] == "ok", reply["content"]
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)
    return "".join(out)


FAILURES = {
    "cell error": ("1 / 0", "ZeroDivisionError"),
    "sys.exit": ("import sys\nsys.exit(0)", "SystemExit"),
    "killed kernel": ("import os, signal\nos.kill(os.getpid(), signal.SIGKILL)", "kernel died"),
    "timeout": ("import time\ntime.sleep(60)", "longer than the execution timeout (3 s)"),
}


@pytest.mark.parametrize("case", list(FAILURES))
def test_failures_exit_non_zero_name_the_cell_and_keep_evidence(mini, case):
    assert repro(mini).returncode == 0
    lock = (mini / "dvc.lock").read_text()
    code, expected = FAILURES[case]
    write_nb(mini, notebook(extra=code))
    env = project_env()
    env["NBML_TIMEOUT"] = "3"
    proc = repro(mini, env)
    assert proc.returncode != 0
    message = proc.stderr
    assert "stage 'step' failed in notebooks/step.ipynb" in message, message
    assert expected in message, message
    if case != "killed kernel":  # a dead kernel may be noticed after the cell
        assert "(id 'boom')" in message, message
    assert "logs/failed/step.ipynb" in message
    partial = json.loads((mini / "logs/failed/step.ipynb").read_text())
    assert any(c.get("id") == "boom" for c in partial["cells"])
    assert (mini / "dvc.lock").read_text() == lock
    assert not (mini / "outputs/step.ipynb").exists()  # DVC removed it; nothing half-written


def test_untagged_parameters_cell_fails_before_execution(mini):
    write_nb(mini, notebook(param_tags=()))
    proc = repro(mini)
    assert proc.returncode != 0
    assert "no cell is tagged 'parameters'" in proc.stderr
    assert "running notebooks/step.ipynb" not in proc.stderr
    assert not (mini / "logs/failed/step.ipynb").exists()


def test_param_missing_from_the_parameters_cell_fails_before_execution(mini):
    write_nb(mini, notebook(params=("count", "ratio", "names", "flag", "options")))
    proc = repro(mini)
    assert proc.returncode != 0
    assert "params.yaml gives empty to stage 'step'" in proc.stderr
    assert "running notebooks/step.ipynb" not in proc.stderr


def test_the_task_check_with_auto_params_keeps_pandas_and_sklearn_out_of_the_runner():
    """With train.estimator and evaluate.metrics auto there is nothing to check against the
    data: the runner then imports neither (they cost ~1 CPU s a stage while the kernel boots)."""
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    code = (
        "import sys\n"
        "from nbml.project import Project\n"
        "from nbml.runner.checks import stage_task_problems\n"
        "from pathlib import Path\n"
        "proj = Project.load(Path(sys.argv[1]))\n"
        "assert proj.params['train']['estimator'] == 'auto', proj.params['train']\n"
        "print(stage_task_problems(proj, 'report'), 'pandas' in sys.modules,"
        " 'sklearn' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(root)], capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == ["[]", "False", "False"]
