"""The pipeline graph from dvc.yaml, drawn as inline SVG (no JavaScript, no CDN)."""

from __future__ import annotations

from html import escape

from nbml.project import Project


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


def svg(proj: Project, link: dict[str, str] | None = None) -> str:
    """An SVG drawing of the stage graph; stage boxes link to their reports."""
    stages = list(proj.pipeline["stages"])
    links = edges(proj)
    depth = levels(stages, links)
    columns: dict[int, list[str]] = {}
    for s in stages:
        columns.setdefault(depth[s], []).append(s)
    box_w, box_h, gap_x, gap_y = 110, 34, 50, 16
    pos = {
        s: (20 + d * (box_w + gap_x), 20 + i * (box_h + gap_y))
        for d, names in columns.items()
        for i, s in enumerate(names)
    }
    width = 40 + (max(columns) + 1) * (box_w + gap_x) - gap_x
    boxes_bottom = 20 + max(len(v) for v in columns.values()) * (box_h + gap_y) - gap_y
    # An edge that skips a column would cross the boxes in between; it runs
    # in a lane of its own under all boxes instead.
    skipping = [(a, b) for a, b in links if depth[b] - depth[a] > 1]
    lane_gap = 9
    lane_of = {edge: boxes_bottom + lane_gap * (i + 1) for i, edge in enumerate(skipping)}
    height = boxes_bottom + 20 + lane_gap * len(skipping)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="pipeline graph">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto"><path d="M0,0L10,5L0,10z" fill="#57606a"/></marker></defs>',
    ]
    stroke = 'fill="none" stroke="#57606a" stroke-width="1.5" marker-end="url(#arrow)"'
    for a, b in links:
        (xa, ya), (xb, yb) = pos[a], pos[b]
        x1, y1, x2, y2 = xa + box_w, ya + box_h / 2, xb, yb + box_h / 2
        if (a, b) in lane_of:
            lane = lane_of[(a, b)]
            bend = gap_x / 2
            parts.append(
                f'<path d="M{x1},{y1} C{x1 + bend},{y1} {x1 + bend},{lane} {x1 + gap_x},{lane} '
                f'L{x2 - gap_x},{lane} C{x2 - bend},{lane} {x2 - bend},{y2} {x2},{y2}" {stroke}/>'
            )
        else:
            parts.append(f'<line x1="{x1}" y1="{y1}" x2="{x2}" y2="{y2}" {stroke}/>')
    for s, (x, y) in pos.items():
        box = (
            f'<rect x="{x}" y="{y}" width="{box_w}" height="{box_h}" rx="6" fill="#ddf4ff" '
            f'stroke="#0969da"/><text x="{x + box_w / 2}" y="{y + box_h / 2 + 5}" '
            f'text-anchor="middle" font-family="sans-serif" font-size="14">{escape(s)}</text>'
        )
        if link and s in link:
            box = f'<a href="{escape(link[s])}">{box}</a>'
        parts.append(box)
    parts.append("</svg>")
    return "".join(parts)
