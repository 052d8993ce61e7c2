"""The system's headless Chromium for browser tests (Debian's ``chromium`` package).

Tests never download a browser: they drive ``/usr/bin/chromium``. Where it
is missing the test is skipped with the reason, unless NBML_REQUIRE_BROWSER=1
(CI sets it), where a missing browser fails the test instead.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_executable() -> str:
    """The path of the system Chromium; skip (or fail, if required) when it is not there."""
    if CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK):
        return str(CHROMIUM)
    reason = f"{CHROMIUM} not found (apt-get install chromium)"
    if os.environ.get("NBML_REQUIRE_BROWSER") == "1":
        pytest.fail(f"NBML_REQUIRE_BROWSER=1 but {reason}")
    pytest.skip(reason)
