"""Unit tests of nbml.steps.features on tiny in-memory frames."""

import pytest

from nbml.steps import features


def test_feature_types_inferred_with_reasons_for_drops(frame):
    types = features.infer_feature_types(frame, "label")
    assert types.numeric == ["size"] and types.categorical == ["colour"]
    assert set(types.dropped) == {"constant", "name"}
    assert "identifier" in types.dropped["name"]


def test_feature_overrides_apply_and_unknown_names_fail(frame):
    types = features.infer_feature_types(frame, "label", drop=["colour"], categorical=["size"])
    assert types.categorical == ["size"] and "colour" in types.dropped
    with pytest.raises(features.FeatureError, match=r"data.drop names column\(s\) nope"):
        features.infer_feature_types(frame, "label", drop=["nope"])


def test_preprocessor_imputes_scales_and_one_hot_encodes(frame):
    types = features.infer_feature_types(frame, "label")
    pre = features.build_preprocessor(types)
    out = pre.fit_transform(frame.drop(columns="label"))
    assert not out.isna().any().any()
    assert abs(out["num__size"].mean()) < 1e-9
    assert {"cat__colour_red", "cat__colour_blue"} <= set(out.columns)
