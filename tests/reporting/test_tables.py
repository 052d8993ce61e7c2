"""Pandas tables in the stage reports: no positional index column, no empty header row."""

from __future__ import annotations

import re

import pandas as pd

from nbml.reporting.tables import tidy


def header_rows(html: str) -> list[list[str]]:
    head = re.search(r"<thead>(.*?)</thead>", html, re.S).group(1)
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", head, re.S)
    return [[c.strip() for c in re.findall(r"<th[^>]*>(.*?)</th>", r, re.S)] for r in rows]


def first_cells(html: str) -> list[str]:
    body = re.search(r"<tbody>(.*?)</tbody>", html, re.S).group(1)
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S)
    return [re.search(r"<t[hd][^>]*>(.*?)</t[hd]>", r, re.S).group(1) for r in rows]


def test_a_positional_index_is_removed():
    frame = pd.DataFrame({"column": ["island", "sex"], "missing": [0, 3]})
    html = tidy(frame._repr_html_())
    assert header_rows(html) == [["column", "missing"]]
    assert first_cells(html) == ["island", "sex"]


def test_a_filtered_positional_index_is_removed_too():
    frame = pd.DataFrame({"column": ["a", "b", "c"], "type": ["x", "dropped", "dropped"]})
    html = tidy(frame.query("type == 'dropped'")._repr_html_())
    assert first_cells(html) == ["b", "c"] and "<th>1</th>" not in html


def test_an_index_name_moves_into_the_header_corner():
    frame = pd.Series({"accuracy": 0.98}, name="value").rename_axis("metric").to_frame()
    html = tidy(frame._repr_html_())
    assert header_rows(html) == [["metric", "value"]]
    assert first_cells(html) == ["accuracy"]


def test_a_named_index_of_numbers_is_kept_as_data():
    # breast_cancer's classes are 0 and 1: the index is the class, not a position
    frame = pd.DataFrame({"rows": [30, 40]}, index=pd.Index([0, 1], name="target"))
    html = tidy(frame._repr_html_())
    assert header_rows(html) == [["target", "rows"]]
    assert first_cells(html) == ["0", "1"]


def test_a_meaningful_unnamed_index_and_other_markup_are_left_alone():
    frame = pd.DataFrame({"separation": [0.9]}, index=["bill_length_mm"])
    html = frame._repr_html_()
    assert tidy(html) == html
    page = "<p>0</p><table><tr><th></th><td>1</td></tr></table>"
    assert tidy(page) == page
