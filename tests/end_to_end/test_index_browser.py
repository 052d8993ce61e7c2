"""The index as a reader's browser draws it: headless Chromium at 1280 px and 390 px wide.

On a reproduced copy, after ``python -m nbml.reporting.status`` (what ``make
repro`` runs last): the summary is in the first screen, nothing overflows
sideways, the live part is filled in from status.js, the model card opens from
the summary, and printing hides the line of stage links. Screenshots are kept
in the test's temporary folder.
"""

from __future__ import annotations

import sys

import pytest

from browser import playwright_chromium
from conftest import run

pytestmark = pytest.mark.slow
TIMEOUT_MS = 30_000
SCREENS = {"wide": (1280, 800), "phone": (390, 844)}

LAYOUT = """() => {
  const box = (sel) => { const e = document.querySelector(sel);
                         return e ? e.getBoundingClientRect().toJSON() : null; };
  return {
    scrollWidth: document.documentElement.scrollWidth,
    innerWidth: window.innerWidth,
    innerHeight: window.innerHeight,
    summary: box('#summary'), headline: box('#summary .headline'),
    facts: box('#summary .facts'), table: box('#summary table'),
    headlineChange: document.querySelector('#summary .headline-change').textContent,
    headlineText: document.querySelector('#summary .headline').textContent,
    run: document.getElementById('nbml-run').textContent,
    sinceHead: [...document.querySelectorAll('td[data-rev="HEAD"]')].map(e => e.textContent),
    runs: [...document.querySelectorAll('text[data-run]')].map(e => e.textContent),
  };
}"""


@pytest.fixture(scope="module")
def index(reproduced):
    run([sys.executable, "-m", "nbml.reporting.status"], reproduced)
    return reproduced / "reports" / "index.html"


@pytest.fixture(scope="module")
def browser():
    with playwright_chromium(TIMEOUT_MS) as chromium:
        yield chromium


@pytest.mark.parametrize("screen", SCREENS)
def test_the_summary_is_in_the_first_screen_and_nothing_overflows(browser, index, screen, tmp_path):
    width, height = SCREENS[screen]
    page = browser.new_page(viewport={"width": width, "height": height})
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(index.as_uri())
    page.screenshot(path=str(tmp_path / f"index-{screen}.png"))
    page.screenshot(path=str(tmp_path / f"index-{screen}-full.png"), full_page=True)
    seen = page.evaluate(LAYOUT)
    assert seen["scrollWidth"] <= seen["innerWidth"], f"overflows sideways at {width} px"
    assert seen["headline"]["bottom"] <= seen["innerHeight"], "headline below the first screen"
    assert seen["summary"]["top"] < seen["innerHeight"] / 2
    if screen == "wide":  # data, model, run and the metrics table all in the first screen
        assert seen["facts"]["bottom"] <= seen["innerHeight"]
        assert seen["table"]["bottom"] <= seen["innerHeight"]
    # on every screen the headline says what the last commit changed
    assert seen["headlineChange"].startswith(" · since the last commit: ")
    assert seen["headlineText"].startswith("accuracy ")
    assert "always answering the most common class" in seen["headlineText"]
    # the live part came from status.js: revision, changes since HEAD, stage runs
    assert seen["run"].startswith("git ") and "uncommitted" in seen["run"]
    assert seen["sinceHead"] and all(t != "–" for t in seen["sinceHead"])
    assert all(t.endswith(" s") for t in seen["runs"]) and len(seen["runs"]) == 6
    page.close()


def test_the_model_card_opens_from_the_summary(browser, index):
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.goto(index.as_uri())
    page.click("text=Model card")
    assert page.url.endswith("#model-card")
    card = page.locator("#model-card")
    assert card.is_visible()
    for name in ("Adelie", "Chinstrap", "Gentoo"):
        assert name in card.inner_text()
    page.close()


def test_printing_hides_the_stage_links_but_keeps_the_summary(browser, index):
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.goto(index.as_uri())
    links = page.locator("p:has(> a[href='prepare.html'])").first
    assert links.is_visible()
    page.emulate_media(media="print")
    assert not links.is_visible()
    assert page.locator("#summary").is_visible()
    page.close()


@pytest.mark.parametrize("report", ["prepare", "explore", "featurize", "train", "evaluate"])
def test_no_stage_report_overflows_sideways_on_a_phone(browser, index, report, tmp_path):
    page = browser.new_page(viewport={"width": 390, "height": 844})
    page.goto((index.parent / f"{report}.html").as_uri())
    page.screenshot(path=str(tmp_path / f"{report}-phone.png"), full_page=True)
    widths = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1], f"{report}.html is {widths[0]} px wide on a 390 px screen"
    page.close()
