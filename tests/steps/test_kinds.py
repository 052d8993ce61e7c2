"""Feature kinds on small tables made here: dates, booleans, identifiers, many-valued
categories and free text, decided on the training split, and the model built from them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from kinds_tables import table
from nbml.errors import FeatureError
from nbml.messages import shorten
from nbml.steps import feature_types, features, kinds, model


def test_each_kind_is_detected_with_its_reason():
    types = feature_types.infer_feature_types(table(), "label")
    kinds = {c: kind for c, (kind, _why) in types.kinds.items()}
    assert kinds == {
        "when": "date",
        "id": "identifier",
        "name": "identifier",
        "shop": "categorical",
        "member": "boolean",
        "note": "free text",
        "amount": "numeric",
    }
    assert types.dates == {"when": "ISO8601"}
    assert set(types.dropped) == {"id", "name", "note"}
    assert "integer key" in types.dropped["id"] and "free text" in types.dropped["note"]
    assert "identifier" in types.dropped["name"]


@pytest.mark.parametrize(
    "written, fmt",
    [
        ("%d/%m/%Y", "%d/%m/%Y"),
        ("%m/%d/%Y", "%m/%d/%Y"),
        ("%d.%m.%Y %H:%M", "%d.%m.%Y %H:%M"),
        ("%Y-%m-%dT%H:%M:%S", "ISO8601"),
    ],
)
def test_text_dates_are_read_in_their_format(written, fmt):
    days = pd.Series(pd.date_range("2020-01-01 08:00", periods=60, freq="37h"))
    frame = pd.DataFrame({"d": days.dt.strftime(written), "y": ["a", "b"] * 30})
    types = feature_types.infer_feature_types(frame, "y")
    assert types.dates == {"d": fmt}
    pre = features.build_preprocessor(types, scale=False).fit(frame[["d"]])
    out = pre.transform(frame[["d"]])
    assert out["date__d_year"].tolist() == days.dt.year.astype(float).tolist()
    assert out["date__d_month"].tolist() == days.dt.month.astype(float).tolist()
    assert out["date__d_dayofyear"].tolist() == days.dt.day_of_year.astype(float).tolist()
    has_time = "%H" in written
    assert ("date__d_hour" in out.columns) == has_time
    if has_time:
        assert out["date__d_hour"].tolist() == days.dt.hour.astype(float).tolist()
        assert out["date__d_minute"].tolist() == days.dt.minute.astype(float).tolist()


def test_dates_written_in_several_formats_are_warned_about(capsys):
    days = pd.Series(pd.date_range("2020-01-01", periods=60, freq="5D"))
    written = days.dt.strftime("%Y-%m-%d").where(days.index % 2 == 0, days.dt.strftime("%d %b %Y"))
    frame = pd.DataFrame({"sold": written, "note": [f"lot {i}B" for i in range(60)]})
    types = feature_types.infer_feature_types(frame.assign(y=["a", "b"] * 30), "y")
    assert types.kinds["sold"][0] != "date"  # no one format reads it
    warnings = [line for line in capsys.readouterr().err.splitlines() if "nbml warning" in line]
    assert warnings == [
        "nbml warning: column 'sold': its values read as dates only in several formats "
        "('ISO8601' (50%), '%d %b %Y' (50%) of a sample), so it is used as text, not as a "
        "date; write the dates in one format, or list the column in params.yaml data.drop"
    ]


def test_day_month_order_that_cannot_be_told_is_refused_naming_the_fix():
    # every day is 12 or less: 01/02/2021 is the 1st of February or the 2nd of January
    days = [f"{d:02d}/{m:02d}/2021" for d in range(1, 13) for m in range(1, 13)]
    frame = pd.DataFrame({"visit": days, "y": ["a", "b"] * 72})
    with pytest.raises(FeatureError) as info:
        feature_types.infer_feature_types(frame, "y")
    message = str(info.value)
    assert "'visit'" in message and "data.dates" in message
    assert "%d/%m/%Y" in message and "%m/%d/%Y" in message and len(message) < 160
    told = feature_types.infer_feature_types(frame, "y", dates={"visit": "%m/%d/%Y"})
    assert told.dates == {"visit": "%m/%d/%Y"} and told.kinds["visit"][0] == "date"


def test_a_data_dates_format_that_does_not_read_the_column_is_refused():
    frame = pd.DataFrame({"d": ["2021-03-04", "2021-05-06"] * 10, "y": ["a", "b"] * 10})
    with pytest.raises(FeatureError, match=r"data.dates.d: format '%d/%m/%Y' does not read"):
        feature_types.infer_feature_types(frame, "y", dates={"d": "%d/%m/%Y"})
    with pytest.raises(FeatureError, match=r"data.dates.y: auto found no date format"):
        feature_types.infer_feature_types(frame.assign(y2=frame["y"]), "y2", dates={"y": "auto"})
    dmy = feature_types.infer_feature_types(
        frame.assign(d=["13/03/2021", "14/05/2021"] * 10), "y", dates={"d": "auto"}
    )
    assert dmy.dates == {"d": "%d/%m/%Y"}
    with pytest.raises(FeatureError, match=r"data.dates names column\(s\) nope"):
        feature_types.infer_feature_types(frame, "y", dates={"nope": "auto"})


def test_a_unique_integer_measurement_is_kept_but_a_key_is_dropped():
    rng = np.random.default_rng(1)
    frame = pd.DataFrame(
        {
            "key": rng.permutation(100) + 1000,  # 1000..1099 shuffled: numbered rows
            "cents": rng.choice(np.arange(0, 10**6), 100, replace=False),  # sparse: a quantity
            "y": ["a", "b"] * 50,
        }
    )
    types = feature_types.infer_feature_types(frame, "y")
    assert list(types.dropped) == ["key"] and types.numeric == ["cents"]


def test_booleans_become_one_number():
    frame = pd.DataFrame(
        {
            "yn": ["yes", "no", "Yes", None] * 10,
            "tf": [True, False, True, False] * 10,
            "sex": ["male", "female", "male", "female"] * 10,  # two values, not true/false
            "y": ["a", "b"] * 20,
        }
    )
    frame["yn"] = frame["yn"].str.lower()
    types = feature_types.infer_feature_types(frame, "y")
    assert types.boolean == ["yn", "tf"] and types.categorical == ["sex"]
    out = features.build_preprocessor(types).fit_transform(frame.drop(columns="y"))
    assert list(out.columns) == ["cat__sex_female", "cat__sex_male", "bool__yn", "bool__tf"]
    assert out["bool__yn"].tolist()[:3] == [1.0, 0.0, 1.0]
    assert set(out["bool__tf"]) == {0.0, 1.0}


@pytest.mark.parametrize("labels", ["binary", "multiclass", "regression"])
def test_a_300_value_category_gives_a_bounded_width(labels):
    rng = np.random.default_rng(2)
    frame = pd.DataFrame({"shop": rng.choice([f"s{i}" for i in range(300)], 3000)})
    y = {
        "binary": pd.Series(rng.choice(["a", "b"], 3000)),
        "multiclass": pd.Series(rng.choice(list("abcde"), 3000)),
        "regression": pd.Series(rng.normal(size=3000)),
    }[labels]
    types = feature_types.infer_feature_types(frame.assign(y=y), "y")
    assert types.levels == {"shop": 300}
    target = features.build_preprocessor(types, target_encode_above=100, y=y).fit(frame, y)
    width = {"binary": 1, "multiclass": 5, "regression": 1}[labels]
    assert target.transform(frame).shape == (3000, width)
    assert "target encoding" in features.becomes(types, target)["becomes"].iloc[0]
    pooled = features.build_preprocessor(types, max_categories=20, y=y).fit(frame, y)
    out = pooled.transform(frame.head(3).assign(shop=["s1", "never seen", None]))
    assert out.shape == (3, 20) and out.iloc[1]["pooled__shop_infrequent_sklearn"] == 1.0


def test_the_featurize_table_says_what_each_column_became():
    frame = table()
    X, y = frame.drop(columns="label"), frame["label"]
    types = feature_types.infer_feature_types(frame, "label")
    pre = features.build_preprocessor(types, target_encode_above=100, y=y).fit(X, y)
    shown = features.becomes(types, pre).set_index("column")
    assert shown.loc["when", "outputs"] == 5 and "year" in shown.loc["when", "becomes"]
    assert shown.loc["id", "outputs"] == 0 and shown.loc["member", "outputs"] == 1
    assert shown.loc["shop", "outputs"] == 1  # binary label: one target-encoded column
    assert shown["outputs"].sum() == pre.transform(X).shape[1]
    html = feature_types.Table(shown.reset_index())._repr_html_()
    assert "<th>column</th>" in html and "<th></th>" not in html  # no row-number column


def test_the_saved_model_reloads_and_predicts_from_raw_rows_with_dates(tmp_path):
    frame = table()
    X, y = frame.drop(columns="label"), frame["label"]
    types = feature_types.infer_feature_types(frame, "label")
    pre = features.build_preprocessor(types, target_encode_above=100, y=y).fit(X, y)
    estimator = model.make_estimator("sklearn.ensemble.HistGradientBoostingClassifier", {})
    estimator.fit(model.training_matrix(pre, X, y), y)
    fitted = model.compose(pre, estimator)
    path = model.save_model(fitted, tmp_path / "model.skops")
    reloaded = model.load_model(path)
    raw = table(seed=5, n=50).drop(columns="label")
    assert (reloaded.predict_proba(raw) == fitted.predict_proba(raw)).all()
    # the season is in the date: the model learned it from the date parts
    assert (reloaded.predict(raw) == table(seed=5, n=50)["label"]).mean() > 0.9


def test_target_encoding_is_cross_fitted_for_training():
    rng = np.random.default_rng(3)
    X = pd.DataFrame({"shop": [f"s{i}" for i in rng.integers(0, 150, 600)]})
    y = pd.Series(rng.choice(["a", "b"], 600))  # noise: nothing to learn from the shop
    types = feature_types.infer_feature_types(X.assign(y=y), "y")
    pre = features.build_preprocessor(types, target_encode_above=100, y=y).fit(X, y)
    plain, crossed = pre.transform(X), model.training_matrix(pre, X, y)
    # encoded with their own labels the rows would "predict" noise; cross-fitted they do not
    agree = lambda m: ((m.iloc[:, 0] > m.iloc[:, 0].median()) == (y == "b")).mean()  # noqa: E731
    assert agree(plain) > 0.6 and agree(crossed) < 0.6


def test_shorten_gives_counts_and_examples():
    assert shorten(["a", "b"]) == "a, b"
    long = shorten([f"value {i} " + "x" * 100 for i in range(263)])
    assert long.startswith("263 values, e.g. value 0") and len(long) < 250


def _numbered(n: int, seed: int = 0) -> pd.DataFrame:
    """Rows numbered 1..n in shuffled order, a random integer count, and a label."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "row_id": rng.permutation(n) + 1,
            "visits": rng.integers(0, n, n),  # many values, repeated: a quantity
            "amount": rng.normal(size=n),
            "label": rng.choice(["a", "b"], n),
        }
    )


def test_integer_keys_found_on_the_source_survive_a_sample():
    source = _numbered(20_000)
    sample = source.sample(frac=0.1, random_state=1)  # what prepare.sample leaves
    # on the sample alone, 2,000 keys spanning 1..20,000 read as a number to learn from
    assert feature_types.infer_feature_types(sample, "label").kinds["row_id"][0] == "numeric"
    keys = kinds.source_keys(source, "label")
    assert list(keys) == ["row_id"] and "on all 20,000 rows of the source" in keys["row_id"]
    types = feature_types.infer_feature_types(sample, "label", keys=keys)
    assert types.kinds["row_id"][0] == "identifier" and types.dropped["row_id"] == keys["row_id"]
    assert types.kinds["visits"][0] == "numeric"  # 63% distinct: not a key


def test_source_keys_round_trip_and_none_recorded_means_none(tmp_path):
    keys = kinds.source_keys(_numbered(500), "label")
    path = kinds.write_keys(keys, tmp_path / "prepared" / "keys.json")
    assert kinds.read_keys(path) == keys
    assert kinds.read_keys(tmp_path / "missing.json") == {}
    flags = pd.DataFrame({"flag": np.arange(500) % 2 == 0, "label": ["a"] * 500})
    assert kinds.source_keys(flags, "label") == {}  # booleans are no integers
