"""nbml.runner.jupyter: the ``make lab`` command line (no server started), and the project
kernel as `python -m nbml.runner.jupyter install` registers it in a throw-away prefix."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
from jupyter_client import KernelManager
from jupyter_client.kernelspec import KernelSpecManager

from conftest import ROOT
from nbml.project import Project
from nbml.runner import jupyter

PROJECT_NOTEBOOKS = Project.load(ROOT).path_names["notebooks"]

NOTEBOOKS = Path("/somewhere/project/notebooks")
JUPYTER = str(Path(sys.prefix) / "bin" / "jupyter")
TCP_WARNING = "running over TCP without encryption"


def test_a_user_gets_plain_jupyter_lab_on_the_notebooks():
    assert jupyter.lab_command(NOTEBOOKS) == [JUPYTER, "lab", str(NOTEBOOKS)]


def test_root_gets_allow_root_so_jupyter_does_not_refuse_to_start():
    command = jupyter.lab_command(NOTEBOOKS, as_root=True)
    assert command == [JUPYTER, "lab", str(NOTEBOOKS), "--allow-root"]


@pytest.mark.parametrize("as_root", [False, True])
def test_extra_options_are_passed_on_last_and_unchanged(as_root: bool):
    args = ["--port", "8890", "--no-browser"]
    command = jupyter.lab_command(NOTEBOOKS, args, as_root=as_root)
    assert command[-3:] == args
    assert ("--allow-root" in command) is as_root


def test_allow_root_given_by_the_user_is_not_repeated():
    command = jupyter.lab_command(NOTEBOOKS, ["--allow-root"], as_root=True)
    assert command.count("--allow-root") == 1


def test_port_and_token_are_left_to_jupyters_environment_variables():
    # Jupyter reads JUPYTER_PORT and JUPYTER_TOKEN only when no option sets them
    # options only: the executable's path may well contain "port" (a checkout in wt-reports)
    options = [a for a in jupyter.lab_command(NOTEBOOKS, as_root=True) if a.startswith("-")]
    assert options and not any("port" in a or "token" in a.lower() for a in options)


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """What ``main`` would exec, recorded instead; the environment is a copy."""
    calls: list[list[str]] = []
    env = {k: v for k, v in os.environ.items() if k not in jupyter.private_dirs()}
    monkeypatch.setattr(
        os, "environ", {**env, "NBML_ROOT": str(ROOT)}
    )  # the real project: its dvc.yaml names the folder
    monkeypatch.setattr(os, "execv", lambda path, argv: calls.append([path, *argv]))
    return calls


@pytest.mark.parametrize("uid, warnings", [(0, 1), (1000, 0)])
def test_main_lab_warns_once_as_root_and_passes_options(
    started: list[list[str]],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    uid: int,
    warnings: int,
):
    monkeypatch.setattr(os, "geteuid", lambda: uid)
    assert jupyter.main(["lab", "--port", "8890", "--no-browser"]) == 0
    [(path, *argv)] = started
    assert path == JUPYTER and argv[0] == JUPYTER
    assert argv[1:3] == ["lab", str(ROOT / PROJECT_NOTEBOOKS)]
    assert argv[-3:] == ["--port", "8890", "--no-browser"]
    assert ("--allow-root" in argv) is (uid == 0)
    err = capsys.readouterr().err.splitlines()
    assert len([line for line in err if "warning" in line and "root" in line]) == warnings
    assert len(err) == warnings
    # the server keeps its state in the venv, unless the user chose otherwise
    assert os.environ["JUPYTER_CONFIG_DIR"] == jupyter.private_dirs()["JUPYTER_CONFIG_DIR"]


def test_main_refuses_an_unknown_command(started: list[list[str]]):
    assert jupyter.main(["serve"]) == 2
    assert started == []


def kernel_stderr(kernels: Path, log: Path) -> str:
    """Start the nbml kernel registered under ``kernels``, wait until it answers, stop it."""
    manager = KernelManager(
        kernel_name=jupyter.KERNEL_NAME,
        kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(kernels)]),
    )
    with open(log, "w", encoding="utf-8") as err:
        manager.start_kernel(stdout=err, stderr=err)
        client = manager.client()
        try:
            client.start_channels()
            client.wait_for_ready(timeout=120)
        finally:
            client.stop_channels()
            manager.shutdown_kernel(now=True)
    return log.read_text(encoding="utf-8")


def test_kernel_spec_is_ipykernels_with_the_project_environment(tmp_path: Path) -> None:
    path = jupyter.install_kernel(tmp_path)
    assert path == tmp_path / "share" / "jupyter" / "kernels" / jupyter.KERNEL_NAME
    spec = json.loads((path / "kernel.json").read_text())
    assert spec["display_name"] == jupyter.DISPLAY_NAME
    assert spec["argv"][0] == sys.executable and "-m" in spec["argv"]
    assert not any(arg.startswith("--log-level") for arg in spec["argv"])  # in the config file
    assert spec["env"] == {
        "IPYTHONDIR": str(tmp_path / "var" / "ipython"),
        "MPLCONFIGDIR": str(tmp_path / "var" / "matplotlib"),
        "PYTHONHASHSEED": "0",
    }


def test_kernel_config_keeps_the_tcp_warning_out_of_the_output(tmp_path: Path) -> None:
    """The kernel reads its log level from the IPython config in its private folder;
    without that line the same kernel does print the warning (so this test can see it)."""
    kernels = jupyter.install_kernel(tmp_path).parent
    conf = jupyter.install_kernel_config(tmp_path)
    assert conf.parent.parent == Path(jupyter.kernel_env(tmp_path)["IPYTHONDIR"])
    quiet = kernel_stderr(kernels, tmp_path / "quiet.log")
    assert TCP_WARNING not in quiet and "WARNING" not in quiet, quiet

    conf.write_text(jupyter.KERNEL_CONFIG.replace("c.IPKernelApp.log_level", "# "))
    assert TCP_WARNING in kernel_stderr(kernels, tmp_path / "default.log")
