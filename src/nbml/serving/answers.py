"""The JSON the service answers: predictions, and errors that name the row and column."""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Sequence
from typing import Any

import numpy as np

MAX_LISTED = 20
_KIND_WORDS = {
    "float_type": "a number or null",
    "string_type": "text or null",
    "bool_type": "true, false or null",
    "infinite_number": "a finite number or null (training refuses inf too)",
}


def prediction_body(
    labels: list[Any], proba: np.ndarray, classes: list[Any], warnings: Sequence[str] = ()
) -> bytes:
    """``{"predictions": [{"label": ..., "probabilities": {class: p}}, ...]}`` as JSON bytes.

    A regressor has no classes: each answer is ``{"value": number}``. ``warnings``
    (:func:`unseen_warnings`), when there are any, come as ``"warnings": [...]``.
    """
    if not classes:
        predictions: list[dict[str, Any]] = [{"value": float(v)} for v in labels]
    else:
        keys = [str(c) for c in classes]
        predictions = [
            {"label": label, "probabilities": dict(zip(keys, row, strict=True))}
            for label, row in zip(labels, proba.tolist(), strict=True)
        ]
    body: dict[str, Any] = {"predictions": predictions}
    if warnings:
        body["warnings"] = list(warnings)
    return json.dumps(body).encode()


# (position in a request row, column name, the values training saw in it)
CategoryCheck = tuple[int, str, frozenset[Any]]
UNSEEN_SHOWN = 5


def unseen_warnings(rows: Sequence[tuple[Any, ...]], checks: Sequence[CategoryCheck]) -> list[str]:
    """One sentence per column whose values in ``rows`` training never saw.

    The request is still answered: the model takes such a value as it does in
    evaluate (an unknown category; docs/faults.md), but a client that sent
    'Atlantis' for an island should learn that its answer rests on no island at
    all. A few values are named, each with the rows (0-based) it is in.
    """
    found = []
    for position, name, known in checks:
        where: dict[Any, list[int]] = {}
        for i, row in enumerate(rows):
            value = row[position]
            if value is not None and value not in known:
                where.setdefault(value, []).append(i)
        if not where:
            continue
        shown = [
            f"{_shown(v)} (row{'s' if len(r) > 1 else ''} {', '.join(map(str, r[:3]))}"
            f"{', ...' if len(r) > 3 else ''})"
            for v, r in list(where.items())[:UNSEEN_SHOWN]
        ]
        more = f" and {len(where) - UNSEEN_SHOWN} more" if len(where) > UNSEEN_SHOWN else ""
        found.append(
            f"{name}: {', '.join(shown)}{more} never seen in training; "
            "predicted as an unknown category"
        )
    return found


def _shown(value: Any) -> str:
    if isinstance(value, str):
        return f"text {value[:40]!r}"
    return json.dumps(value)[:40] if not isinstance(value, dict | list) else type(value).__name__


def _same_letters(column: Any, columns: Sequence[str]) -> str:
    """A hint when an unknown column is a known one written in another Unicode form.

    'größe' typed on one system may arrive decomposed (o + combining diaeresis):
    printed, both names look the same, and the answer would read "missing
    column 'größe'; unknown column 'größe'".
    """
    if not isinstance(column, str):
        return ""
    form = unicodedata.normalize("NFC", column)
    for known in columns:
        if form == unicodedata.normalize("NFC", known) and column != known:
            nfc = unicodedata.is_normalized("NFC", known)
            how = "in NFC form" if nfc else "as /metadata has it"
            return (
                f"the same letters as '{known}' in other Unicode code points ({len(column)} "
                f"code points for {len(known)}: a combining accent?): send the name {how}; "
            )
    return ""


_SHAPE = '{"rows": [{...}, ...]}'


def describe_error(error: dict[str, Any], columns: Sequence[str]) -> dict[str, Any]:
    """One validation error as ``{"row", "column", "message"}``."""
    loc = list(error.get("loc", ()))
    kind = error.get("type", "")
    row = loc[2] if len(loc) > 2 and loc[:2] == ["body", "rows"] else None
    column = loc[3] if row is not None and len(loc) > 3 else None
    where = f"row {row}" if row is not None else "request"
    if kind == "missing" and column is not None:
        message = f"{where}: missing column '{column}' (send null for a missing value)"
    elif kind == "extra_forbidden" and column is not None:
        message = f"{where}: unknown column '{column}' ({_same_letters(column, columns)}"
        message += f"columns: {', '.join(columns)})"
    elif kind in _KIND_WORDS and column is not None:
        got = _shown(error.get("input"))
        message = f"{where}, column '{column}': expected {_KIND_WORDS[kind]}, got {got}"
    elif row is not None and column is None:
        message = f"{where}: expected an object of column: value, got {_shown(error.get('input'))}"
    elif kind == "missing" and loc in (["body"], ["body", "rows"]):
        # pydantic's "Field required" does not say which field, nor that there was no body
        what = "the body is empty" if loc == ["body"] else 'the body has no "rows"'
        message = f"request: {what}; expected {_SHAPE}"
    elif loc == ["body"] or loc == ["body", "rows"]:
        message = f"request: {error.get('msg', 'invalid')}; expected {_SHAPE}"
    else:
        message = f"{'.'.join(map(str, loc))}: {error.get('msg', 'invalid')}"
    return {"row": row, "column": column, "message": message}


def not_json_answer(method: str, content_type: str, path: str = "/predict") -> tuple[int, dict]:
    """415 for a body sent as something else than JSON (a CSV upload, curl -d's form type).

    FastAPI does not parse such a body as JSON, and the answer used to be a
    422 "Input should be a valid dictionary", which says nothing about the
    Content-Type. (0, {}) when the body was JSON, or there is none to judge.
    """
    media = content_type.split(";", 1)[0].strip().lower()
    if method != "POST" or not media or media == "application/json" or media.endswith("+json"):
        return 0, {}
    shape = '{"inputs": [...]}' if path.startswith("/v2/") else '{"rows": [{column: value, ...}]}'
    return 415, {
        "error": f"the body was sent as {media}, not JSON: send Content-Type: application/json "
        f"and {shape}; to score a CSV or Parquet file, make score IN=file OUT=predictions.csv"
    }


def validation_answer(errors: Sequence[dict[str, Any]], columns: Sequence[str]) -> tuple[int, dict]:
    """Status and body for a refused request: 400 malformed JSON, 413 too many rows, else 422."""
    kinds = {e.get("type") for e in errors}
    if "json_invalid" in kinds:
        first = next(e for e in errors if e.get("type") == "json_invalid")
        detail = first.get("ctx", {}).get("error", first.get("msg", ""))
        return 400, {"error": f"malformed JSON: {detail}"}
    rows_loc = ["body", "rows"]
    too_long = [e for e in errors if e.get("type") == "too_long" and list(e["loc"]) == rows_loc]
    if too_long:
        limit = too_long[0].get("ctx", {}).get("max_length")
        return 413, {"error": f"more than {limit} rows in one request (NBML_MAX_ROWS)"}
    described = [describe_error(dict(e), columns) for e in errors[:MAX_LISTED]]
    more = f" (and {len(errors) - MAX_LISTED} more)" if len(errors) > MAX_LISTED else ""
    return 422, {"error": "; ".join(d["message"] for d in described) + more, "detail": described}
