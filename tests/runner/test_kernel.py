"""How the runner starts the project kernel: the kernel spec's command, without the debugger."""

from __future__ import annotations

from nbml.runner.kernel import kernel_specs, runner_argv

SPEC = ["/venv/bin/python", "-Xfrozen_modules=off", "-m", "ipykernel_launcher", "-f", "{cf}"]


def test_ipykernel_is_launched_without_debugpy_and_with_frozen_modules():
    argv = runner_argv(SPEC)
    assert argv[0] == "/venv/bin/python" and argv[1] == "-c"
    assert argv[3:] == ["-f", "{cf}"]
    code = argv[2]
    assert 'sys.modules["debugpy"] = None' in code
    assert code.index("debugpy") < code.index("from ipykernel import kernelapp")
    assert "-Xfrozen_modules=off" not in argv
    compile(code, "<kernel launch>", "exec")  # valid Python


def test_other_python_options_are_kept():
    argv = runner_argv(["/py", "-X", "utf8", "-m", "ipykernel_launcher", "-f", "{cf}"])
    assert argv[:3] == ["/py", "-X", "utf8"] and argv[3] == "-c"


def test_a_kernel_that_is_not_ipykernel_launcher_is_started_as_its_spec_says():
    other = ["/usr/bin/ir", "--slave", "-f", "{cf}"]
    assert runner_argv(other) == other
    module_elsewhere = ["/py", "ipykernel_launcher.py", "-f", "{cf}"]
    assert runner_argv(module_elsewhere) == module_elsewhere


def test_kernel_specs_are_found_in_jupyters_folders_without_importing_ipython(tmp_path):
    """jupyter_client's default search imports IPython only to add IPYTHONDIR/kernels; the
    runner gives it the same folders (IPYTHONDIR is set), so it finds the same kernel."""
    import os
    import subprocess
    import sys

    spec = tmp_path / "ipython" / "kernels" / "probe"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(
        '{"argv": ["python", "-m", "ipykernel_launcher", "-f", "{connection_file}"],'
        ' "display_name": "probe", "language": "python"}'
    )
    code = (
        "import os, sys\n"
        "from nbml.runner.kernel import kernel_specs\n"
        "found = kernel_specs(os.environ)\n"
        "print(found.get_kernel_spec('probe').display_name, 'IPython' in sys.modules)\n"
        "from jupyter_client.kernelspec import KernelSpecManager\n"
        "print(KernelSpecManager().kernel_dirs == found.kernel_dirs)\n"
    )
    env = {**os.environ, "IPYTHONDIR": str(tmp_path / "ipython")}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["probe", "False", "True"]
    assert kernel_specs({}) is None  # no IPYTHONDIR: jupyter_client searches as it does
