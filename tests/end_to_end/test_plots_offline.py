"""End to end: the pages of `dvc plots show` and `dvc plots diff` draw every plot offline.

DVC fills the template that `plots.html_template` in `.dvc/config` names; the
project's inlines vega, vega-lite and vega-embed. Each page is opened in
headless Chromium with the network blocked (tests/browser.py), and each plot's
element must then hold a canvas Vega drew (the other task's plots, whose files
hold only a header, have an empty spec and draw nothing). With DVC's default template, which
loads those scripts from a CDN, no plot draws and these tests fail.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml

import browser
from conftest import Baseline, reproduced_copy, run, set_params

pytestmark = pytest.mark.slow

# elements that never have an end tag, so they open no nesting level
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}


class PlotElements(HTMLParser):
    """Plot elements (divs with an id), what each holds drawn, and external references."""

    def __init__(self, plot_ids: set[str] | None = None):
        super().__init__()
        self.plot_ids = plot_ids
        self.ids: list[str] = []
        self.drawn: dict[str, list[str]] = {}
        self.external: list[str] = []
        self._open: list[str | None] = []  # the plot id each open element starts, if any

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = dict(attrs)
        plot = attr.get("id") if tag == "div" else None
        if plot and (self.plot_ids is None or plot in self.plot_ids):
            self.ids.append(plot)
            self.drawn.setdefault(plot, [])
        else:
            plot = None
        # what Vega leaves once it has drawn: its "marks" canvas (or svg), sized
        if tag in {"canvas", "svg"} and "marks" in (attr.get("class") or "") and _size(attr):
            for owner in filter(None, self._open):
                self.drawn[owner].append(f"{tag} {attr.get('width')}x{attr.get('height')}")
        ref = attr.get("src") or (attr.get("href") if tag == "link" else None) or ""
        if ref.strip().lower().startswith(("http:", "https:", "//")):
            self.external.append(f"<{tag}> {ref}")
        if tag not in VOID:
            self._open.append(plot)

    def handle_endtag(self, tag: str) -> None:
        if tag not in VOID and self._open:
            self._open.pop()


def _size(attr: dict[str, str | None]) -> float:
    try:
        return float(attr.get("width") or 0) * float(attr.get("height") or 0)
    except ValueError:  # not a size in pixels: not what Vega writes
        return 0.0


def parse(html: str, plot_ids: set[str] | None = None) -> PlotElements:
    parser = PlotElements(plot_ids)
    parser.feed(html)
    parser.close()
    return parser


@pytest.fixture(scope="module")
def chromium() -> str:
    return browser.require_chromium()


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory, chromium: str, baseline: Baseline) -> Path:
    """A reproduced copy, committed so that `dvc plots diff HEAD` has a base."""
    return reproduced_copy(baseline, tmp_path_factory.mktemp("plots") / "project")


def plot_count(repo: Path) -> int:
    return len(yaml.safe_load((repo / "dvc.yaml").read_text())["plots"])


def written_page(stdout: str) -> Path:
    """The page DVC says it wrote (its last line is the page's file:// URI)."""
    uri = stdout.strip().splitlines()[-1]
    assert uri.startswith("file://"), stdout
    return Path(uri.removeprefix("file://"))


# The plots of the other task (regression, for the bundled classes): their files hold
# only a header, and DVC writes an empty spec for them, which draws nothing.
OTHER_TASK_PLOTS = {"Predicted_vs_actual__regression_", "Residuals_vs_predicted__regression_"}


def empty_plots(html: str) -> set[str]:
    """Plot elements whose Vega spec DVC left empty (no data in any revision)."""
    return set(re.findall(r'<div id = "([^"]+)">\s*<script[^>]*>\s*var spec = \{\};', html))


def assert_every_plot_drawn_offline(page: Path, expected: int, chromium: str, profile: Path):
    """Chromium draws each plot of the page offline, and the page refers to nothing online."""
    html = page.read_text(encoding="utf-8")
    written = parse(html)
    assert len(written.ids) == expected, f"{expected} plots expected, the page has {written.ids}"
    assert empty_plots(html) == OTHER_TASK_PLOTS
    dom = browser.dump_dom(chromium, page.as_uri(), profile)
    drawn = parse(dom, set(written.ids)).drawn
    blank = sorted(p for p in written.ids if not drawn.get(p) and p not in OTHER_TASK_PLOTS)
    assert blank == [], f"not drawn offline: {blank} ({page.stat().st_size:,} bytes page)"
    # drawn while blocked, yet a reference would still cost a reader a failed request
    assert written.external == [], "the page loads scripts from the network"


def test_plots_show_draws_every_plot_offline(repo: Path, chromium: str, tmp_path: Path):
    shown = run(["dvc", "plots", "show"], repo)
    page = written_page(shown.stdout)
    assert page == repo / "dvc_plots" / "index.html"
    assert_every_plot_drawn_offline(page, plot_count(repo), chromium, tmp_path / "profile")


def test_plots_diff_draws_both_revisions_offline(repo: Path, chromium: str, tmp_path: Path):
    # fewer permutation repeats: new importances, and only evaluate and report re-run
    set_params(repo, "evaluate", importance_repeats=3)
    run(["dvc", "repro"], repo)
    diffed = run(["dvc", "plots", "diff", "HEAD", "-o", str(tmp_path / "diff")], repo)
    page = written_page(diffed.stdout)
    html = page.read_text(encoding="utf-8")
    assert '"rev": "HEAD"' in html and '"rev": "workspace"' in html
    assert_every_plot_drawn_offline(page, plot_count(repo), chromium, tmp_path / "profile")
