"""Unit tests of nbml.reporting.dag: edges from dvc.yaml, a left-to-right layout that keeps
edges out from under the boxes, few crossings and the same bytes for the same pipeline."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from nbml.project import Project
from nbml.reporting import dag

ROOT = Path(__file__).resolve().parents[2]


def tiny() -> Project:
    return Project(
        root=Path("."),
        pipeline={
            "stages": {
                "a": {"outs": ["data/x"]},
                "b": {"deps": ["data/x/file.parquet"], "outs": ["m.json"]},
                "c": {"deps": ["m.json", "data/x"]},
            }
        },
        params={},
    )


def bezier_points(points: list[tuple[float, float]], steps: int = 24):
    """Points along the drawn route: curves between columns, straight across lanes."""
    for (x0, y0), (x1, y1) in zip(points, points[1:], strict=False):
        mid = (x0 + x1) / 2
        for i in range(steps + 1):
            t = i / steps
            if y0 == y1:
                yield x0 + (x1 - x0) * t, y0
            else:  # the cubic with control points (mid, y0), (mid, y1)
                x = (1 - t) ** 3 * x0 + 3 * (1 - t) ** 2 * t * mid + 3 * (1 - t) * t**2 * mid
                yield (
                    x + t**3 * x1,
                    (1 - t) ** 3 * y0
                    + 3 * (1 - t) ** 2 * t * y0
                    + (3 * (1 - t) * t**2 * y1 + t**3 * y1),
                )


def assert_no_edge_under_a_box(plan: dag.Layout) -> None:
    for (a, b), points in plan.routes.items():
        for x, y in bezier_points(points):
            for stage, (bx, by) in plan.boxes.items():
                inside = bx + 1 < x < bx + dag.BOX_W - 1 and by + 1 < y < by + dag.BOX_H - 1
                assert not inside, f"edge {a}->{b} runs under the box of {stage} at {x:.0f},{y:.0f}"


def test_dag_edges_follow_outs_into_deps():
    proj = tiny()
    assert sorted(dag.edges(proj)) == [("a", "b"), ("a", "c"), ("b", "c")]
    assert dag.levels(["a", "b", "c"], dag.edges(proj)) == {"a": 0, "b": 1, "c": 2}
    drawing = dag.svg(proj, {"a": "a.html"})
    assert drawing.count("<rect") == 3 and drawing.count('<a href="a.html">') == 1
    # a -> c skips b's column: it gets a lane of its own there, beside b
    plan = dag.layout(["a", "b", "c"], dag.edges(proj))
    assert plan.columns[1] == ["b", "a>c#1"] or plan.columns[1] == ["a>c#1", "b"]
    assert_no_edge_under_a_box(plan)


def test_left_to_right_and_no_edge_under_a_box_in_the_project_pipeline():
    proj = Project.load(ROOT)
    stages = list(proj.pipeline["stages"])
    plan = dag.layout(stages, dag.edges(proj))
    depth = dag.levels(stages, dag.edges(proj))
    for a, b in dag.edges(proj):
        assert plan.boxes[a][0] < plan.boxes[b][0], f"{a} -> {b} goes right to left"
        assert depth[b] > depth[a]
    assert_no_edge_under_a_box(plan)


def test_ordering_removes_crossings_the_dvc_yaml_order_would_have():
    # written in an order that crosses: a1 feeds b2, a2 feeds b1
    stages = ["a1", "a2", "b1", "b2"]
    links = [("a1", "b2"), ("a2", "b1")]
    plan = dag.layout(stages, links)
    assert plan.crossings() == 0
    assert plan.columns[1] == ["b2", "b1"]


@pytest.mark.parametrize("links", [[("s", "t"), ("s", "u"), ("t", "v"), ("u", "v"), ("s", "v")]])
def test_edges_into_one_box_meet_it_at_separate_points(links):
    plan = dag.layout(["s", "t", "u", "v"], links)
    ends = [points[-1] for (a, b), points in plan.routes.items() if b == "v"]
    assert len(set(ends)) == len(ends) == 3
    assert plan.crossings() == 0


def test_the_same_pipeline_gives_the_same_bytes():
    proj = Project.load(ROOT)
    first = dag.svg(proj, {"train": "train.html"})
    again = dag.svg(Project.load(ROOT), {"train": "train.html"})
    assert first == again
    # every box has an empty line for the last run, filled in the browser from status.js
    for stage in proj.pipeline["stages"]:
        assert re.search(rf'<text [^>]*data-run="{stage}"></text>', first)
