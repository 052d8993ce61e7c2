"""The try-it page in a real headless Chromium: fill, submit, read the answer."""

from __future__ import annotations

import pytest

from browser import playwright_chromium
from served import model_answers, sample_rows

TIMEOUT_MS = 20_000


@pytest.fixture(scope="module")
def browser():
    with playwright_chromium(TIMEOUT_MS) as chromium:
        yield chromium


def test_fill_submit_and_read_the_answer(browser, live_server, trained):
    page = browser.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(f"{live_server}/")
    example = sample_rows(trained, 1)[0]
    # pre-filled with a real row of the test split
    assert page.input_value("[data-column='bill_length_mm']") == str(example["bill_length_mm"])
    assert page.input_value("[data-column='island']") == example["island"]
    assert page.locator("select[data-column='sex'] option").all_inner_texts() == [
        "(missing)", "female", "male"
    ]
    row = {**example, "island": "Dream", "bill_length_mm": 49.5, "sex": None}
    page.select_option("[data-column='island']", "Dream")
    page.fill("[data-column='bill_length_mm']", "49.5")
    page.select_option("[data-column='sex']", "")
    page.click("#predict")
    page.wait_for_selector("#label")
    expected = model_answers(trained, [row])[0]
    assert page.inner_text("#label") == f"Prediction: {expected['label']}"
    bars = page.locator("#answer .row")
    assert bars.count() == 3
    for name, p in expected["probabilities"].items():
        shown = page.locator(f"#answer .row[data-class='{name}'] .p").inner_text()
        assert shown == f"{100 * p:.1f} %"
    assert all(url.startswith(live_server) for url in requested), requested
    page.close()


def test_a_bad_value_shows_the_service_error(browser, live_server):
    page = browser.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(f"{live_server}/")
    page.evaluate("document.querySelector(\"[data-column='year']\").dataset.kind = 'text'")
    page.fill("[data-column='year']", "2008")
    page.click("#predict")
    page.wait_for_selector("#error")
    assert "column 'year': expected a number or null" in page.inner_text("#error")
    page.close()


@pytest.mark.parametrize("path, text", [("/docs", "/predict"), ("/redoc", "Predict the class")])
def test_api_docs_render_from_local_copies(browser, live_server, path, text):
    page = browser.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    loaded: list[str] = []
    # ReDoc's bundle asks for a logo on its vendor's CDN; the page's
    # Content-Security-Policy blocks it, so it is requested but never loaded
    page.on("requestfinished", lambda request: loaded.append(request.url))
    page.goto(f"{live_server}{path}")
    page.get_by_text(text).first.wait_for()
    page.wait_for_load_state("networkidle")
    assert any(u.endswith((".js", "openapi.json")) for u in loaded)
    outside = [u for u in loaded if not u.startswith((live_server, "data:", "blob:"))]
    assert outside == []
    page.close()
