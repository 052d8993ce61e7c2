"""``GET /card``: the model card evaluate wrote next to the model, as a page (and as Markdown).

The card is read from ``data/models/card.md`` (dvc.yaml's ``paths.card``, an
output of the evaluate stage) on each request, so a ``dvc repro`` shows at
once. A card that names another model file's md5 than the one served is
shown under a warning: it describes a model this service does not run.
"""

# No `from __future__ import annotations`: FastAPI reads the route annotations at run time.

import html

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response

from nbml.reporting.overview import card_page
from nbml.serving.service import Service

STYLE = (
    "body{font:15px/1.5 system-ui,sans-serif;color:#1f2328;margin:0}"
    "main{max-width:60rem;margin:0 auto;padding:1rem}"
    "table{border-collapse:collapse;display:block;overflow-x:auto;max-width:100%}"
    "th,td{border:1px solid #d0d7de;padding:.25em .6em}th{background:#f6f8fa}"
    ".stale{background:#fff8e5;border:1px solid #d4a72c;padding:.5rem 1rem}"
)


def read_card(service: Service) -> str | None:
    """The card's Markdown, or None when evaluate has not written it."""
    path = service.project.root / service.project.path_names.get("card", "data/models/card.md")
    try:
        return path.read_text(encoding="utf-8")
    except (FileNotFoundError, IsADirectoryError):
        return None


def _missing() -> JSONResponse:
    return JSONResponse(
        {"error": "no model card: `dvc repro` writes it (the evaluate stage)"}, status_code=404
    )


def router(service: Service) -> APIRouter:
    api = APIRouter()

    @api.get("/card", response_class=HTMLResponse, summary="The model card, as a page")
    async def card() -> Response:
        text = read_card(service)
        if text is None:
            return _missing()
        page = card_page(text, title="Model card", css=STYLE)
        if service.md5 not in text:
            warning = (
                '<p class="stale">This card was written for another model file than the '
                f"one served (md5 <code>{html.escape(service.md5)}</code>): run "
                "<code>dvc repro</code>.</p>"
            )
            page = page.replace('<main class="card">', '<main class="card">' + warning, 1)
        return HTMLResponse(page)

    @api.get("/card.md", response_class=PlainTextResponse, summary="The model card, Markdown")
    async def card_markdown() -> Response:
        text = read_card(service)
        if text is None:
            return _missing()
        return PlainTextResponse(text, media_type="text/markdown; charset=utf-8")

    return api
