"""Unit tests of tools/bench_scale.py: sizes, and the synthetic table's shape."""

import numpy as np
import pyarrow.csv as pacsv

from tools import bench_scale


def test_parse_rows():
    assert bench_scale.parse_rows("1e5, 1e6,") == [100_000, 1_000_000]


def test_synthetic_table_has_the_benchmark_shape(tmp_path):
    path = bench_scale.dataset(2_000, tmp_path)
    table = pacsv.read_csv(path).to_pandas()
    assert table.shape == (2_000, bench_scale.N_FLOATS + len(bench_scale.CATEGORIES) + 1)
    assert set(table[bench_scale.TARGET]) == set(bench_scale.CLASSES)
    missing = table.filter(like="x").isna().to_numpy().mean()
    assert 0.01 < missing < 0.03
    assert bench_scale.dataset(2_000, tmp_path) == path  # cached: generated once
    again = pacsv.read_csv(path).to_pandas()
    assert np.array_equal(again["x00"].fillna(0), table["x00"].fillna(0))
