"""The vendored Vega scripts of `dvc plots` pages (tools/vendor_vega.py) and the committed template.

The browser test (tests/end_to_end/test_plots_offline.py) shows the pages
draw; these fast checks say why they would stop: dvc-render asking for other
versions, the template edited by hand, DVC not pointed at it, or DVC filling
templates differently.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from dvc.repo import Repo
from dvc_render import render_html
from dvc_render.vega import VegaRenderer

from tools import vendor_vega


def committed_scripts() -> list[tuple[vendor_vega.Script, str]]:
    return vendor_vega.inlined_scripts(vendor_vega.TEMPLATE.read_text(encoding="utf-8"))


def test_template_inlines_exactly_the_versions_dvc_render_loads():
    inlined = {script.name: script.version for script, _ in committed_scripts()}
    assert list(inlined.items()) == list(vendor_vega.pinned_versions().items()), (
        "dvc-render loads other versions now: run python -m tools.vendor_vega"
    )


def test_each_inlined_script_is_the_file_its_header_names():
    for script, recorded in committed_scripts():
        assert script.sha256 == recorded, f"{script.name} was changed after vendoring"
        assert script.file == f"build/{script.name}.min.js"
        assert len(script.code) > 50_000, f"{script.name} looks truncated"


def test_every_vendored_package_has_its_licence_beside_the_template():
    licences = vendor_vega.LICENSES.read_text(encoding="utf-8")
    for script, _ in committed_scripts():
        assert f"{script.name} {script.version} and its dependencies" in licences
        assert f"--- {script.name} {script.version} (BSD-3-Clause)" in licences
    assert licences.count("Redistribution and use in source and binary forms") >= 3


def test_dvc_config_points_plots_at_the_template():
    with Repo(str(vendor_vega.ROOT)) as repo:
        configured = repo.config["plots"]["html_template"]
        # DVC reads a relative html_template from the .dvc folder
        assert (Path(repo.dvc_dir) / configured).resolve() == vendor_vega.TEMPLATE


def test_dvc_render_fills_the_template_and_leaves_the_scripts_intact(tmp_path: Path):
    renderer = VegaRenderer(
        [{"step": 0, "loss": 1.0, "rev": "workspace"}], "loss curve", x="step", y="loss"
    )
    out = tmp_path / "index.html"
    render_html([renderer], out, html_template=str(vendor_vega.TEMPLATE))
    page = out.read_text(encoding="utf-8")
    assert 'id = "loss_curve"' in page and '"loss": 1.0' in page
    assert "{plot_divs}" not in page and "{refresh_tag}" not in page
    assert "<script src=" not in page, "DVC's CDN script tags made it into the page"
    assert [s for s, _ in vendor_vega.inlined_scripts(page)] == [s for s, _ in committed_scripts()]


def test_pinned_versions_read_dvc_renders_script_tags():
    tags = "".join(
        f'<script src="https://host.invalid/npm/{name}@{version}"></script>'
        for name, version in [("vega-embed", "6.1.0"), ("vega", "5.1.0"), ("vega-lite", "5.0.1")]
    )
    assert vendor_vega.pinned_versions(tags) == {
        "vega": "5.1.0",
        "vega-lite": "5.0.1",
        "vega-embed": "6.1.0",
    }
    with pytest.raises(RuntimeError, match="vega-embed"):
        vendor_vega.pinned_versions(tags.replace("vega-embed", "vega-tooltip"))


def test_render_page_round_trips_its_scripts_byte_for_byte():
    scripts = [
        vendor_vega.Script("vega", "5.1.0", "build/vega.min.js", "var a={b:{c:1}};\r\n"),
        vendor_vega.Script("vega-lite", "5.0.1", "build/vega-lite.min.js", "var c=1"),
    ]
    page = vendor_vega.render_page(scripts, "1.0.0")
    assert vendor_vega.inlined_scripts(page) == [(s, s.sha256) for s in scripts]
    assert page.count("{plot_divs}") == 1 and "{scripts}" not in page


@pytest.mark.parametrize("code", ['x="</SCRIPT>"', 'x="{plot_divs}"', "{refresh_tag}"])
def test_render_page_refuses_code_that_would_break_the_page(code: str):
    bad = vendor_vega.Script("vega", "5.1.0", "build/vega.min.js", code)
    with pytest.raises(RuntimeError, match="cannot inline it"):
        vendor_vega.render_page([bad], "1.0.0")
