"""The summary at the top of the index: data, model, headline metric against its baseline.

Everything in it comes from files the report stage declares (params.yaml, the
metrics, the baseline and per-class files, the feature types, the splits), so
the same inputs give the same bytes. What depends on git or on the clock (the
revision, the change since the last commit and since main, how long each
stage took) is left as empty cells that ``reports/status.js`` fills in the
browser (see :mod:`nbml.reporting.status`); without that file the page says
how to make it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any

import mistune
import pandas as pd
import pyarrow.parquet as pq

from nbml.errors import ReportError
from nbml.project import parse_file
from nbml.steps import per_class, slices
from nbml.steps.summary import (
    baseline_verdict,
    columns_used,
    definition,
    fmt,
    higher_is_better,
    reading_order,
)

BASES = (("HEAD", "vs last commit"), ("main", "vs main"))
# Written next to the index by `make repro` / `make status` (nbml.reporting.status);
# git-ignored, no stage's input or output.
STATUS_FILE = "status.js"


@dataclass
class Facts:
    """What the summary shows, read from the report stage's declared inputs."""

    source: str
    target: str
    task: str
    train_rows: int
    test_rows: int
    feature_types: dict[str, Any]
    estimator: str
    params: dict[str, Any]
    scores: dict[str, float]
    baseline: dict[str, Any]
    weakest: str


def parquet_rows(path: Path) -> int:
    """Rows of a Parquet file, from its footer (the data is not read).

    A split written on a cluster is a folder of part files: their rows summed.
    """
    if path.is_dir():
        return sum(parquet_rows(part) for part in sorted(path.glob("*.parquet")))
    return int(pq.ParquetFile(path).metadata.num_rows)


def _json(path: Path) -> Any:
    """A JSON file an upstream stage wrote; missing or malformed, an error naming it."""
    return parse_file(path, json.load, ReportError, "JSON (run `dvc repro`)")


def gather(params: dict[str, Any], task: str, files: dict[str, Path]) -> Facts:
    """The facts from params.yaml and the files named by dvc.yaml paths.

    ``files`` holds ``metrics``, ``baseline``, ``per_class``, ``confusion``,
    ``feature_types``, ``train`` and ``test``. ``task`` is the one prepare
    recorded: it decides how the per-class (or per-slice) file is read.
    """
    target = str(params["data"]["target"])
    train = params.get("train") or {}
    return Facts(
        source=str(params["data"]["source"]),
        target=target,
        task=task,
        train_rows=parquet_rows(files["train"]),
        test_rows=parquet_rows(files["test"]),
        feature_types=_json(files["feature_types"]),
        estimator=str(train.get("estimator", "")),
        params=dict(train.get("kwargs") or {}),
        scores=_ordered(_json(files["metrics"]), (params.get("evaluate") or {}).get("metrics")),
        baseline=_json(files["baseline"]),
        weakest=_weakest(task, target, files),
    )


def _weakest(task: str, target: str, files: dict[str, Path]) -> str:
    """The sentence naming the weakest classes (classification) or target slice (regression)."""
    tree = _json(files["per_class"])
    if task == "regression":
        return slices.weakest_sentence(slices.from_metrics(tree), target)
    confusion = pd.read_csv(files["confusion"], dtype={"actual": str, "predicted": str})
    return per_class.weakest_sentence(per_class.from_metrics(tree), confusion)


def _ordered(scores: dict[str, float], names: Any) -> dict[str, float]:
    """Metrics in params.yaml's order (the first is the headline), then the others in
    summary's reading order (evaluate.metrics: auto: accuracy or r2 first)."""
    first = [n for n in names if n in scores] if isinstance(names, list) else []
    return {n: scores[n] for n in first + reading_order(set(scores) - set(first))}


def per_class_frame(path: Path, task: str = "classification", target: str = "") -> pd.DataFrame:
    """The per-class (classification) or per-slice (regression) metrics file, to read."""
    if task == "regression":
        return slices.readable(slices.from_metrics(_json(path)), target)
    return per_class.readable(per_class.from_metrics(_json(path)))


def _code_list(names: list[str]) -> str:
    return ", ".join(f"<code>{escape(str(n))}</code>" for n in names) or "none"


def _data_html(f: Facts) -> str:
    types = f.feature_types
    used = columns_used(types)
    dropped = types.get("dropped") or {}
    left_out = (
        "; ".join(f"<code>{escape(c)}</code> ({escape(why)})" for c, why in dropped.items())
        or "none"
    )
    return (
        f"<p><b>{escape(f.task.capitalize())}</b> of <code>{escape(f.target)}</code> "
        f"from <code>{escape(f.source)}</code>: {f.train_rows} training rows, "
        f"{f.test_rows} test rows.</p>"
        f"<p>{len(used)} columns used: {_code_list(used)}. Left out: {left_out}.</p>"
    )


def _model_html(f: Facts) -> str:
    name = f.estimator.rsplit(".", 1)[-1]
    params = ", ".join(f"{escape(str(k))}={escape(json.dumps(v))}" for k, v in f.params.items())
    return (
        f'<p><b title="{escape(f.estimator)}">{escape(name)}</b>'
        f"{' (' + params + ')' if params else ''}.</p>"
        '<p><a href="#model-card">Model card</a>: what it predicts, from which columns, '
        f"{'errors by range of the target' if f.task == 'regression' else 'per-class results'}"
        " and limits.</p>"
    )


def headline(f: Facts) -> str:
    """'accuracy 0.988; always answering the most common class (Adelie): 0.442'."""
    if not f.scores:
        return "no metrics"
    name = next(iter(f.scores))
    value, base = f.scores[name], (f.baseline.get("metrics") or {}).get(name)
    text = f"{name} {fmt(value, [base])}"
    if base is None:
        return text
    return f"{text}; {_guess(f)}: {fmt(base, [value])}"


def _guess(f: Facts) -> str:
    if f.baseline.get("strategy") == "majority class":
        return f"always answering the most common class ({f.baseline.get('answer')})"
    return f"always answering the training mean ({f.baseline.get('answer')})"


def verdict(f: Facts) -> str:
    """'' unless the model does no better than the baseline on some metric."""
    return baseline_verdict(f.scores, f.baseline.get("metrics") or {}, _guess(f))


def _arrow(name: str) -> str:
    return "↑" if higher_is_better(name) else "↓"


def _metric_rows(f: Facts) -> str:
    base = f.baseline.get("metrics") or {}
    rows = []
    for name, value in f.scores.items():
        arrow = _arrow(name)
        changes = "".join(f'<td class="change" data-rev="{rev}">–</td>' for rev, _ in BASES)
        rows.append(
            f'<tr data-metric="{escape(name)}"><td><abbr title="{escape(definition(name))}">'
            f"{escape(name)}</abbr> {arrow}</td><td>{fmt(value, [base.get(name)])}</td>"
            f"<td>{fmt(base.get(name), [value])}</td>{changes}</tr>"
        )
    return "".join(rows)


def _metrics_table(f: Facts) -> str:
    heads = "".join(f"<th>{escape(label)}</th>" for _, label in BASES)
    legend = "".join(
        f"<dt>{escape(n)} {_arrow(n)}</dt><dd>{escape(definition(n))}</dd>" for n in f.scores
    )
    return (
        '<div class="table-wrap"><table class="summary-metrics"><thead><tr><th>metric</th>'
        f"<th>model</th><th>baseline</th>{heads}</tr></thead>"
        f"<tbody>{_metric_rows(f)}</tbody></table></div>"
        '<details class="legend"><summary>What the metrics mean (↑ higher is better, '
        f"↓ lower is better)</summary><dl>{legend}</dl></details>"
    )


def _verdict_html(f: Facts) -> str:
    text = verdict(f)
    return f'<p class="below-baseline" role="alert">{escape(text)}</p>' if text else ""


def render(f: Facts, status_src: str = STATUS_FILE) -> str:
    """The summary block, then the script that fills in its live part from status.js."""
    return (
        '<section class="summary" id="summary" aria-label="summary">'
        f'<p class="headline">{escape(headline(f))}'
        f'<span class="headline-change" data-metric="{escape(next(iter(f.scores), ""))}">'
        "</span></p>"
        f"{_verdict_html(f)}"
        '<div class="facts">'
        f'<div class="fact"><h3>Data</h3>{_data_html(f)}</div>'
        f'<div class="fact"><h3>Model</h3>{_model_html(f)}</div>'
        '<div class="fact"><h3>Run</h3><p id="nbml-run">The git revision and the changes '
        "since the last commit are written by <code>make repro</code> or "
        "<code>make status</code> (reports/status.js).</p></div>"
        "</div>"
        f"{_metrics_table(f)}"
        f'<p class="weakest">{escape(f.weakest)}</p>'
        "</section>"
        f'<script src="{escape(status_src)}"></script>'
        f"<script>{FILL_SCRIPT}</script>"
    )


# Fills the live cells from window.NBML_STATUS (reports/status.js) once the page (and
# the graph further down) is parsed; plain ES5, no network.
FILL_SCRIPT = """
document.addEventListener('DOMContentLoaded', function () {
  var s = window.NBML_STATUS;
  if (!s) { return; }
  var g = s.git || {};
  var run = document.getElementById('nbml-run');
  if (run) {
    run.textContent = g.revision
      ? 'git ' + g.revision.slice(0, 10) +
        (g.dirty ? ', with uncommitted changes' : ', no uncommitted changes')
      : 'not a git checkout';
  }
  Object.keys(s.diffs || {}).forEach(function (rev) {
    (s.diffs[rev] || []).forEach(function (row) {
      var cell = document.querySelector(
        'tr[data-metric="' + row.name + '"] td[data-rev="' + rev + '"]');
      if (cell) { cell.textContent = row.change; cell.className += ' ' + row.verdict; }
      var head = document.querySelector('.headline-change[data-metric="' + row.name + '"]');
      if (head && rev === 'HEAD') {
        head.textContent = ' · since the last commit: ' + row.change;
        head.className += ' ' + row.verdict;
      }
    });
  });
  Object.keys(s.runs || {}).forEach(function (stage) {
    var r = s.runs[stage], label = document.querySelector('text[data-run="' + stage + '"]');
    if (label && r.seconds != null) {
      label.textContent = (r.ran ? 'ran, ' : 'skipped, last ') + r.seconds.toFixed(1) + ' s';
    }
  });
});
"""


def _markdown(text: str) -> str:
    return mistune.create_markdown(plugins=["table"], escape=True)(text)


def card_section(markdown: str) -> str:
    """The model card inside the index, its headings two levels down, as #model-card."""
    shifted = re.sub(r"^(#{1,4}) ", r"##\1 ", markdown, flags=re.M)
    return f'<section class="card" id="model-card">{_markdown(shifted)}</section>'


def card_page(markdown: str, title: str = "Model card", css: str = "") -> str:
    """The model card as a self-contained HTML page (tables included, nothing fetched)."""
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{css}</style></head>"
        f'<body><main class="card">{_markdown(markdown)}</main></body></html>\n'
    )
