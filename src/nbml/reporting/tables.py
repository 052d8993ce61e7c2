"""Pandas tables as a reader should see them: no positional index, no empty header row.

A DataFrame displayed in a notebook shows its index as a first column (``0, 1,
2, ...`` for most frames) and, when the index has a name, a second header row
that is empty but for that name. Neither means anything to a reader. The
stage reports pass every table through :func:`tidy`: a positional (whole
number, unnamed) index is removed, and an index name moves up into the
header's empty corner. The executed notebook keeps the frame as it was.
"""

from __future__ import annotations

import re

_TABLE = re.compile(r'(<table[^>]*class="dataframe"[^>]*>)(.*?)(</table>)', re.S)
_SECTION = re.compile(r"(<t(?:head|body)>)(.*?)(</t(?:head|body)>)", re.S)
_ROW = re.compile(r"<tr[^>]*>.*?</tr>", re.S)
_CELL = re.compile(r"<(th|td)([^>]*)>(.*?)</\1>", re.S)
_POSITION = re.compile(r"-?\d+|\.\.\.")


def _cells(row: str) -> list[tuple[str, str, str]]:
    return _CELL.findall(row)


def _drop_first_cell(row: str) -> str:
    match = _CELL.search(row)
    return row if match is None else row[: match.start()] + row[match.end() :]


def _lift_index_name(head: list[str]) -> list[str] | None:
    """Two header rows, the second only an index name: one row with the name in the corner."""
    if len(head) != 2:
        return None
    top, names = _cells(head[0]), _cells(head[1])
    if not top or top[0][2].strip() or any("colspan" in attrs for _, attrs, _ in top):
        return None
    if not names or not names[0][2].strip() or any(text.strip() for _, _, text in names[1:]):
        return None
    first = _CELL.search(head[0])
    if first is None:
        return None
    corner = f"<th>{names[0][2].strip()}</th>"
    return [head[0][: first.start()] + corner + head[0][first.end() :]]


def _positional(head: list[str], body: list[str]) -> bool:
    """An unnamed index of whole numbers: one empty corner, one <th> of a number per row."""
    if len(head) != 1 or not body:
        return False
    top = _cells(head[0])
    if not top or top[0][2].strip() or top[0][0] != "th":
        return False
    for row in body:
        cells = _cells(row)
        headers = [c for c in cells if c[0] == "th"]
        if len(headers) != 1 or cells[0][0] != "th" or "rowspan" in cells[0][1]:
            return False
        if not _POSITION.fullmatch(cells[0][2].strip()):
            return False
    return True


def _tidy_table(inner: str) -> str:
    sections = {m.group(1): m for m in _SECTION.finditer(inner)}
    head_m, body_m = sections.get("<thead>"), sections.get("<tbody>")
    if head_m is None or body_m is None:
        return inner
    head, body = _ROW.findall(head_m.group(2)), _ROW.findall(body_m.group(2))
    lifted = _lift_index_name(head)
    if lifted is not None:
        head = lifted
    elif _positional(head, body):
        head = [_drop_first_cell(head[0])]
        body = [_drop_first_cell(r) for r in body]
    else:
        return inner
    new_head = "<thead>\n" + "\n".join(head) + "\n</thead>"
    new_body = "<tbody>\n" + "\n".join(body) + "\n</tbody>"
    out = inner[: head_m.start()] + new_head + inner[head_m.end() : body_m.start()]
    return out + new_body + inner[body_m.end() :]


def tidy(html: str) -> str:
    """Every pandas table in ``html`` without a positional index or an index-name row."""
    return _TABLE.sub(lambda m: m.group(1) + _tidy_table(m.group(2)) + m.group(3), html)
