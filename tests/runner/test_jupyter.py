"""The project kernel as `python -m nbml.runner.jupyter install` registers it, in a
throw-away prefix: ipykernel's own kernel spec, and a kernel that starts quietly."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from jupyter_client import KernelManager
from jupyter_client.kernelspec import KernelSpecManager

from nbml.runner import jupyter

TCP_WARNING = "running over TCP without encryption"


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
