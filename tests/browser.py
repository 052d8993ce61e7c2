"""Headless Chromium for tests that look at a page as a reader's browser draws it.

The browser is Debian's ``chromium`` package (``/usr/bin/chromium``), which
``.ci/run`` installs when it is missing. Without it a browser test skips,
unless ``NBML_REQUIRE_BROWSER=1`` (set by ``.ci/run``): then it fails, so that
CI never passes by skipping the only check that a page really draws.

Every launch is offline: no name or address resolves but ``localhost`` and
``127.0.0.1``, and the proxy is a dead port, so a page that needs anything
from the network shows it by not drawing. Loopback stays reachable for tests
that serve a page themselves.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"
REQUIRE_ENV = "NBML_REQUIRE_BROWSER"

# Runs as root (CI), so without a sandbox; the background-networking flags
# stop Chromium's own update, sync and field-trial requests, which an offline
# machine would otherwise refuse many times at every start.
LAUNCH_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
# Nothing listens on port 9 (discard) on a test machine: a proxied request fails at once.
OFFLINE_FLAGS = (
    # MAP * also catches address literals, hence the loopback exclusions
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1",
    "--proxy-server=127.0.0.1:9",
)


def find_chromium() -> str | None:
    """The Chromium executable, or None when it is not installed."""
    if os.access(CHROMIUM, os.X_OK):
        return CHROMIUM
    return shutil.which("chromium")


def require_chromium() -> str:
    """The Chromium executable; skip the test without it, or fail where CI requires it."""
    found = find_chromium()
    if found:
        return found
    reason = f"no headless browser: {CHROMIUM} is missing (apt-get install chromium)"
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{reason}, and {REQUIRE_ENV}=1 requires it")
    pytest.skip(reason)


def launch_args(chromium: str, profile: Path) -> list[str]:
    """The command line before the page: offline, with a fresh profile folder."""
    return [chromium, *LAUNCH_FLAGS, *OFFLINE_FLAGS, f"--user-data-dir={profile}"]


def dump_dom(
    chromium: str, url: str, profile: Path, budget_ms: int = 10_000, timeout: float = 120
) -> str:
    """The page's DOM after its scripts ran, as Chromium serialises it.

    ``--virtual-time-budget`` lets timers and rendering run for that much
    virtual time before the dump, so asynchronous drawing has finished.
    """
    args = [*launch_args(chromium, profile), f"--virtual-time-budget={budget_ms}", "--dump-dom"]
    proc = subprocess.run(
        [*args, url], capture_output=True, text=True, timeout=timeout, check=False
    )
    if proc.returncode != 0 or not proc.stdout.strip():
        raise AssertionError(
            f"chromium exited {proc.returncode} on {url}\n--- stderr\n{proc.stderr[-3000:]}"
        )
    return proc.stdout


def launch_flags(user_data_dir: Path | None = None) -> list[str]:
    """LAUNCH_FLAGS for a browser a test drives itself (Playwright), offline too.

    Playwright's persistent context takes the profile folder as its own
    argument, so it is added here only when given.
    """
    flags = [*LAUNCH_FLAGS, *OFFLINE_FLAGS]
    if user_data_dir is not None:
        flags.append(f"--user-data-dir={user_data_dir}")
    return flags


@contextmanager
def playwright_chromium(timeout_ms: int) -> Iterator[Any]:
    """The system Chromium driven by Playwright, offline (skips or fails as require_chromium)."""
    executable = require_chromium()
    # lazy: playwright is only needed where a browser runs
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(
            executable_path=executable, args=launch_flags(), timeout=timeout_ms
        )
        try:
            yield chromium
        finally:
            chromium.close()
