"""Unit tests of nbml.steps.slices: regression error by target quantile, the weakest slice."""

import numpy as np
import pandas as pd
import pytest

from nbml.steps import slices


@pytest.fixture
def scored():
    actual = np.arange(1.0, 9.0)  # 1..8: quartiles of two rows each
    predicted = actual.copy()
    predicted[6:] += [3.0, -5.0]  # the top quartile (7, 8) is predicted badly
    predicted[0] += 1.0
    return actual, predicted


def test_one_row_per_quartile_with_range_rows_and_errors(scored):
    table = slices.error_by_quantile(*scored)
    assert list(table.columns) == slices.COLUMNS
    assert list(table["slice"]) == ["q1", "q2", "q3", "q4"]
    assert list(table["rows"]) == [2, 2, 2, 2]
    top = table.iloc[3]
    assert (top["low"], top["high"]) == (pytest.approx(6.25), 8.0)
    assert top["mae"] == pytest.approx(4.0) and top["rmse"] == pytest.approx(np.sqrt(17))
    assert table.iloc[0]["mae"] == pytest.approx(0.5) and table.iloc[1]["mae"] == 0.0


def test_the_table_stays_bounded_and_merges_repeated_values():
    rng = np.random.default_rng(0)
    many = slices.error_by_quantile(rng.normal(size=100_000), np.zeros(100_000))
    assert len(many) == slices.BINS and many["rows"].sum() == 100_000
    # quartile edges 1, 1, 1, 2, 6: three repeated edges leave two slices
    few = slices.error_by_quantile([1.0] * 6 + [5.0, 6.0, np.nan], [1.0] * 9)
    assert list(few["rows"]) == [6, 2]  # the row without an actual value is left out
    assert list(few["high"]) == [2.0, 6.0]


def test_the_weakest_slice_is_named_in_a_sentence(scored):
    table = slices.error_by_quantile(*scored)
    sentence = slices.weakest_sentence(table, "price")
    expected = "Largest errors where price is above 6.25: mae 4.00 (rmse 4.12, 2 test rows)."
    assert sentence == expected
    first = table.copy()
    first.loc[0, "mae"] = 9.0
    assert "where price is at most 2.75: mae 9.00" in slices.weakest_sentence(first, "price")
    middle = table.copy()
    middle.loc[1, "mae"] = 9.0
    assert "where price is above 2.75 and at most 4.50" in slices.weakest_sentence(middle, "price")


def test_metrics_file_round_trip_and_readable_table(scored):
    table = slices.error_by_quantile(*scored)
    tree = slices.as_metrics(table)
    assert tree["q4"] == {"low": 6.25, "high": 8.0, "rows": 2, "mae": 4.0, "rmse": 4.123106}
    back = slices.from_metrics(tree)
    pd.testing.assert_frame_equal(back, table, check_dtype=False)
    shown = slices.readable(back, "price")
    assert list(shown.columns) == ["test rows where", "rows", "mae", "rmse"]
    assert shown.iloc[0]["test rows where"] == "price is at most 2.75"
    assert shown.iloc[3]["mae"] == "4.00"
