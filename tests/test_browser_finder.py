"""tests/browser.py: a missing Chromium skips a browser test, or fails it when required."""

from __future__ import annotations

from pathlib import Path

import pytest

from browser import REQUIRE_ENV, chromium_executable, launch_flags


def test_a_missing_browser_skips_with_the_package_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.delenv(REQUIRE_ENV, raising=False)
    with pytest.raises(pytest.skip.Exception, match="apt-get install chromium"):
        chromium_executable(tmp_path / "chromium")


def test_a_missing_browser_fails_where_it_is_required(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv(REQUIRE_ENV, "1")
    with pytest.raises(pytest.fail.Exception, match=REQUIRE_ENV):
        chromium_executable(tmp_path / "chromium")


def test_an_executable_file_is_the_browser(tmp_path: Path):
    browser = tmp_path / "chromium"
    browser.write_text("#!/bin/sh\n")
    browser.chmod(0o755)
    assert chromium_executable(browser) == browser


def test_launch_flags_run_headless_as_root_and_quiet_on_a_closed_network(tmp_path: Path):
    flags = launch_flags()
    assert {"--headless", "--no-sandbox", "--disable-background-networking"} <= set(flags)
    assert not any(f.startswith("--user-data-dir") for f in flags)
    assert launch_flags(tmp_path)[-1] == f"--user-data-dir={tmp_path}"
