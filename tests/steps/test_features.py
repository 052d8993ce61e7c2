"""Unit tests of nbml.steps.features on tiny in-memory frames."""

import numpy as np
import pandas as pd
import pytest

from nbml.errors import FeatureError
from nbml.steps import feature_types, features, model


def test_feature_types_inferred_with_reasons_for_drops(frame):
    types = feature_types.infer_feature_types(frame, "label")
    assert types.numeric == ["size"] and types.categorical == ["colour"]
    assert set(types.dropped) == {"constant", "name"}
    assert "identifier" in types.dropped["name"]


def test_feature_overrides_apply_and_unknown_names_fail(frame):
    types = feature_types.infer_feature_types(frame, "label", drop=["colour"], categorical=["size"])
    assert types.categorical == ["size"] and "colour" in types.dropped
    with pytest.raises(FeatureError, match=r"data.drop names column\(s\) nope"):
        feature_types.infer_feature_types(frame, "label", drop=["nope"])


def test_preprocessor_imputes_scales_and_one_hot_encodes(frame):
    types = feature_types.infer_feature_types(frame, "label")
    pre = features.build_preprocessor(types)
    out = pre.fit_transform(frame.drop(columns="label"))
    assert not out.isna().any().any()
    assert abs(out["num__size"].mean()) < 1e-9
    assert {"cat__colour_red", "cat__colour_blue"} <= set(out.columns)


def _shop_frame(n, seed=0):
    """A number and a category whose level 'rare' has 3 rows, 'few' 40, among common ones."""
    rng = np.random.default_rng(seed)
    shop = rng.choice(["north", "south", "east"], size=n).astype(object)
    shop[[5, n // 2, n - 1]] = "rare"
    shop[rng.choice(np.flatnonzero(shop != "rare"), 40, replace=False)] = "few"
    size = rng.normal(size=n)
    size[rng.random(n) < 0.1] = np.nan
    return pd.DataFrame({"size": size, "shop": shop, "label": rng.choice(["a", "b"], size=n)})


def _sampled(n, size):
    """The rows of the seeded sample before the lacking levels are added."""
    return np.random.default_rng(features.FIT_SAMPLE_SEED).choice(n, size=size, replace=False)


def _fit(frame, fit_sample, **kwargs):
    types = feature_types.infer_feature_types(frame, "label")
    pre = features.build_preprocessor(types, **kwargs)
    X, y = frame.drop(columns="label"), frame["label"]
    return features.fit_preprocessor(pre, X, y, fit_sample)


def test_fit_sample_fits_on_every_row_when_the_split_is_not_bigger(frame, tmp_path):
    X, y = frame.drop(columns="label"), frame["label"]
    types = feature_types.infer_feature_types(frame, "label")
    plain = features.build_preprocessor(types).fit(X, y)
    for fit_sample in (None, len(frame)):
        fitted = _fit(frame, fit_sample)
        a = model.save_model(plain, tmp_path / "a.skops").read_bytes()
        assert model.save_model(fitted, tmp_path / "b.skops").read_bytes() == a


def test_fit_sample_bounds_the_numeric_fit_and_keeps_every_level():
    frame = _shop_frame(50_000)
    fitted = _fit(frame, 1_000)
    assert not frame["shop"].iloc[_sampled(len(frame), 1_000)].isin(["rare", "few"]).any()
    scaler = fitted.named_transformers_["num"].named_steps["scale"]
    # the sample, plus at most POOL_MIN_ROWS rows of each level it lacked
    assert 1_000 <= scaler.n_samples_seen_ <= 1_000 + 2 * features.POOL_MIN_ROWS
    levels = fitted.named_transformers_["cat"].named_steps["onehot"].categories_[0]
    assert set(levels) == {"north", "south", "east", "rare", "few"}
    median = fitted.named_transformers_["num"].named_steps["impute"].statistics_[0]
    assert abs(median - frame["size"].median()) < 0.1
    again = _fit(frame, 1_000)
    out = fitted.transform(frame.drop(columns="label"))
    pd.testing.assert_frame_equal(out, again.transform(frame.drop(columns="label")))


def test_fit_sample_pools_a_level_that_every_row_would_pool():
    frame = _shop_frame(20_000)
    # one-hot with pooling: 'rare' (3 rows) is pooled as on every row, common levels kept
    fitted = _fit(frame, 1_000, max_categories=4)
    encoder = fitted.named_transformers_["pooled"].named_steps["onehot"]
    assert "rare" in set(encoder.infrequent_categories_[0])
    assert {"north", "south", "east"} <= set(encoder.categories_[0]) - {"rare"}


def test_category_codes_give_one_column_per_category_and_nan_for_unseen(frame):
    types = feature_types.infer_feature_types(frame, "label")
    pre = features.build_preprocessor(types, category_codes=True)
    out = pre.fit_transform(frame.drop(columns="label"))
    assert list(out.columns) == ["num__size", "codes__colour"]
    assert set(out["codes__colour"]) == {0.0, 1.0}  # blue, red; missing imputed
    unseen = frame.drop(columns="label").head(3).assign(colour="green")
    assert pre.transform(unseen)["codes__colour"].isna().all()
    table = features.becomes(types, pre).set_index("column")
    assert table.loc["colour", "becomes"] == "category codes (2 values)"
    assert table.loc["colour", "outputs"] == 1
    # many values keep the bounded one-hot: codes only up to max_categories
    few = features.build_preprocessor(types, category_codes=True, max_categories=1)
    assert "codes" not in dict((n, c) for n, _, c in few.transformers)


def test_codes_stop_at_the_values_histgradientboosting_can_split_on():
    assert features.encoding_of(255, 300, None, 3, codes=True) == "codes"
    assert features.encoding_of(256, 300, None, 3, codes=True) == "onehot"
    assert features.encoding_of(21, 20, None, 3, codes=True) == "pooled"
