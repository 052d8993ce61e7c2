"""How the runner starts the project kernel: the kernel spec's command, without the debugger."""

from __future__ import annotations

from nbml.runner.kernel import runner_argv

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
