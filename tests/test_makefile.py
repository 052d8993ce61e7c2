"""`make setup` where the venv cannot be created, with a stand-in interpreter; `make lab` options.

The recipe runs in a copy of the Makefile and the files its target depends
on, with PYTHON pointing at a small script, so nothing here touches the real
.venv or installs anything.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import ROOT

# What Debian's python3 prints, after making a .venv without pip, when the
# python3-venv package (ensurepip) is missing.
DEBIAN_NO_ENSUREPIP = """\
The virtual environment was not created successfully because ensurepip is not
available.  On Debian/Ubuntu systems, you need to install the python3-venv
package using the following command.

    apt install python3.11-venv

You may need to use sudo with that command.  After installing the python3-venv
package, recreate your virtual environment.

Failing command: $3/bin/python3
"""

HINT = "install python3-venv (e.g. apt-get install python3-venv)"


def fake_python(folder: Path, says: str) -> Path:
    """An interpreter whose ``-m venv DIR`` leaves a half-made DIR and fails."""
    script = folder / "fake-python3"
    script.write_text(
        "#!/bin/sh\n"
        'if [ "$1 $2" = "-m venv" ]; then\n'
        '  mkdir -p "$3/bin" && ln -s /bin/false "$3/bin/python"\n'
        f"  cat <<EOF\n{says}EOF\n"
        "  exit 1\n"
        "fi\n"
        "exit 1\n"
    )
    script.chmod(0o755)
    return script


def make(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`make ARGS` in a copy holding what the setup target needs."""
    for rel in ("Makefile", "requirements.lock", "pyproject.toml", "src/nbml/runner/jupyter.py"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / rel, tmp_path / rel)
    return subprocess.run(
        ["make", "--no-print-directory", *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )


def setup_with(tmp_path: Path, venv_says: str) -> subprocess.CompletedProcess[str]:
    """`make setup` with an interpreter whose venv fails saying ``venv_says``."""
    return make(tmp_path, "setup", f"PYTHON={fake_python(tmp_path, venv_says)}")


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    return tmp_path


def test_missing_ensurepip_gives_one_line_hint_and_no_half_made_venv(workdir: Path):
    proc = setup_with(workdir, DEBIAN_NO_ENSUREPIP)
    assert proc.returncode != 0
    hints = [line for line in proc.stderr.splitlines() if HINT in line]
    assert len(hints) == 1, proc.stderr
    assert hints[0].startswith("nbml: error:")
    # the hint replaces the interpreter's page of advice
    assert "recreate your virtual environment" not in proc.stdout + proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    # a half-made .venv would be taken as done by the next run
    assert not (workdir / ".venv").exists()


def test_a_venv_left_without_pip_by_an_earlier_failure_is_made_again(workdir: Path):
    (workdir / ".venv" / "bin").mkdir(parents=True)
    (workdir / ".venv" / "bin" / "python").symlink_to("/bin/false")
    proc = setup_with(workdir, DEBIAN_NO_ENSUREPIP)
    assert proc.returncode != 0
    assert HINT in proc.stderr
    assert "No module named pip" not in proc.stderr
    assert not (workdir / ".venv").exists()


def test_another_venv_failure_shows_what_the_interpreter_said(workdir: Path):
    proc = setup_with(workdir, "Error: [Errno 28] No space left on device\n")
    assert proc.returncode != 0
    assert "No space left on device" in proc.stderr
    assert HINT not in proc.stderr
    assert not (workdir / ".venv").exists()


def test_make_lab_passes_args_on_to_jupyterlab(workdir: Path):
    proc = make(workdir, "-n", "lab", "ARGS=--port 8890 --no-browser")
    assert proc.returncode == 0, proc.stderr
    last = proc.stdout.strip().splitlines()[-1]
    assert last.endswith("-m nbml.runner.jupyter lab --port 8890 --no-browser"), last
