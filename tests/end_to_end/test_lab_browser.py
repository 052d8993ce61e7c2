"""A person's JupyterLab session, in a real browser: run a stage notebook, save it.

JupyterLab is started the way ``make lab`` starts it (``python -m
nbml.runner.jupyter lab``, as root on CI, port and token from JUPYTER_PORT
and JUPYTER_TOKEN) in a reproduced copy of the project, and headless
Chromium, driven by Playwright, opens ``prepare.ipynb``, runs all cells and
saves. The save hook must strip the outputs and the notebook must rewrite
the same bytes, so git and DVC see nothing changed.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psutil
import pytest
from playwright.sync_api import Page, expect, sync_playwright

from browser import launch_flags, require_chromium
from conftest import Baseline, project_env, reproduced_copy, run

pytestmark = pytest.mark.slow

NOTEBOOK = "notebooks/prepare.ipynb"
WRITTEN = "data/prepared/train.parquet"  # what prepare.ipynb writes when it runs
ROOT_WARNING = "nbml: warning: running as root"

# The code cells' prompts, once none is queued or running: "[3]:" for a cell
# that ran. null while the kernel is busy, so wait_for_function keeps polling.
PROMPTS_WHEN_DONE = """() => {
  const prompts = [...document.querySelectorAll('.jp-Notebook .jp-CodeCell .jp-InputPrompt')]
    .map(e => e.textContent.trim());
  const ran = prompts.filter(t => /^\\[\\d+\\]:$/.test(t)).length;
  const status = document.querySelector('.jp-Notebook-ExecutionIndicator')?.dataset.status;
  const all = prompts.length > 0 && ran === prompts.length;
  const stopped = ran > 0 && !prompts.includes('[*]:') && status === 'idle';
  return all || stopped ? prompts : null;
}"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_serving(url: str, token: str, server: subprocess.Popen[bytes], log: Path) -> None:
    """Poll the server's status API for at most 90 s."""
    request = urllib.request.Request(
        f"{url}/api/status", headers={"Authorization": f"token {token}"}
    )
    deadline = time.monotonic() + 90
    while True:
        try:
            with urllib.request.urlopen(request, timeout=10):
                return
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"JupyterLab did not start:\n{log.read_text()}") from None
            time.sleep(0.3)


def stop(server: subprocess.Popen[bytes]) -> None:
    """Stop the server and every kernel it started, even if it does not listen."""
    try:
        children = psutil.Process(server.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        children = []
    server.terminate()  # Jupyter shuts its kernels down on SIGTERM
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait(timeout=10)
    for child in children:
        try:
            child.kill()
        except psutil.NoSuchProcess:
            pass


@contextmanager
def make_lab(repo: Path, state: Path) -> Iterator[tuple[str, str]]:
    """JupyterLab started through the project's ``lab`` command; yields (url, token).

    Jupyter's own state goes to ``state``, not the venv, so a test run leaves
    no workspace for the next ``make lab`` to restore.
    """
    port, token = free_port(), secrets.token_hex(16)
    env = {**project_env(state / "home"), "JUPYTER_PORT": str(port), "JUPYTER_TOKEN": token}
    for name in ("JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR"):
        env[name] = str(state / name.lower())
    (state / "home").mkdir(parents=True)
    options = ["--no-browser", "--ServerApp.ip=127.0.0.1", "--ServerApp.port_retries=0"]
    log = state / "lab.log"
    with open(log, "wb") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "nbml.runner.jupyter", "lab", *options],
            cwd=repo,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until_serving(url, token, server, log)
        yield url, token
    finally:
        stop(server)


@contextmanager
def chromium_page(executable: str, user_data_dir: Path) -> Iterator[Page]:
    """A page in headless system Chromium with a fresh profile; closed in every case."""
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(user_data_dir),
            executable_path=str(executable),
            args=launch_flags(),
            headless=True,
            viewport={"width": 1400, "height": 900},
        )
        try:
            context.set_default_timeout(60_000)
            yield context.pages[0] if context.pages else context.new_page()
        finally:
            context.close()


def wait_for_kernel(page: Page) -> None:
    """Wait until the notebook's kernel is the project's and idle (before, the
    status shows idle for a notebook that has no kernel yet)."""
    kernel = page.locator(".jp-KernelName").first
    expect(kernel).to_have_text(re.compile(r"Python \(nbml\)"), timeout=120_000)
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']")


def run_all_cells(page: Page) -> list[str]:
    """Run > Run All Cells; return the code cells' prompts once the run has stopped."""
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.get_by_role("menuitem", name=re.compile(r"^Run All Cells")).click()
    done = page.wait_for_function(PROMPTS_WHEN_DONE, timeout=300_000, polling=500)
    return done.json_value()


def save(page: Page, file: Path) -> None:
    """Ctrl+S in the notebook; wait until the file is written and the tab is clean."""
    written = file.stat().st_mtime_ns
    page.locator(".jp-Notebook").first.click(position={"x": 5, "y": 5})
    page.keyboard.press("Control+s")
    page.wait_for_function("() => !document.querySelector('.jp-mod-dirty')", timeout=60_000)
    deadline = time.monotonic() + 30
    while file.stat().st_mtime_ns == written:
        assert time.monotonic() < deadline, f"{file.name} was not saved"
        time.sleep(0.2)


def stderr_text(page: Page) -> str:
    """What the cells printed to stderr: warnings, and the traceback of a cell that failed."""
    errors = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
    return "\n".join(errors.all_inner_texts())


@pytest.fixture
def chromium() -> str:
    """The browser, looked for first: without it the test skips before the pipeline runs."""
    return require_chromium()


@pytest.fixture
def repo(tmp_path: Path, baseline: Baseline) -> Path:
    """A reproduced copy with everything committed: git and DVC clean to start with."""
    repo = reproduced_copy(baseline, tmp_path / "project")
    assert run(["git", "status", "--porcelain"], repo).stdout == ""
    assert json.loads(run(["dvc", "status", "--json"], repo).stdout) == {}
    return repo


def test_run_all_and_save_in_jupyterlab_leaves_git_and_dvc_clean(
    chromium: str, repo: Path, tmp_path: Path
):
    code_cells = [
        c for c in json.loads((repo / NOTEBOOK).read_text())["cells"] if c["cell_type"] == "code"
    ]
    before = (repo / WRITTEN).stat().st_mtime_ns
    with (
        make_lab(repo, tmp_path / "lab") as (url, token),
        chromium_page(chromium, tmp_path / "chromium") as page,
    ):
        page.goto(f"{url}/lab/tree/{Path(NOTEBOOK).name}?token={token}")
        wait_for_kernel(page)
        prompts = run_all_cells(page)
        assert len(prompts) == len(code_cells), prompts
        # a failing last cell still gets a number: look for its traceback too
        stderr = stderr_text(page)
        assert "Traceback" not in stderr, stderr[-3000:]
        assert all(re.fullmatch(r"\[\d+\]:", p) for p in prompts), (prompts, stderr[-3000:])
        save(page, repo / NOTEBOOK)
    assert (repo / WRITTEN).stat().st_mtime_ns != before, "the notebook did not write its split"
    status = run(["git", "status", "--porcelain"], repo).stdout
    assert status == "", status + run(["git", "diff", "--stat"], repo).stdout
    assert json.loads(run(["dvc", "status", "--json"], repo).stdout) == {}
    log = (tmp_path / "lab" / "lab.log").read_text()
    assert log.count(ROOT_WARNING) == (1 if os.geteuid() == 0 else 0), log[:2000]
    assert list((tmp_path / "lab" / "home").iterdir()) == []  # nothing written outside
