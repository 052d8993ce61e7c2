"""HTML reports from executed notebooks, readable offline by people who skip code."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import nbformat
from nbconvert import HTMLExporter

from nbml.reporting.tables import tidy

TEMPLATES = Path(__file__).parent / "templates"


@lru_cache(maxsize=1)
def _exporter() -> HTMLExporter:
    # The "nbml" template extends nbconvert's lab template but loads nothing
    # from a CDN and carries a few kB of CSS; code cells are left out (the
    # executed notebook next to the report keeps them).
    return HTMLExporter(
        template_name="nbml",
        extra_template_basedirs=[str(TEMPLATES)],
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
    )


def warm_up() -> None:
    """Load and compile the report templates now, off the critical path.

    The first export of a process spends ~0.15 s compiling nbconvert's Jinja
    templates; the stage runner calls this in a thread while the kernel works.
    """
    page = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_markdown_cell("# warm-up"),
            nbformat.v4.new_code_cell(
                "x",
                outputs=[
                    nbformat.v4.new_output("stream", name="stdout", text="x\n"),
                    nbformat.v4.new_output("execute_result", {"text/plain": "x"}),
                ],
            ),
        ]
    )
    _exporter().from_notebook_node(page, resources={"metadata": {"name": "warm-up"}})


def export_html(nb: dict[str, Any], title: str) -> str:
    """Render an executed notebook as a self-contained HTML page (tables tidied for readers)."""
    node = nbformat.from_dict(nb)
    body, _ = _exporter().from_notebook_node(node, resources={"metadata": {"name": title}})
    return tidy(body)
