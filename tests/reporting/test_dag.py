"""Unit tests of nbml.reporting.dag on tiny in-memory frames."""

import re
from pathlib import Path

from nbml.project import Project
from nbml.reporting import dag


def test_dag_edges_follow_outs_into_deps():
    proj = Project(
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
    assert sorted(dag.edges(proj)) == [("a", "b"), ("a", "c"), ("b", "c")]
    assert dag.levels(["a", "b", "c"], dag.edges(proj)) == {"a": 0, "b": 1, "c": 2}
    drawing = dag.svg(proj, {"a": "a.html"})
    assert drawing.count("<rect") == 3
    # a -> c skips b's column: it runs under every box, not through b
    bottoms = [
        float(y) + float(h)
        for y, h in re.findall(
            r'<rect x="[^"]+" y="([^"]+)" width="[^"]+" height="([^"]+)"', drawing
        )
    ]
    (route,) = re.findall(r'<path d="M([^"]+)" fill="none"', drawing)
    lane = [float(point.split(",")[1]) for point in re.findall(r"[\d.]+,[\d.]+", route)]
    assert max(lane) > max(bottoms)
    assert drawing.count("<line") == 2
