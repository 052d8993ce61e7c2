"""Unit tests of nbml.steps.eda on tiny in-memory frames."""

import numpy as np
import pandas as pd
import pytest

from nbml.steps import eda, feature_types


def test_class_separation_ranks_columns_by_how_far_apart_classes_sit():
    label = np.repeat(["a", "b"], 4)
    df = pd.DataFrame(
        {
            "apart": [1.0, 1, 1, 1, 5, 5, 5, 5],  # each class one value: all variance between
            "same": [1.0, 2, 3, 4, 1, 2, 3, 4],  # equal class means: none between
            "constant": 7.0,
            "half": [0.0, 2, 0, 2, 2, 4, 2, 4],  # means 1 and 3, spread 1 within each
            "label": label,
        }
    )
    df.loc[0, "half"] = np.nan  # ignored, not counted as zero
    shares = eda.class_separation(df, "label", ["same", "constant", "half", "apart"])
    assert list(shares.index) == ["apart", "half", "same", "constant"]
    assert shares["apart"] == pytest.approx(1.0)
    assert shares["same"] == pytest.approx(0.0)
    assert shares["constant"] == 0.0
    assert 0.0 < shares["half"] < 1.0

    table = eda.numeric_by_class(df, "label", ["same", "apart"])
    assert list(table.index) == ["apart", "same"]
    assert list(table.columns) == ["a", "b", "separation"]
    assert table.loc["apart", "b"] == "5.0 ± 0.0"


def test_the_kinds_use_the_overview_counts_and_agree_with_their_own(frame):
    summary = eda.overview(frame, "label")
    counted = eda.distinct_counts(summary)
    assert counted["colour"] == 2 and counted["constant"] == 1
    assert summary.set_index("column").loc["colour", "example"] == frame["colour"].dropna().iloc[0]
    own = feature_types.infer_feature_types(frame, "label")
    given = feature_types.infer_feature_types(frame, "label", distinct=counted)
    assert given.to_dict() == own.to_dict()
    # the counts given are the ones used: none is counted again
    told = feature_types.infer_feature_types(frame, "label", distinct={**counted, "size": 1})
    assert "size" in told.dropped


def test_target_by_level_orders_columns_by_how_much_the_target_differs_between_levels():
    df = pd.DataFrame(
        {
            # the target is 10 in level a, 20 in level b: all its variance between levels
            "apart": ["a", "a", "b", "b", "a", "a", "b", "b"],
            # mean 15 in both levels: none between
            "same": ["x", "y", "x", "y", "x", "y", "x", "y"],
            "sparse": ["p", None, "p", None, "p", "q", "p", "p"],
            "y": [10.0, 10, 20, 20, 10, 10, 20, 20],
        }
    )
    table = eda.target_by_level(df, "y", ["same", "sparse", "apart"], max_levels=2)
    assert list(dict.fromkeys(table["column"])) == ["apart", "sparse", "same"]
    apart = table[table["column"] == "apart"].set_index("level")
    assert apart.loc["a", "median"] == 10.0 and apart.loc["b", "95%"] == 20.0
    assert apart.loc["b", "rows"] == 4 and apart.loc["b", "mean"] == 20.0
    assert apart["separation"].iloc[0] == pytest.approx(1.0)
    same = table[table["column"] == "same"]
    assert same["separation"].iloc[0] == pytest.approx(0.0)
    # a missing value is a level of its own; max_levels keeps the most frequent two, in order
    sparse = table[table["column"] == "sparse"].set_index("level")
    assert list(sparse.index) == ["p", eda.MISSING_LEVEL]
    assert sparse.loc["p", "rows"] == 5
    assert list(table.columns) == ["column", "level", "rows", "mean", *eda.LEVEL_QUANTILES,
                                   "separation"]  # fmt: skip


def test_target_by_level_leaves_out_unlabelled_rows_and_has_columns_without_any():
    df = pd.DataFrame({"c": ["a", "a", "b"], "y": [1.0, np.nan, 3.0]})
    table = eda.target_by_level(df, "y", ["c"])
    assert table.set_index("level")["rows"].to_dict() == {"a": 1, "b": 1}
    empty = eda.target_by_level(df, "y", [])
    assert empty.empty and "separation" in empty.columns


def test_over_time_picks_the_finest_period_that_keeps_the_table_bounded():
    hours = pd.date_range("2024-01-01", periods=24 * 400, freq="h")  # 400 days of stamps
    df = pd.DataFrame({"when": hours.strftime("%d/%m/%Y %H:%M"), "y": np.arange(len(hours)) % 7})
    df.loc[3, "when"] = "not a date"
    found = eda.over_time(df, "y", "when", "%d/%m/%Y %H:%M", classification=False)
    # hourly (9,600) and daily (400) are over 60 periods, weekly (58) fits
    assert found.period == "weekly" and len(found.table) <= eda.MAX_PERIODS
    assert found.table["rows"].sum() == len(df) - 1 and found.unparsed == 1
    assert list(found.table.columns) == ["rows", "mean", "median"]
    said = found.describe()
    assert "2024-01-01 to 2025-02-03, weekly" in said and "1 value(s)" in said
    first = df.iloc[:168].drop(index=3)  # the first week's rows (a Monday), the bad one left out
    assert found.table["rows"].iloc[0] == 167
    assert found.table["mean"].iloc[0] == pytest.approx(first["y"].mean(), abs=1e-4)


def test_over_time_gives_class_shares_per_period_the_rare_classes_pooled():
    days = pd.date_range("2020-01-01", periods=24, freq="MS")
    labels = [f"c{i % 12}" for i in range(24)]
    df = pd.DataFrame({"day": days.strftime("%Y-%m-%dT00:00:00+02:00"), "label": labels})
    found = eda.over_time(df, "label", "day", "%Y-%m-%dT%H:%M:%S%z", classification=True)
    assert found.period == "monthly" and len(found.table) == 24
    shares = found.table.drop(columns="rows")
    assert len(shares.columns) == eda.MAX_CLASSES_OVER_TIME + 1
    assert shares.columns[-1] == eda.OTHER_CLASSES
    assert np.allclose(shares.sum(axis=1), 1.0)
    # offsets are taken to UTC: midnight at +02:00 is 22:00 the day before
    assert found.table.index[0] == pd.Timestamp("2019-12-01")
