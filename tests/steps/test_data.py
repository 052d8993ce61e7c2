"""Unit tests of nbml.steps.data on tiny in-memory frames."""

import numpy as np
import pandas as pd
import pytest
from sklearn.preprocessing import OneHotEncoder

from nbml.steps import data, validate


def test_check_dataset_drops_unlabelled_rows(frame):
    frame.loc[0, "label"] = None
    assert len(data.check_dataset(frame, "label", 0.25, 5, "t")) == len(frame) - 1


def test_check_dataset_reports_every_problem_at_once(frame):
    frame = frame.iloc[:22].copy()  # 20 'a', 2 'b'
    with pytest.raises(data.DataError) as err:
        data.check_dataset(frame, "label", 0.05, 5, "mydata.csv")
    message = str(err.value)
    assert message.startswith("mydata.csv: 2 problem(s)")
    assert "class 'b' of target 'label' has 2 row(s)" in message
    assert "test_size=0.05 gives 1 test rows for 2 classes" in message


def test_check_dataset_names_missing_target_and_columns(frame):
    with pytest.raises(
        data.DataError, match=r"target column 'species' not found; columns are: size"
    ):
        data.check_dataset(frame, "species", 0.25, 5, "t")


def test_single_class_is_refused(frame):
    with pytest.raises(data.DataError, match="needs at least 2 classes"):
        data.check_dataset(frame.assign(label="a"), "label", 0.25, 5, "t")


def test_continuous_target_is_named_as_such(frame):
    measured = frame.assign(weight=np.linspace(3000.0, 6000.0, len(frame)))
    with pytest.raises(data.DataError) as info:
        data.check_dataset(measured, "weight", 0.25, 5, "t")
    assert info.value.problems[0].startswith("target 'weight' has 60 distinct numeric values")
    assert len(info.value.problems) == 1  # not one line per value


def test_many_small_classes_are_listed_briefly(frame):
    many = frame.assign(label=[f"c{i}" for i in range(len(frame))])
    with pytest.raises(data.DataError) as info:
        data.check_dataset(many, "label", 0.25, 5, "t")
    small = [p for p in info.value.problems if "row(s); at least" in p]
    assert len(small) == data.SHOWN_SMALL_CLASSES
    assert "... and 50 more classes with fewer than 5 rows" in info.value.problems


def test_split_is_stratified_and_reproducible(frame):
    train, test = data.split(frame, "label", 0.25, seed=3)
    again, _ = data.split(frame, "label", 0.25, seed=3)
    pd.testing.assert_frame_equal(train, again)
    assert len(test) == 15 and set(test["label"].value_counts()) == {5}


@pytest.mark.parametrize("dtype", ["str", object])
def test_split_on_label_codes_is_the_split_of_the_labels(dtype):
    """Codes in sorted order stratify exactly as the text labels would."""
    from sklearn.model_selection import train_test_split

    rng = np.random.default_rng(1)
    labels = rng.choice(
        ["mid", "low", "Zebra", "\u00e9t\u00e9", "high"], 3_000, p=[0.4, 0.3, 0.1, 0.1, 0.1]
    )
    df = pd.DataFrame({"y": pd.Series(labels, dtype=dtype), "x": np.arange(3_000)})
    codes = data.class_codes(df["y"])
    assert (np.unique(labels)[codes] == labels).all()
    want = train_test_split(df, test_size=0.25, random_state=7, stratify=df["y"])
    got = data.split(df, "y", 0.25, seed=7)
    for expected, split in zip(want, got, strict=True):
        pd.testing.assert_frame_equal(expected.reset_index(drop=True), split)


def test_unknown_bundled_source_lists_the_choices():
    with pytest.raises(data.DataError, match="bundled datasets: penguins, iris"):
        data.load_source("nope")


@pytest.mark.parametrize("name", sorted(data.BUNDLED))
def test_bundled_datasets_load_offline_with_string_labels(name):
    df = data.BUNDLED[name]()
    target = "species" if name == "penguins" else "target"
    assert len(df) > 100 and df[target].dropna().map(type).eq(str).all()


def test_sample_source_is_seeded_and_stratified(capfd):
    df = pd.DataFrame({"x": range(1000), "y": ["a"] * 900 + ["b"] * 100})
    part = data.sample_source(df, "y", 0.1, seed=1)
    # on the terminal, not only in the report: "read 1,000 rows" was the last line before
    progress = capfd.readouterr().err
    assert "nbml progress: prepare.sample=0.1: 100 of 1,000 rows kept (seeded, stratified by " \
        "'y')" in progress
    assert len(part) == 100 and part["y"].value_counts().to_dict() == {"a": 90, "b": 10}
    assert part.equals(data.sample_source(df, "y", 100, seed=1))  # a count or a fraction
    assert not part.equals(data.sample_source(df, "y", 100, seed=2))
    assert data.sample_source(df, "y", None, seed=1) is df
    capfd.readouterr()
    assert data.sample_source(df, "y", 5000, seed=1) is df
    assert "prepare.sample=5000: every row kept (the table has 1,000)" in capfd.readouterr().err


def test_a_sample_too_small_for_a_class_the_source_has_enough_of_names_prepare_sample():
    df = pd.DataFrame({"x": range(1000), "y": ["a"] * 950 + ["rare"] * 50})
    with pytest.raises(data.DataError) as caught:
        data.sample_source(df, "y", 0.1, seed=1, min_rows_per_class=10)
    message = str(caught.value)
    assert "params.yaml prepare.sample=0.1" in message
    assert "class 'rare' of target 'y': 5 of its 50 rows kept, at least 10 are needed" in message
    assert "set prepare.sample: null" in message
    # enough of every class in the sample: no complaint; a class small in the source is
    # left to validation, which names the data
    assert len(data.sample_source(df, "y", 0.5, seed=1, min_rows_per_class=10)) == 500
    df.loc[:4, "y"] = "tiny"
    assert len(data.sample_source(df, "y", 0.5, seed=1, min_rows_per_class=10)) == 500


def test_sample_source_without_enough_rows_to_stratify_samples_plainly():
    df = pd.DataFrame({"x": range(10), "y": ["a"] * 9 + ["b"]})
    assert len(data.sample_source(df, "y", 5, seed=0)) == 5


def test_unseen_categories_warning_stays_short(capsys):
    encoder = OneHotEncoder(handle_unknown="ignore").fit(pd.DataFrame({"c": ["a", "b"]}))
    X = pd.DataFrame({"c": [f"new{i}" for i in range(5000)]})
    unseen = validate.report_unseen(encoder, X, where="test.parquet")
    assert len(unseen["c"]) == 5000  # every value counted
    err = capsys.readouterr().err
    assert "5000 values, e.g. 'new0' (1 row)" in err and len(err) < 300


def test_the_checked_table_is_the_loaded_one_without_a_copy(frame):
    """At 10^7 rows each copy of the table is 2 GB: checking it must not make one."""
    checked = validate.validate_source(frame, "t.csv", "label", 0.25, 2)
    assert np.shares_memory(checked["size"].to_numpy(), frame["size"].to_numpy())
    declared = validate.validate_source(frame, "t.csv", "label", 0.25, 2, schema={"size": "float"})
    assert declared["size"].dtype == "float64" and declared.columns.equals(frame.columns)
    unlabelled = frame.assign(label=frame["label"].where(frame.index != 3))
    assert len(validate.validate_source(unlabelled, "t.csv", "label", 0.25, 2)) == len(frame) - 1
