"""Reading a CSV file in bounded pieces, and writing a split a row group at a time.

Each test compares with what prepare did before: one whole ``pd.read_csv`` in
the same dialect, ``train_test_split`` of the frame, ``to_parquet`` of each half.
"""

from __future__ import annotations

import io
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nbml.errors import DataError
from nbml.steps import data, validate

# Small files of every kind the data tests use: delimiters, decimal commas,
# encodings (with and without a byte-order mark), missing values, quoted fields
# holding delimiters and line breaks, dates (kept as text), spaces after the
# delimiter, booleans with and without gaps, integers next to decimals.
KINDS = {
    "comma": ("a,b,label\n1.5,2,x\n3.25,4,y\n,6,x\n7.5,,y\n9,10,x\n11.5,12,y\n", "utf-8"),
    "semicolon, decimal comma": ("a;b;label\n1,5;2;x\n3,25;4;y\n;6;x\n7,5;8;y\n9,0;1;x\n", "utf-8"),
    "tab": ("a\tb\tlabel\n1,5\t2\tx\n3,25\t4\ty\n5,5\t6\tx\n7,5\t8\ty\n", "utf-8"),
    "pipe": ("a|b|label\n1.5|2|x\n3.25|4|y\n5.5|6|x\n7.5|8|y\n9.5|10|x\n", "utf-8"),
    "cp1252": ("name;mass;label\nCafé;3,5;é\nNaïve;4,5;è\nÜber;5,5;é\nØre;6,5;è\n", "cp1252"),
    "utf-8 with BOM": ("ä,b,label\nö,1,x\nü,2,y\nß,3,x\né,4,y\n", "utf-8-sig"),
    "utf-16": ("a,b,label\n1.5,ü,x\n2.5,é,y\n3.5,ö,x\n4.5,ä,y\n", "utf-16"),
    "missing markers": ("a,b,label\n1,NA,x\nnull,2.5,y\n3,,x\n,N/A,y\nNaN,5,x\n6,7,y\n", "utf-8"),
    "quoted": (
        'a,note,label\n1,"x, y",p\n2,"two\nlines",q\n3,"say ""hi""",p\n4,"",q\n5,plain,p\n',
        "utf-8",
    ),
    "dates": (
        "day,stamp,label\n2024-01-05,2024-01-05 10:00,x\n2024-02-05,2024-02-05 11:30,y\n"
        "2024-03-05,,x\n2024-04-05,2024-04-05 09:15,y\n2024-05-05,2024-05-05 08:00,x\n",
        "utf-8",
    ),
    "spaces after the delimiter": (
        "a; b; label\n1; Torgersen; x\n2; Biscoe; y\n3; Dream; x\n",
        "utf-8",
    ),
    "booleans": ("f,g,label\nTrue,True,x\nFalse,,y\nTrue,False,x\nFalse,True,y\n", "utf-8"),
    "integers, then decimals": ("a,b,label\n1,1,x\n2,2,y\n3,3.5,x\n4,4.25,y\n5,5,x\n", "utf-8"),
    "header only": ("a,b,label\n", "utf-8"),
}


def _whole_read(path: Path, dialect: data.CsvDialect) -> pd.DataFrame:
    """How prepare read a file before: one pd.read_csv, names stripped."""
    frame = pd.read_csv(
        path,
        sep=dialect.delimiter,
        encoding=dialect.encoding,
        decimal=dialect.decimal,
        skipinitialspace=True,
    )
    frame.columns = [c.strip() for c in frame.columns]
    return frame


@pytest.mark.parametrize("kind", KINDS)
def test_pieces_give_the_frame_of_a_whole_read(tmp_path, monkeypatch, kind):
    text, encoding = KINDS[kind]
    path = tmp_path / "t.csv"
    path.write_bytes(text.encode(encoding))
    dialect = data.sniff_csv(path)
    # two rows a piece: every file here is read in several pieces
    monkeypatch.setattr(data, "read_chunk_rows", lambda columns: 2)
    got = data.read_csv(path, None, dialect)
    expected = _whole_read(path, dialect)
    pd.testing.assert_frame_equal(got, expected, check_exact=True)
    assert list(got.dtypes) == list(expected.dtypes)
    assert got.attrs["dialect"] == dialect.describe()


def _mixed_table(width: int, rows: int) -> bytes:
    """A table whose first column turns to text at one row, and whose 'note' column is
    empty for a stretch: the parser's pieces around them infer other types."""
    rng = np.random.default_rng(1)
    frame = pd.DataFrame(
        rng.integers(0, 9, (rows, width - 2)), columns=[f"c{i}" for i in range(width - 2)]
    )
    frame.insert(0, "note", np.where(np.arange(rows) % 3 == 0, "yes", "no"))
    frame.loc[16_000:, "note"] = None  # the whole of the parser's last piece
    frame["c0"] = frame["c0"].astype(object)
    frame.loc[10_001, "c0"] = "unknown"
    frame["label"] = rng.choice(["p", "q"], rows)
    return frame.to_csv(index=False).encode()


def test_pieces_line_up_with_the_parsers_own(tmp_path, monkeypatch):
    # each of the C parser's pieces infers its column types on its own; pieces of
    # a multiple of its size keep a mixed column's values what a whole read makes them
    path = tmp_path / "mixed.csv"
    path.write_bytes(_mixed_table(100, 24_000))
    assert path.stat().st_size < 5 * 2**20  # a whole read of it is pandas' serial one
    monkeypatch.setattr(data, "READ_CHUNK_CELLS", 1)
    assert data.read_chunk_rows(100) == data.parser_chunk_rows(100) == 8192
    dialect = data.sniff_csv(path)
    with pytest.warns(pd.errors.DtypeWarning):
        expected = _whole_read(path, dialect)
    got = data.read_csv(path, None, dialect)
    pd.testing.assert_frame_equal(got, expected, check_exact=True)
    # where a whole read's types change is where its pieces start and end
    text = expected["c0"].map(lambda v: isinstance(v, str)).to_numpy()
    assert np.flatnonzero(text)[[0, -1]].tolist() == [8_192, 16_383]


@pytest.mark.parametrize("width", [1, 24, 100])
def test_the_parsers_piece_size_is_pandas_own(width):
    # a text value in one row turns the whole piece holding it into text in a whole read
    rows = 2 * data.parser_chunk_rows(width) + 10
    lines = ["1" + ",0" * (width - 1)] * rows
    lines[rows // 2] = "x" + ",0" * (width - 1)
    header = ",".join(f"c{i}" for i in range(width))
    with pytest.warns(pd.errors.DtypeWarning):
        frame = pd.read_csv(io.StringIO(header + "\n" + "\n".join(lines) + "\n"))
    text = np.flatnonzero(frame["c0"].map(lambda v: isinstance(v, str)).to_numpy())
    assert text[-1] + 1 - text[0] == data.parser_chunk_rows(width)


def test_a_bad_line_is_reported_as_a_whole_read_reports_it(tmp_path, monkeypatch):
    path = tmp_path / "bad.csv"
    path.write_text("a,b,label\n" + "1,2,x\n" * 6 + "1,2,x,extra\n" + "3,4,y\n" * 3)
    dialect = data.sniff_csv(path)
    with pytest.raises(pd.errors.ParserError) as whole:
        _whole_read(path, dialect)
    monkeypatch.setattr(data, "read_chunk_rows", lambda columns: 2)
    with pytest.raises(DataError) as pieces:
        data.read_csv(path, None, dialect)
    assert pieces.value.problems == [
        f"cannot be read as CSV with {dialect.describe()}: {whole.value}"
    ]
    assert "line 8" in str(whole.value)


def test_reading_says_how_far_it_got(tmp_path, monkeypatch, capsys):
    path = tmp_path / "long.csv"
    path.write_text("a,label\n" + "1.5,x\n2.5,y\n" * 50)
    monkeypatch.setattr(data, "read_chunk_rows", lambda columns: 8)
    monkeypatch.setattr(data, "READ_PROGRESS_CELLS", 60)  # 30 rows of 2 columns
    assert len(data.read_csv(path)) == 100
    lines = [line for line in capsys.readouterr().err.splitlines() if "so far" in line]
    # after the pieces that cross 30, 60 and 90 rows: counted in rows, so every run says the same
    assert lines == [f"nbml progress: reading long.csv: {n} rows so far" for n in (32, 64, 96)]


def _numeric_csv(path: Path, rows: int, columns: int) -> int:
    """A CSV of floats; returns the bytes its values take in memory."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(rows, columns)).round(3))
    frame.columns = [f"x{i}" for i in range(columns)]
    frame["label"] = np.where(frame["x0"] > 0, 1, 0)
    frame.to_csv(path, index=False)
    return int(frame.memory_usage(index=False).sum())


def _traced_peak(work) -> int:
    """The most memory numpy and Python held at once during ``work``, over what came before."""
    tracemalloc.start()
    try:
        result = work()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    del result
    return peak


def test_reading_holds_the_table_and_one_piece(tmp_path, monkeypatch):
    path = tmp_path / "numbers.csv"
    table = _numeric_csv(path, 150_000, 15)  # 18 MB of numbers
    monkeypatch.setattr(data, "read_chunk_rows", lambda columns: 5_000)  # 30 pieces
    peak = _traced_peak(lambda: data.read_csv(path))
    # a whole read holds every piece's columns next to the frame: twice the table
    assert peak < 1.25 * table, f"{peak / 2**20:.1f} MB traced for a {table / 2**20:.1f} MB table"


def test_split_rows_are_the_rows_of_the_split(frame):
    train, test = data.split_rows(frame, "label", 0.25, seed=3)
    old_train, old_test = data.split(frame, "label", 0.25, seed=3)
    pd.testing.assert_frame_equal(train.to_frame(), old_train)
    pd.testing.assert_frame_equal(test.to_frame(), old_test)
    assert len(train) == 45 and set(test.column("label").value_counts()) == {5}
    summary = data.split_summary(train, test, "label", "classification")
    assert summary.equals(data.split_summary(old_train, old_test, "label", "classification"))


def _table(rows: int, floats: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(2)
    frame = pd.DataFrame(
        {
            **{f"a{i}": rng.normal(size=rows) for i in range(floats)},
            "n": rng.integers(0, 5, rows),
            "c": pd.array(rng.choice(["x", "y", "z"], rows), dtype="str"),
            "label": pd.array(rng.choice(["p", "q"], rows), dtype="str"),
        }
    )
    frame.loc[::7, "a0"] = np.nan
    frame.attrs["source"] = "generated (delimiter ',')"
    return frame


def test_row_groups_write_the_bytes_to_parquet_writes(tmp_path):
    # 1.1 million rows: two row groups of pyarrow's default size
    rows = data.PARQUET_GROUP_ROWS + 100_000
    labelled = validate.validate_source(_table(rows), "t", "label", 0.25, 2)
    train, _ = data.split_rows(labelled, "label", 0.25, seed=42)
    data.write_parquet(train, tmp_path / "groups.parquet")
    train.to_frame().to_parquet(tmp_path / "whole.parquet", index=False)
    assert (tmp_path / "groups.parquet").read_bytes() == (tmp_path / "whole.parquet").read_bytes()


def test_a_table_with_object_columns_is_written_whole(tmp_path, frame):
    # booleans with gaps are objects: pyarrow infers their type from every value
    frame["flag"] = pd.Series([True, False, None] * 20, dtype=object)
    train, _ = data.split_rows(frame, "label", 0.25, seed=3)
    data.write_parquet(train, tmp_path / "rows.parquet")
    train.to_frame().to_parquet(tmp_path / "frame.parquet", index=False)
    assert (tmp_path / "rows.parquet").read_bytes() == (tmp_path / "frame.parquet").read_bytes()


def test_splitting_and_writing_hold_a_row_group_not_the_halves(tmp_path, monkeypatch):
    labelled = _table(200_000, floats=20)
    numbers = int(labelled.select_dtypes("number").memory_usage(index=False).sum())  # 34 MB
    monkeypatch.setattr(data, "PARQUET_GROUP_ROWS", 20_000)

    def split_and_write() -> None:
        train, test = data.split_rows(labelled, "label", 0.25, seed=42)
        data.write_parquet(train, tmp_path / "train.parquet")
        data.write_parquet(test, tmp_path / "test.parquet")

    peak = _traced_peak(split_and_write)
    # taking both halves out of the table copies all its numbers, and the split's own
    # arrays (strata, permutations: about 80 bytes a row) come on top
    assert peak < 0.75 * numbers, f"{peak / 2**20:.1f} MB traced, numbers {numbers / 2**20:.1f} MB"
    back = pd.read_parquet(tmp_path / "train.parquet")
    expected, _ = data.split(labelled, "label", 0.25, seed=42)
    pd.testing.assert_frame_equal(back, expected)
