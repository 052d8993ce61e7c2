"""The pipeline graph from dvc.yaml, drawn as inline SVG (no JavaScript, no CDN).

A layered left-to-right layout: each stage sits in the column of its longest
path from a source; an edge that skips columns gets a lane of its own in each
column it crosses (a slot between boxes, never under one); the boxes and lanes
of each column are ordered to reduce crossings (barycenter sweeps, ties kept
in dvc.yaml order, so the same pipeline always gives the same bytes).

Each box links its stage report and has an empty second line
(``<text data-run="STAGE">``) that the index fills from ``reports/status.js``
with the stage's last duration and whether the last ``dvc repro`` ran it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html import escape

from nbml.project import Project

BOX_W, BOX_H, LANE_H = 124, 44, 12
GAP_X, GAP_Y, MARGIN = 56, 14, 16
SWEEPS = 4


def _covers(out: str, dep: str) -> bool:
    out, dep = out.rstrip("/"), dep.rstrip("/")
    return dep == out or dep.startswith(out + "/") or out.startswith(dep + "/")


def edges(proj: Project) -> list[tuple[str, str]]:
    """(upstream, downstream) stage pairs: an out of one is a dep of the other."""
    stages = list(proj.pipeline["stages"])
    outs = {s: proj.stage_files(s, "outs") for s in stages}
    deps = {s: proj.stage_files(s, "deps") for s in stages}
    return [
        (a, b)
        for a in stages
        for b in stages
        if a != b and any(_covers(o, d) for o in outs[a] for d in deps[b])
    ]


def levels(stages: list[str], links: list[tuple[str, str]]) -> dict[str, int]:
    """Longest-path depth of each stage, for a left-to-right layout."""
    depth = {s: 0 for s in stages}
    for _ in stages:  # at most len(stages) relaxations in a DAG
        for a, b in links:
            depth[b] = max(depth[b], depth[a] + 1)
    return depth


@dataclass
class Layout:
    """Where every box and lane sits, and each edge's points from source to target."""

    columns: list[list[str]]  # node names per column: stages, and lanes "a>b#k"
    boxes: dict[str, tuple[float, float]]  # stage -> top-left corner
    routes: dict[tuple[str, str], list[tuple[float, float]]] = field(default_factory=dict)
    width: float = 0
    height: float = 0

    def crossings(self) -> int:
        """Pairs of edges that cross between two neighbouring columns."""
        count = 0
        for gap in range(len(self.columns) - 1):
            x = MARGIN + gap * (BOX_W + GAP_X) + BOX_W
            spans = [_span_at(points, x) for points in self.routes.values()]
            spans = [s for s in spans if s is not None]
            count += sum(
                1
                for i, (a1, b1) in enumerate(spans)
                for a2, b2 in spans[i + 1 :]
                if (a1 - a2) * (b1 - b2) < 0
            )
        return count


def _span_at(points: list[tuple[float, float]], x: float) -> tuple[float, float] | None:
    """The (start y, end y) of a route's hop that starts at the column edge ``x``."""
    for (x1, y1), (x2, y2) in zip(points, points[1:], strict=False):
        if abs(x1 - x) < 0.5 and x2 > x1:
            return y1, y2
    return None


def _columns(stages: list[str], links: list[tuple[str, str]]) -> tuple[list[list[str]], dict]:
    """Stages and lanes per column, and each node's neighbours in the column before."""
    depth = levels(stages, links)
    columns: list[list[str]] = [[] for _ in range(max(depth.values(), default=0) + 1)]
    for s in stages:
        columns[depth[s]].append(s)
    before: dict[str, list[str]] = {s: [] for s in stages}
    for a, b in links:
        prev = a
        for k in range(depth[a] + 1, depth[b]):
            lane = f"{a}>{b}#{k}"
            columns[k].append(lane)
            before[lane] = [prev]
            prev = lane
        before[b].append(prev)
    return columns, before


def _order(columns: list[list[str]], before: dict[str, list[str]]) -> list[list[str]]:
    """Barycenter sweeps left to right and back; stable sorts keep ties in dvc.yaml order."""
    after: dict[str, list[str]] = {n: [] for col in columns for n in col}
    for node, prevs in before.items():
        for p in prevs:
            after[p].append(node)
    cols = [list(c) for c in columns]
    for _ in range(SWEEPS):
        for i in range(1, len(cols)):
            cols[i] = _by_barycenter(cols[i], cols[i - 1], before)
        for i in range(len(cols) - 2, -1, -1):
            cols[i] = _by_barycenter(cols[i], cols[i + 1], after)
    return cols


def _by_barycenter(col: list[str], ref: list[str], links: dict[str, list[str]]) -> list[str]:
    where = {n: i for i, n in enumerate(ref)}

    def key(item: tuple[int, str]) -> float:
        index, node = item
        near = [where[n] for n in links.get(node, []) if n in where]
        return sum(near) / len(near) if near else float(index)

    return [n for _, n in sorted(enumerate(col), key=key)]


def layout(stages: list[str], links: list[tuple[str, str]]) -> Layout:
    """Columns, positions and edge routes of the stage graph."""
    columns, before = _columns(stages, links)
    columns = _order(columns, before)
    heights = [sum(_height(n) for n in col) + GAP_Y * (len(col) - 1) for col in columns]
    tallest = max(heights, default=0)
    centre: dict[str, tuple[float, float]] = {}
    boxes: dict[str, tuple[float, float]] = {}
    for i, col in enumerate(columns):
        x, y = MARGIN + i * (BOX_W + GAP_X), MARGIN + (tallest - heights[i]) / 2
        for node in col:
            centre[node] = (x, y + _height(node) / 2)
            if ">" not in node:
                boxes[node] = (x, y)
            y += _height(node) + GAP_Y
    result = Layout(columns, boxes)
    result.width = 2 * MARGIN + len(columns) * (BOX_W + GAP_X) - GAP_X
    result.height = 2 * MARGIN + tallest
    for a, b in links:
        result.routes[(a, b)] = _route(a, b, centre, before)
    _spread_ports(result)
    return result


def _spread_ports(plan: Layout) -> None:
    """Several edges at one side of a box meet it at points spread along that side,
    in the order of where they come from, so they neither overlap nor cross there."""
    ends: dict[tuple[str, int], list[tuple[float, tuple[str, str]]]] = {}
    for (a, b), points in plan.routes.items():
        ends.setdefault((a, 0), []).append((points[1][1], (a, b)))
        ends.setdefault((b, -1), []).append((points[-2][1], (a, b)))
    for (node, index), items in ends.items():
        top = plan.boxes[node][1]
        items.sort()
        for i, (_, edge) in enumerate(items):
            x = plan.routes[edge][index][0]
            plan.routes[edge][index] = (x, top + BOX_H * (i + 1) / (len(items) + 1))


def _height(node: str) -> float:
    return LANE_H if ">" in node else BOX_H


def _route(
    a: str, b: str, centre: dict[str, tuple[float, float]], before: dict[str, list[str]]
) -> list[tuple[float, float]]:
    """Right side of a, across each lane it owns (left to right edge), left side of b."""
    chain = [b]
    while chain[-1] != a:
        prevs = before[chain[-1]]
        chain.append(a if a in prevs else next(p for p in prevs if p.startswith(f"{a}>{b}#")))
    chain.reverse()
    points: list[tuple[float, float]] = []
    for node in chain:
        x, y = centre[node]
        if node == a:
            points.append((x + BOX_W, y))
        elif node == b:
            points.append((x, y))
        else:  # a lane: straight across its column
            points += [(x, y), (x + BOX_W, y)]
    return points


def _path(points: list[tuple[float, float]]) -> str:
    """Curves between columns, straight lines across lanes."""
    (x0, y0), parts = points[0], [f"M{points[0][0]:g},{points[0][1]:g}"]
    for x1, y1 in points[1:]:
        if y1 == y0:
            parts.append(f"L{x1:g},{y1:g}")
        else:
            mid = (x0 + x1) / 2
            parts.append(f"C{mid:g},{y0:g} {mid:g},{y1:g} {x1:g},{y1:g}")
        x0, y0 = x1, y1
    return " ".join(parts)


def svg(proj: Project, link: dict[str, str] | None = None) -> str:
    """An SVG drawing of the stage graph; stage boxes link to their reports."""
    stages = list(proj.pipeline["stages"])
    plan = layout(stages, edges(proj))
    w, h = f"{plan.width:g}", f"{plan.height:g}"
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
        f'viewBox="0 0 {w} {h}" role="img" aria-label="pipeline graph" class="pipeline">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto"><path d="M0,0L10,5L0,10z" fill="#57606a"/></marker></defs>',
    ]
    stroke = 'fill="none" stroke="#57606a" stroke-width="1.5" marker-end="url(#arrow)"'
    for (a, b), points in plan.routes.items():
        parts.append(f'<path d="{_path(points)}" {stroke} data-edge="{escape(a)}>{escape(b)}"/>')
    for s, (x, y) in plan.boxes.items():
        box = (
            f'<rect x="{x:g}" y="{y:g}" width="{BOX_W}" height="{BOX_H}" rx="6" fill="#ddf4ff" '
            f'stroke="#0969da"/><text x="{x + BOX_W / 2:g}" y="{y + 18:g}" '
            f'text-anchor="middle" font-family="sans-serif" font-size="14">{escape(s)}</text>'
            f'<text x="{x + BOX_W / 2:g}" y="{y + 35:g}" text-anchor="middle" '
            f'font-family="sans-serif" font-size="11" fill="#57606a" '
            f'data-run="{escape(s)}"></text>'
        )
        if link and s in link:
            box = f'<a href="{escape(link[s])}">{box}</a>'
        parts.append(box)
    parts.append("</svg>")
    return "".join(parts)
