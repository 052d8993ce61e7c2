"""Bad input data: every problem named (source, column, expected, found), all at once."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from nbml.steps import validate
from nbml.steps.data import DataError, load_source
from nbml.steps.feature_types import infer_feature_types
from nbml.steps.features import build_preprocessor
from nbml.steps.model import compose, load_model, make_estimator, save_model


@pytest.fixture(scope="module")
def penguins() -> pd.DataFrame:
    return load_source("penguins")


def problems_of(df: pd.DataFrame, **kw) -> DataError:
    args = dict(source="my.csv", target="species", test_size=0.25, min_rows_per_class=10)
    args.update(kw)
    before = df.copy()
    with pytest.raises(DataError) as info:
        validate.validate_source(df, **args)
    pd.testing.assert_frame_equal(df, before)  # the raw data is never modified
    return info.value


def test_valid_bundled_data_passes_unchanged(penguins):
    labelled = validate.validate_source(penguins, "penguins", "species", 0.25, 10)
    pd.testing.assert_frame_equal(labelled, penguins[penguins["species"].notna()])


def load_raw(root, name: str) -> pd.DataFrame:
    """Load data/raw/NAME the way the prepare notebook does."""
    return load_source(f"data/raw/{name}", root=root, raw_dir="data/raw")


@pytest.fixture
def raw(tmp_path):
    (tmp_path / "data/raw").mkdir(parents=True)
    return tmp_path


def test_missing_file(raw):
    with pytest.raises(DataError) as err:
        load_raw(raw, "nope.csv")
    assert str(err.value).startswith(
        "params.yaml data.source: 1 problem(s):\n  - 'data/raw/nope.csv' does not exist; "
        "after a fresh clone run `dvc pull`"
    )


def test_empty_file(raw):
    (raw / "data/raw/empty.csv").write_text("")
    with pytest.raises(DataError, match=r"(?s)empty\.csv: .*the file is empty \(0 bytes\)"):
        load_raw(raw, "empty.csv")
    (raw / "data/raw/blank.csv").write_text("\n\n")
    with pytest.raises(DataError, match=r"(?s)blank\.csv: .*the file holds no columns"):
        load_raw(raw, "blank.csv")


def test_a_file_cut_short_in_its_last_row_is_refused(raw):
    rows = "".join(f"{i},{i * 1.5},{'x' if i % 2 else 'y'}\n" for i in range(40))
    whole = "label,size,kind\n" + rows
    (raw / "data/raw/cut.csv").write_text(whole + "1,45.8")  # the copy stopped mid-row
    with pytest.raises(DataError) as err:
        load_raw(raw, "cut.csv")
    assert str(err.value).startswith(f"{raw / 'data/raw/cut.csv'}: 1 problem(s):")
    assert (
        "the last line has 2 of the header's 3 fields and the file ends without a line break "
        "('1,45.8'): it looks cut short" in str(err.value)
    )
    # a whole last line without a line break, or with a quoted value over two lines, is fine
    (raw / "data/raw/whole.csv").write_text(whole + "1,45.8,x")
    assert len(load_raw(raw, "whole.csv")) == 41
    (raw / "data/raw/quoted.csv").write_text(whole + '1,2.5,"two\nlines"')
    assert load_raw(raw, "quoted.csv")["kind"].iloc[-1] == "two\nlines"


def test_header_only_file(raw):
    (raw / "data/raw/header.csv").write_text("a,b,species\n")
    err = problems_of(load_raw(raw, "header.csv"))
    assert "no rows: only a header was found (columns: a, b, species)" in str(err)


def test_unreadable_or_wrong_format(raw):
    fake = raw / "data/raw/data.parquet"
    fake.write_text("a,b\n1,2\n")  # CSV text under a Parquet name
    with pytest.raises(DataError, match=r"(?s)data\.parquet: .*cannot be read as Parquet: .*magic"):
        load_raw(raw, "data.parquet")
    binary = raw / "data/raw/data.csv"
    binary.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(DataError, match=r"(?s)data\.csv: .*not a CSV text file: it holds NUL"):
        load_raw(raw, "data.csv")
    (raw / "data/raw/data.xlsx").write_bytes(b"PK")
    with pytest.raises(DataError, match=r"'data/raw/data\.xlsx': unsupported file type \(expected"):
        load_raw(raw, "data.xlsx")
    assert fake.read_text() == "a,b\n1,2\n"  # left as it was


def test_missing_target_column(penguins):
    err = problems_of(penguins, target="specie")
    assert "target column 'specie' (params.yaml data.target) not found" in str(err)
    assert "columns are: species, island" in str(err)


def test_single_class_target(penguins):
    df = penguins.assign(species="Adelie")
    err = problems_of(df)
    assert "target 'species' needs at least 2 classes" in str(err)
    assert "found: Adelie" in str(err)


def test_class_too_small_for_stratified_split(penguins):
    df = penguins.copy()
    df.loc[:3, "species"] = "Rare"
    err = problems_of(df)
    assert "class 'Rare' of target 'species' has 4 row(s); at least 10 are needed" in str(err)


def test_too_few_test_rows_for_split(penguins):
    err = problems_of(
        penguins.head(60).assign(species=["a", "b", "c"] * 20), test_size=0.02, min_rows_per_class=2
    )
    assert "prepare.test_size=0.02 gives 1 test rows for 3 classes" in str(err)


def test_entirely_empty_column(penguins):
    err = problems_of(penguins.assign(notes=np.nan))
    assert "column 'notes': entirely empty (344 rows, no value)" in str(err)


def test_empty_column_listed_in_drop_is_accepted(penguins):
    validate.validate_source(
        penguins.assign(notes=np.nan), "x", "species", 0.25, 10, drop=["notes"]
    )


def test_a_misspelt_data_drop_name_is_named_with_the_column_it_meant(penguins):
    # the empty column the user meant to drop is still refused, and the typo is told beside it
    err = problems_of(penguins.assign(notes=np.nan), drop=["note"])
    assert "column 'notes': entirely empty" in str(err)
    assert (
        "params.yaml data.drop names column 'note', which the data does not have "
        "(did you mean 'notes'?); columns: species, island, bill_length_mm" in str(err)
    )
    assert str(err).startswith("data.source=my.csv: 2 problem(s):")


def test_infinite_values_are_named_with_their_column_and_rows(penguins):
    df = penguins.copy()
    df.loc[[3, 8], "bill_length_mm"] = [np.inf, -np.inf]
    err = problems_of(df)
    assert (
        "column 'bill_length_mm': infinite values: 2 inf or -inf (rows 3, 8), which no model "
        "can use" in str(err)
    )


def test_infinite_values_read_from_csv_text_are_named(raw):
    path = raw / "data/raw/ratio.csv"
    rows = [f"{i % 2},{'inf' if i == 7 else i / 3}" for i in range(40)]
    path.write_text("label,ratio\n" + "\n".join(rows) + "\n")
    err = problems_of(load_raw(raw, "ratio.csv"), target="label", min_rows_per_class=2)
    assert "column 'ratio': infinite values: 1 inf or -inf (row 7)" in str(err)


def test_duplicated_column_names(penguins):
    df = pd.concat([penguins, penguins[["island"]]], axis=1)
    err = problems_of(df)
    assert "column name 'island' appears 2 times (columns 2, 9)" in str(err)


def test_mixed_types_in_a_column(penguins):
    df = penguins.copy()
    df["bill_length_mm"] = df["bill_length_mm"].astype(object)
    df.loc[[5, 7], "bill_length_mm"] = ["n/a", "long"]
    err = problems_of(df)
    assert "column 'bill_length_mm': mixed types: expected only number values" in str(err)
    assert "'n/a', 'long' (rows 5, 7)" in str(err)
    assert "prepare.schema" in str(err)


def test_mixed_types_from_csv_text(raw):
    path = raw / "data/raw/mixed.csv"
    rows = [f"{i % 2},{i * 1.5},{'x' if i % 2 else 'y'}" for i in range(40)]
    rows[3] = "1,about five,x"
    path.write_text("label,size,kind\n" + "\n".join(rows) + "\n")
    err = problems_of(load_raw(raw, "mixed.csv"), target="label", min_rows_per_class=2)
    assert "column 'size': mixed types" in str(err) and "'about five' (row 3)" in str(err)


def test_declared_type_overrides_inference(penguins):
    df = penguins.copy()
    df["year"] = df["year"].astype(str)
    df.loc[2, "year"] = "twenty"
    err = problems_of(df, schema={"year": "int"})
    assert "column 'year': expected int values (params.yaml prepare.schema)" in str(err)
    assert "'twenty' (row 2)" in str(err)
    # declaring a mixed column as text accepts it
    mixed = penguins.assign(island=penguins["island"].where(penguins.index != 4, "12"))
    validate.validate_source(mixed, "x", "species", 0.25, 10, schema={"island": "str"})


def test_unknown_declared_type_and_column(penguins):
    err = problems_of(penguins, schema={"island": "text", "nope": "int"})
    assert "prepare.schema.island: unknown type 'text'; allowed: float, int" in str(err)
    assert "prepare.schema names column 'nope', which the data does not have" in str(err)


def test_all_problems_reported_at_once(penguins):
    df = pd.concat([penguins, penguins[["sex"]]], axis=1).assign(empty=None)
    df["body_mass_g"] = df["body_mass_g"].astype(object)
    df.loc[0, "body_mass_g"] = "heavy"
    df.loc[:2, "species"] = "Tiny"
    err = problems_of(df)
    assert len(err.problems) == 4, err.problems
    assert str(err).startswith("data.source=my.csv: 4 problem(s):")


def test_category_unseen_in_training_is_reported(penguins, capsys):
    df = penguins.dropna().reset_index(drop=True)
    X, y = df.drop(columns=["species"]), df["species"]
    types = infer_feature_types(df, "species")
    model = compose(
        build_preprocessor(types),
        make_estimator("sklearn.linear_model.LogisticRegression", {"max_iter": 500}),
    )
    model.fit(X, y)
    X_new = X.head(6).copy()
    X_new.loc[[0, 1], "island"] = "Atlantis"
    X_new.loc[2, "sex"] = "unknown"
    unseen = validate.report_unseen(model, X_new, where="data/prepared/test.parquet")
    assert unseen == {"island": {"Atlantis": 2}, "sex": {"unknown": 1}}
    err = capsys.readouterr().err
    assert (
        "nbml warning: data/prepared/test.parquet: column 'island' has value(s) that "
        "training never saw: 'Atlantis' (2 rows)" in err
    )
    assert len(model.predict(X_new)) == 6  # still predicts: the warning is not an error
    assert validate.unseen_categories(model, X) == {}


# -- user-brought data: dates and times ------------------------------------------
def test_datetime_columns_become_date_parts_and_timedeltas_are_dropped(penguins, tmp_path):
    months = pd.date_range("2024-01-01", periods=12, freq="MS")
    df = penguins.assign(
        month=[months[i % 12] if i % 7 else pd.NaT for i in range(len(penguins))],
        stay=pd.to_timedelta(np.arange(len(penguins)) % 5, unit="D"),
    )
    path = tmp_path / "months.parquet"
    df.to_parquet(path)  # the types a user's Parquet file brings
    df = pd.read_parquet(path)
    # listed as categorical or not, a Timestamp never reaches an encoder
    types = infer_feature_types(df, "species", categorical=["month"])
    assert types.dates == {"month": ""} and "month" not in types.categorical
    assert types.kinds["month"] == ["date", "datetime values"]
    assert types.dropped["stay"] == "timedelta: convert it to a number to use it"
    table = types.as_frame().set_index("column")
    assert table.loc["stay", "use"] == "dropped" and table.loc["month", "use"] == "feature"
    # the fitted preprocessor holds only types the model loader trusts
    X = df.drop(columns="species")
    pre = build_preprocessor(types).fit(X)
    save_model(pre, tmp_path / "pre.skops")
    out = load_model(tmp_path / "pre.skops").transform(X)
    assert (
        out["date__month_month"].round(6).tolist()
        == pre.transform(X)["date__month_month"].round(6).tolist()
    )


def test_dates_written_as_text_are_dates_not_identifiers(penguins):
    days = pd.date_range("2023-01-01", periods=len(penguins), freq="D")
    df = penguins.assign(
        day=days.strftime("%Y-%m-%d"), tag=[f"P{i:04d}" for i in range(len(penguins))]
    )
    types = infer_feature_types(df, "species")
    assert types.dates == {"day": "ISO8601"}
    assert types.kinds["day"] == ["date", "text that reads as dates (ISO 8601)"]
    assert "identifier" in types.dropped["tag"]


# -- user-brought data: a Parquet file saved with its index -----------------------
def test_a_named_parquet_index_is_a_column_and_row_labels_are_not(penguins, tmp_path):
    (tmp_path / "data/raw").mkdir(parents=True)
    df = penguins.assign(when=pd.date_range("2020-01-01", periods=len(penguins), freq="D"))
    df.set_index("when").to_parquet(tmp_path / "data/raw/series.parquet")  # a time series
    loaded = load_source("data/raw/series.parquet", root=tmp_path, raw_dir="data/raw")
    assert list(loaded.columns) == ["when", *penguins.columns]
    assert isinstance(loaded.index, pd.RangeIndex)
    assert loaded["when"].tolist() == df["when"].tolist()
    df[df["year"] > 2007].to_parquet(tmp_path / "data/raw/filtered.parquet")  # labels 1, 5, ...
    loaded = load_source("data/raw/filtered.parquet", root=tmp_path, raw_dir="data/raw")
    assert list(loaded.columns) == list(df.columns)
    assert isinstance(loaded.index, pd.RangeIndex)


# -- user-brought data: pandas nullable dtypes ----------------------------------
def test_nullable_dtypes_from_parquet_load_as_plain_missing_values(penguins, tmp_path):
    df = penguins.copy()
    df["sex"] = df["sex"].astype("string")  # pd.NA where the sex is unknown
    df["year"] = df["year"].astype("Int64")
    df.loc[3, "year"] = pd.NA
    df["tagged"] = pd.array([[True, False, None][i % 3] for i in range(len(df))], "boolean")
    df["island"] = df["island"].astype("string").astype("category")
    df.loc[5, "island"] = np.nan
    (tmp_path / "data/raw").mkdir(parents=True)
    df.to_parquet(tmp_path / "data/raw/x.parquet")
    before = (tmp_path / "data/raw/x.parquet").read_bytes()

    loaded = load_source("data/raw/x.parquet", root=tmp_path, raw_dir="data/raw")
    assert not any(v is pd.NA for col in loaded.columns for v in loaded[col].tolist())
    assert loaded["sex"].isna().sum() == df["sex"].isna().sum() > 0
    assert loaded["year"].dtype == "float64" and loaded["year"].isna().sum() == 1
    assert loaded["tagged"].isna().sum() == len(df) // 3 and loaded["island"].isna().sum() == 1
    assert (tmp_path / "data/raw/x.parquet").read_bytes() == before  # raw data only read

    labelled = validate.validate_source(loaded, "x.parquet", "species", 0.25, 10)
    types = infer_feature_types(labelled, "species")
    assert {"sex", "island"} <= set(types.categorical) and types.boolean == ["tagged"]
    assert "year" in types.numeric
    out = build_preprocessor(types).fit_transform(labelled.drop(columns="species"))
    assert not out.isna().any().any()
