"""Batch scoring of CSV and Parquet files, in chunks, with the same checks as /predict."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from nbml.errors import ScoringError
from nbml.project import paths
from nbml.serving.scoring import score_file
from nbml.steps.model import load_model


@pytest.fixture(scope="module")
def frame(trained):
    test = pd.read_parquet(paths(trained).test)
    big = pd.concat([test] * 3, ignore_index=True)  # 258 rows; chunks of 50
    big.loc[5, "sex"] = None
    big.loc[7, "body_mass_g"] = np.nan
    return big


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_a_file_larger_than_the_chunk_is_scored_like_the_model(trained, frame, tmp_path, suffix,
                                                               capfd):
    source, out = tmp_path / f"in{suffix}", tmp_path / f"out{suffix}"
    if suffix == ".csv":
        frame.to_csv(source, index=False)
    else:
        frame.to_parquet(source, index=False)
    assert score_file(trained, source, out, chunk_rows=50) == len(frame)
    scored = pd.read_csv(out) if suffix == ".csv" else pd.read_parquet(out)
    fitted = load_model(paths(trained).model)
    X = frame.drop(columns=["species"])
    assert list(scored["label"]) == list(fitted.predict(X))
    proba = scored[[f"proba_{c}" for c in fitted.classes_]].to_numpy()
    assert np.array_equal(proba, fitted.predict_proba(X))
    progress = capfd.readouterr().err
    assert "score: 50 rows scored" in progress and f"score: {len(frame)} rows scored" in progress


def test_text_in_a_numeric_column_names_row_and_column(trained, frame, tmp_path):
    bad = frame.astype({"bill_depth_mm": object})
    bad.loc[123, "bill_depth_mm"] = "deep"
    source = tmp_path / "bad.csv"
    bad.to_csv(source, index=False)
    with pytest.raises(ScoringError, match=r"row 123, column 'bill_depth_mm': expected number"):
        score_file(trained, source, tmp_path / "out.csv", chunk_rows=50)


def test_an_infinite_number_names_row_and_column(trained, frame, tmp_path):
    # the pipeline's imputer raised "Input X contains infinity" with a traceback
    bad = frame.copy()
    bad.loc[130, "bill_depth_mm"] = np.inf
    source = tmp_path / "inf.csv"
    bad.to_csv(source, index=False)
    expected = r"row 130, column 'bill_depth_mm': expected number \(finite: training refuses inf"
    with pytest.raises(ScoringError, match=expected):
        score_file(trained, source, tmp_path / "out.csv", chunk_rows=50)


def test_missing_and_unknown_columns_are_named(trained, frame, tmp_path):
    source = tmp_path / "cols.parquet"
    frame.drop(columns=["year"]).assign(wings=2).to_parquet(source)
    with pytest.raises(ScoringError, match=r"missing column\(s\) year; unknown column\(s\) wings"):
        score_file(trained, source, tmp_path / "out.parquet")
