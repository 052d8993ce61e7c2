"""The system Chromium for browser tests: where it is and how it starts here.

Browser tests drive Debian's ``chromium`` package, never a browser a test
tool downloads for itself (``playwright install`` is not run: only package
registries are reachable). Without it a browser test skips with the reason,
unless ``NBML_REQUIRE_BROWSER=1`` (CI sets it after installing chromium),
where a missing browser is a failure rather than a quietly skipped test.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
REQUIRE_ENV = "NBML_REQUIRE_BROWSER"

# Headless as root (no sandbox), no GPU; the rest stop Chromium's own calls
# home, which this machine's closed network refuses, many at a time.
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


def chromium_executable(path: Path | None = None) -> Path:
    """The Chromium to drive (default CHROMIUM); skip the test without it, or fail if required."""
    path = path or CHROMIUM
    if path.is_file() and os.access(path, os.X_OK):
        return path
    reason = f"no browser: {path} is missing (Debian package chromium: apt-get install chromium)"
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{reason}, and {REQUIRE_ENV}=1 requires it")
    pytest.skip(reason)


def launch_flags(user_data_dir: Path | None = None) -> list[str]:
    """Chromium's command-line flags; a fresh ``user_data_dir`` keeps runs apart.

    Playwright's persistent context takes the folder as its own argument, so
    it is left out here unless given.
    """
    flags = list(FLAGS)
    if user_data_dir is not None:
        flags.append(f"--user-data-dir={user_data_dir}")
    return flags
