"""``GET /``: a small try-it page for a person, built from the request columns.

One field per column (a choice list for text columns, a number field for
numbers), pre-filled with a real row of the test split; Predict posts the
row to ``/predict`` and draws the class probabilities as bars. Script and
styles are inline: the page loads nothing from the network.
"""

# No `from __future__ import annotations`: FastAPI reads the route annotations at run time.

import html
import json
from typing import Any

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from nbml.serving.schema import BOOLEAN, NUMBER, TEXT, ColumnSpec
from nbml.serving.service import Service

STYLE = """
body{font-family:system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem;color:#222}
form{display:grid;grid-template-columns:max-content 1fr;gap:.4rem .8rem;align-items:center}
label{font-weight:600}input,select{font:inherit;padding:.2rem}
button{grid-column:2;justify-self:start;font:inherit;padding:.3rem 1.2rem;margin-top:.4rem}
#answer{margin-top:1.5rem}.row{display:flex;align-items:center;gap:.5rem;margin:.2rem 0}
.name{width:9rem}.track{flex:1;background:#eee;height:1rem}
.bar{background:#3b7dd8;height:1rem}.p{width:4rem;text-align:right}.err{color:#b00020}
"""

SCRIPT = """
const form = document.getElementById('tryit');
function value(el) {
  const v = el.value;
  if (v === '') return null;
  if (el.dataset.kind === 'number') return Number(v);
  if (el.dataset.kind === 'boolean') return v === 'true';
  return v;
}
function show(answer) {
  const out = document.getElementById('answer');
  out.innerHTML = '';
  const p = answer.predictions[0];
  const head = document.createElement('h2');
  head.id = 'label';
  head.textContent = 'Prediction: ' + ('value' in p ? p.value : p.label);
  out.appendChild(head);
  for (const [name, prob] of Object.entries(p.probabilities || {})) {
    const row = document.createElement('div');
    row.className = 'row';
    row.dataset.class = name;
    row.innerHTML = '<span class="name"></span><span class="track"><div class="bar"></div></span>'
      + '<span class="p"></span>';
    row.querySelector('.name').textContent = name;
    row.querySelector('.bar').style.width = (100 * prob).toFixed(1) + '%';
    row.querySelector('.p').textContent = (100 * prob).toFixed(1) + ' %';
    out.appendChild(row);
  }
}
form.addEventListener('submit', async (event) => {
  event.preventDefault();
  const row = {};
  for (const el of form.querySelectorAll('[data-column]')) row[el.dataset.column] = value(el);
  const out = document.getElementById('answer');
  out.textContent = 'Predicting ...';
  const res = await fetch('predict', {method: 'POST',
    headers: {'Content-Type': 'application/json'}, body: JSON.stringify({rows: [row]})});
  const body = await res.json();
  if (res.ok) { show(body); return; }
  out.innerHTML = '<p class="err" id="error"></p>';
  out.querySelector('#error').textContent = body.error || JSON.stringify(body);
});
"""


def field_html(i: int, spec: ColumnSpec, value: Any) -> str:
    """One labelled form field for a column."""
    name = html.escape(spec.name)
    attrs = f'id="f{i}" name="{name}" data-column="{name}" data-kind="{spec.kind}"'
    shown = "" if value is None else html.escape(str(value))
    if spec.kind == NUMBER and not spec.categories:
        field = f'<input type="number" step="any" {attrs} value="{shown}">'
    elif spec.kind == TEXT and not spec.categories:  # a date, or text of many values
        field = f'<input type="text" {attrs} value="{shown}">'
    else:
        choices = spec.categories if spec.kind != BOOLEAN else [False, True]
        options = ['<option value="">(missing)</option>'] + [
            f'<option value="{html.escape(_js(c))}"{" selected" if c == value else ""}>'
            f"{html.escape(str(c))}</option>"
            for c in choices
        ]
        field = f"<select {attrs}>{''.join(options)}</select>"
    return f'<label for="f{i}">{name}</label>{field}'


def _js(value: Any) -> str:
    return json.dumps(value) if isinstance(value, bool) else str(value)


def page_html(service: Service) -> str:
    """The whole page: inline style and script, fields pre-filled with a test-split row."""
    # columns the model drops (identifiers, dates) may be left out of a request
    fields = "\n".join(
        field_html(i, s, service.example.get(s.name))
        for i, s in enumerate(service.specs)
        if s.used
    )
    md5 = html.escape(service.md5)
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        "<meta name=viewport content='width=device-width,initial-scale=1'>"
        f"<title>Try the model</title><style>{STYLE}</style></head><body>"
        f"<h1>Try the model</h1><p>Model <code>{md5}</code> (md5, as in dvc.lock). "
        "The fields hold a row of the test split; change any and press Predict. "
        "<a href='docs'>API docs</a> · <a href='metadata'>metadata</a> · "
        "<a href='card'>model card</a></p>"
        f"<form id=tryit>{fields}<button type=submit id=predict>Predict</button></form>"
        f"<div id=answer></div><script>{SCRIPT}</script></body></html>"
    )


def router(service: Service) -> APIRouter:
    api = APIRouter()
    cached: dict[str, str] = {}

    @api.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def tryit() -> HTMLResponse:
        if "page" not in cached:
            cached["page"] = page_html(service)
        return HTMLResponse(cached["page"])

    return api
