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
