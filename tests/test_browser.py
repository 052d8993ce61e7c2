"""tests/browser.py: a missing Chromium skips a browser test, except where CI requires it."""

from __future__ import annotations

import pytest

import browser


@pytest.fixture
def no_chromium(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(browser, "CHROMIUM", "/nonexistent/chromium")
    monkeypatch.setenv("PATH", "/nonexistent")


def test_missing_browser_skips_with_the_package_to_install(no_chromium, monkeypatch):
    monkeypatch.delenv(browser.REQUIRE_ENV, raising=False)
    with pytest.raises(pytest.skip.Exception, match="apt-get install chromium"):
        browser.require_chromium()


def test_missing_browser_fails_where_it_is_required(no_chromium, monkeypatch):
    monkeypatch.setenv(browser.REQUIRE_ENV, "1")
    with pytest.raises(pytest.fail.Exception, match="NBML_REQUIRE_BROWSER=1 requires it"):
        browser.require_chromium()


def test_every_launch_is_offline_with_its_own_profile(tmp_path):
    args = browser.launch_args("/usr/bin/chromium", tmp_path)
    assert "--headless" in args and "--disable-background-networking" in args
    assert any(a.startswith("--host-resolver-rules=MAP * ~NOTFOUND") for a in args)
    assert "--proxy-server=127.0.0.1:9" in args
    assert f"--user-data-dir={tmp_path}" in args
