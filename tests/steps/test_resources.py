"""The memory guard before a big load, and the threads a stage may use."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nbml.errors import MemoryLimitError
from nbml.steps import data, resources

RAW = "data/raw"


@pytest.fixture
def big_csv(tmp_path: Path) -> str:
    """A 20,000-row CSV (about 1 MB on disk) under the raw folder."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(20_000, 5)), columns=list("abcde")).round(4)
    frame["label"] = np.where(frame["a"] > 0, "yes", "no")
    (tmp_path / RAW).mkdir(parents=True)
    frame.to_csv(tmp_path / RAW / "big.csv", index=False)
    frame.to_parquet(tmp_path / RAW / "big.parquet", index=False)
    return f"{RAW}/big.csv"


def _refuse_to_read(*args, **kwargs):
    raise AssertionError("the table was loaded although it does not fit")


def _refusal(root, monkeypatch, name: str, **load) -> str:
    """The guard's message for the big table under a 200 KB limit; it must load nothing."""
    monkeypatch.setenv(resources.LIMIT_VARIABLE, "200K")
    monkeypatch.setattr(data, "read_csv", _refuse_to_read)
    monkeypatch.setattr(data.pd, "read_parquet", _refuse_to_read)
    with pytest.raises(MemoryLimitError) as info:
        data.load_source(f"{RAW}/{name}", root=root, raw_dir=RAW, **load)
    return str(info.value)


@pytest.mark.parametrize("name", ["big.csv", "big.parquet"])
def test_guard_refuses_before_loading_naming_file_estimate_and_fixes(
    tmp_path, big_csv, monkeypatch, name
):
    text = _refusal(tmp_path, monkeypatch, name)
    assert f"{name}: not loaded: it would need about" in text
    assert "rows x 6 columns" in text
    assert "but 0.2 MB is available (NBML_MEMORY_LIMIT)" in text
    assert "prepare.sample" in text


@pytest.mark.parametrize("name", ["big.csv", "big.parquet"])
def test_with_prepare_sample_set_the_guard_does_not_advise_setting_it(
    tmp_path, big_csv, monkeypatch, name
):
    text = _refusal(tmp_path, monkeypatch, name, sample=2000)
    assert "but 0.2 MB is available (NBML_MEMORY_LIMIT). params.yaml prepare.sample is " in text
    assert "already set (2000), and the file is still read whole" in text
    assert "set params.yaml prepare.sample" not in text and "Dask cluster" in text


def test_estimate_is_close_to_the_loaded_table(tmp_path, big_csv):
    path = tmp_path / big_csv
    estimate = data.csv_estimate(path, data.sniff_csv(path), sample=None)
    loaded = pd.read_csv(path)
    assert estimate.rows == pytest.approx(len(loaded), rel=0.05)
    assert estimate.table_bytes == pytest.approx(loaded.memory_usage(deep=True).sum(), rel=0.1)
    split = estimate.rows * resources.SPLIT_ROW_BYTES
    work = estimate.table_bytes * resources.PREPARE_FACTOR + split
    assert estimate.needed_bytes == int(work)
    # a sample is a copy next to the table: a big one costs more than none
    half = data.csv_estimate(path, data.sniff_csv(path), sample=0.5)
    assert half.needed_bytes == int(
        estimate.table_bytes * (1 + resources.PREPARE_FACTOR / 2) + split
    )
    # a small one keeps the table and the split's arrays over every row (the sample is
    # drawn by a stratified split), no more
    small = data.csv_estimate(path, data.sniff_csv(path), sample=0.01)
    assert small.needed_bytes == int(
        estimate.table_bytes * (1 + resources.PREPARE_FACTOR / 100) + split
    )


def test_the_factors_are_what_reading_and_splitting_take(tmp_path, big_csv, monkeypatch):
    """The multipliers against the stage's own work, as numpy and Python allocate it."""
    # lazy: tracemalloc slows every allocation; only this test needs it
    import tracemalloc

    path = tmp_path / big_csv
    dialect = data.sniff_csv(path)  # reads a sample of the file's bytes
    table = data.csv_estimate(path, dialect, sample=None).table_bytes
    monkeypatch.setattr(data, "read_chunk_rows", lambda columns: 1_000)
    monkeypatch.setattr(data, "PARQUET_GROUP_ROWS", 1_000)
    tracemalloc.start()
    try:
        df = data.read_csv(path, None, dialect)
        _, read_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        train, test = data.split_rows(df, "label", 0.25, 42)
        data.write_parquet(train, tmp_path / "train.parquet")
        data.write_parquet(test, tmp_path / "test.parquet")
        _, split_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert read_peak < table * resources.CSV_READ_FACTOR
    assert split_peak < table * resources.PREPARE_FACTOR + len(df) * resources.SPLIT_ROW_BYTES


def test_guard_lets_a_table_that_fits_load(tmp_path, big_csv, monkeypatch):
    monkeypatch.setenv(resources.LIMIT_VARIABLE, "2G")
    assert len(data.load_source(big_csv, root=tmp_path, raw_dir=RAW)) == 20_000


@pytest.mark.parametrize(("text", "size"), [("512M", 512 * 2**20), ("2G", 2 * 2**30), ("100", 100)])
def test_parse_size(text, size):
    assert resources.parse_size(text) == size


def test_bad_limit_is_named():
    with pytest.raises(MemoryLimitError, match="NBML_MEMORY_LIMIT='lots'"):
        resources.parse_size("lots")


def test_stage_threads_follow_the_runner(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert resources.stage_threads() == 3
    monkeypatch.setenv("OMP_NUM_THREADS", "junk")
    assert resources.stage_threads() >= 1
