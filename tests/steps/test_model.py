"""Unit tests of nbml.steps.model on tiny in-memory frames."""

import io
import json
import zipfile

import numpy as np
import pandas as pd
import pytest

from nbml.steps import data, feature_types, features, model


def _fitted(frame):
    types = feature_types.infer_feature_types(frame, "label")
    X, y = data.split_xy(frame, "label")
    est = model.make_estimator(
        "sklearn.ensemble.HistGradientBoostingClassifier", {"max_iter": 5, "random_state": 0}
    )
    return model.compose(features.build_preprocessor(types), est).fit(X, y), X


def test_estimator_by_import_path_with_kwargs():
    est = model.make_estimator("sklearn.linear_model.LogisticRegression", {"C": 0.5})
    assert est.get_params()["C"] == 0.5


@pytest.mark.parametrize(
    "path, kwargs, message",
    [
        ("LogisticRegression", {}, "is not an import path"),
        ("sklearn.nope.Model", {}, "cannot import module 'sklearn.nope'"),
        ("sklearn.linear_model.Nope", {}, "has no class 'Nope'"),
        ("sklearn.preprocessing.StandardScaler", {}, "is not a scikit-learn classifier or"),
        ("sklearn.linear_model.LogisticRegression", {"depth": 3}, "depth not accepted by"),
    ],
)
def test_bad_estimator_params_are_named(path, kwargs, message):
    with pytest.raises(model.ModelError, match=message):
        model.make_estimator(path, kwargs)


def test_saved_model_is_byte_stable_and_round_trips(frame, tmp_path):
    fitted, X = _fitted(frame)
    a = model.save_model(fitted, tmp_path / "a.skops").read_bytes()
    b = model.save_model(fitted, tmp_path / "b.skops").read_bytes()
    assert a == b
    loaded = model.load_model(tmp_path / "a.skops")
    assert (loaded.predict(X) == fitted.predict(X)).all()


def test_the_saved_bytes_do_not_depend_on_the_threads_of_the_fit(frame, tmp_path):
    """A stage on a busy machine fits with fewer OpenMP threads; the model file is the same."""
    from threadpoolctl import threadpool_limits

    saved = []
    for threads in (1, 2):
        with threadpool_limits(limits=threads, user_api="openmp"):
            fitted, X = _fitted(frame)
        saved.append(model.save_model(fitted, tmp_path / f"{threads}.skops").read_bytes())
    assert saved[0] == saved[1]
    loaded = model.load_model(tmp_path / "1.skops")
    assert (loaded.predict(X) == fitted.predict(X)).all()


def test_a_trusted_model_file_is_read_and_audited_once(frame, tmp_path, monkeypatch):
    """skops parses the file once; listing its untrusted types first parsed it twice."""
    import skops.io as sio

    fitted, X = _fitted(frame)
    path = model.save_model(fitted, tmp_path / "m.skops")
    listed, loads = [], sio.loads
    monkeypatch.setattr(sio, "get_untrusted_types", lambda **kw: listed.append(kw) or [])
    monkeypatch.setattr(
        sio, "loads", lambda data, trusted: listed.append("loads") or loads(data, trusted=trusted)
    )
    loaded = model.load_model(path)
    assert listed == ["loads"]
    assert (loaded.predict(X) == fitted.predict(X)).all()


def test_model_with_untrusted_type_is_refused(frame, tmp_path):
    fitted, _ = _fitted(frame)
    path = model.save_model(fitted, tmp_path / "m.skops")
    with pytest.raises(model.ModelError, match=r"not trusted: .*TreePredictor"):
        model.load_model(path, trusted=("numpy.dtype",))


def test_tampered_model_file_is_refused(frame, tmp_path):
    fitted, _ = _fitted(frame)
    path = model.save_model(fitted, tmp_path / "m.skops")
    with zipfile.ZipFile(path) as zf:
        entries = {name: zf.read(name) for name in zf.namelist()}
    # point the top-level object at os.system, as a malicious file would
    schema = json.loads(entries["schema.json"])
    schema["__module__"], schema["__class__"] = "os", "system"
    entries["schema.json"] = json.dumps(schema).encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name, blob in entries.items():
            zf.writestr(name, blob)
    path.write_bytes(buffer.getvalue())
    with pytest.raises(model.ModelError, match=r"refusing to load.*os.system"):
        model.load_model(path)
    path.write_bytes(b"not a zip")
    with pytest.raises(model.ModelError, match="not a readable skops model"):
        model.load_model(path)


def test_one_class_model_is_called_out(capsys):
    assert model.warn_if_one_class(np.array(["a", "a", "a"]), "x.Tree")
    warning = capsys.readouterr().err
    assert "nbml warning: train: the model predicts 'a' for every training row" in warning
    assert "x.Tree" in warning
    assert not model.warn_if_one_class(np.array([0, 1, 0]), "x.Tree")
    assert capsys.readouterr().err == ""


def _noisy(n, seed=0):
    """Three classes from a number with gaps and a category: enough rows for early stopping."""
    rng = np.random.default_rng(seed)
    label = rng.choice(["low", "mid", "high"], size=n)
    size = rng.normal(size=n) + (label == "mid") * 0.8
    size[rng.random(n) < 0.05] = np.nan
    colour = np.where(rng.random(n) < 0.6, label, rng.choice(["red", "blue"], size=n))
    return pd.DataFrame({"size": size, "colour": colour, "label": label})


def _preprocessor(frame):
    types = feature_types.infer_feature_types(frame, "label")
    X, y = data.split_xy(frame, "label")
    return features.build_preprocessor(types).fit(X, y), X, y


def test_dense_matrices_are_the_transform_in_chunks_as_contiguous_float64(monkeypatch):
    pre, X, _ = _preprocessor(_noisy(500))
    monkeypatch.setattr(model, "MATRIX_CHUNK_ROWS", 7)
    width = len(pre.get_feature_names_out())
    (matrix,) = model.dense_matrices(pre, X, width)
    assert matrix.dtype == np.float64 and matrix.flags["C_CONTIGUOUS"]
    np.testing.assert_array_equal(matrix, pre.transform(X).to_numpy(dtype=np.float64))
    rows = np.random.default_rng(0).permutation(500)
    first, second = model.dense_matrices(pre, X, width, [rows[:300], rows[300:]])
    assert first.flags["C_CONTIGUOUS"] and second.shape == (200, width)
    np.testing.assert_array_equal(first, pre.transform(X.iloc[rows[:300]]).to_numpy())
    np.testing.assert_array_equal(second, pre.transform(X.iloc[rows[300:]]).to_numpy())


def test_fit_rows_give_the_model_of_a_fit_on_the_transformed_frame():
    frame = _noisy(12_000)
    pre, X, y = _preprocessor(frame)
    kwargs = {"max_iter": 30, "random_state": 42, "max_leaf_nodes": 7}
    path = "sklearn.ensemble.HistGradientBoostingClassifier"
    reference = model.make_estimator(path, kwargs).fit(pre.transform(X), y)
    rows = model.fit_rows(pre, model.make_estimator(path, kwargs), X, y)
    # early stopping's rows are set apart, so the estimator copies nothing
    assert set(rows.params) == {"X_val", "y_val"} and len(rows.params["X_val"]) == 1_200
    fitted = rows.fit(model.make_estimator(path, kwargs))
    assert fitted.n_iter_ == reference.n_iter_ and reference.do_early_stopping_
    np.testing.assert_array_equal(fitted.validation_score_, reference.validation_score_)
    assert list(fitted.feature_names_in_) == list(reference.feature_names_in_)
    assert list(vars(fitted)) == list(vars(reference))  # skops writes them in this order
    test = _noisy(300, seed=1).drop(columns="label")
    served, plain = model.compose(pre, fitted), model.compose(pre, reference)
    np.testing.assert_array_equal(served.predict_proba(test), plain.predict_proba(test))


@pytest.mark.parametrize(
    "kwargs, rows",
    [
        ({"random_state": None}, 20_000),  # its draw cannot be repeated
        ({"random_state": 0, "early_stopping": False}, 20_000),
        ({"random_state": 0}, 10_500),  # "auto" would stop early on all rows, not on 90%
        ({"random_state": 0, "validation_fraction": None}, 20_000),
    ],
)
def test_no_rows_are_held_out_when_the_estimator_would_not_hold_out_the_same(kwargs, rows):
    est = model.make_estimator("sklearn.ensemble.HistGradientBoostingClassifier", kwargs)
    assert model.validation_rows(est, np.repeat(["a", "b"], rows // 2)) is None
    other = model.make_estimator("sklearn.linear_model.LogisticRegression", {})
    assert model.validation_rows(other, np.repeat(["a", "b"], rows // 2)) is None


def _coded(frame):
    types = feature_types.infer_feature_types(frame, "label")
    X, y = data.split_xy(frame, "label")
    return features.build_preprocessor(types, category_codes=True).fit(X, y), X, y


def test_category_codes_are_split_on_as_categories_by_histgradientboosting():
    """featurize's codes become categorical_features; the fit, early stopping included,
    gives the model scikit-learn gives on the same DataFrame, and it saves and loads."""
    frame = _noisy(12_000)
    pre, X, y = _coded(frame)
    names = list(pre.get_feature_names_out())
    assert names == ["num__size", "codes__colour"]
    kwargs = {"max_iter": 30, "random_state": 42, "max_leaf_nodes": 7}
    est = model.make_estimator("auto", kwargs)
    assert model.split_on_codes(est, pre) == [1]
    assert est.get_params()["categorical_features"] == [1]
    fitted = model.fit_rows(pre, est, X, y).fit(est)
    reference = model.make_estimator("auto", {**kwargs, "categorical_features": [1]})
    reference.fit(pre.transform(X), y)
    assert fitted.is_categorical_.tolist() == [False, True] and reference.do_early_stopping_
    np.testing.assert_array_equal(fitted.validation_score_, reference.validation_score_)
    test = _noisy(300, seed=1).drop(columns="label")
    test.loc[:9, "colour"] = "never seen"
    served = model.compose(pre, fitted)
    np.testing.assert_array_equal(
        served.predict_proba(test), model.compose(pre, reference).predict_proba(test)
    )


def test_codes_only_for_estimators_that_split_on_categories(tmp_path):
    assert model.takes_category_codes("auto", "classification")
    assert model.takes_category_codes("auto", "regression")
    assert model.takes_category_codes("sklearn.ensemble.HistGradientBoostingRegressor", "x")
    assert not model.takes_category_codes("sklearn.linear_model.LogisticRegression", "x")
    pre, _, _ = _preprocessor(_noisy(200))  # one-hot: nothing to mark
    est = model.make_estimator("auto", {})
    assert model.split_on_codes(est, pre) == [] and est.categorical_features == "from_dtype"


@pytest.mark.parametrize(
    "path, kwargs, message",
    [
        ("sklearn.linear_model.LogisticRegression", {}, "would read as numbers"),
        ("auto", {"categorical_features": [0]}, "train.kwargs.categorical_features"),
        ("auto", {"max_bins": 4}, r"max_bins: 4 is below the values of categories \{'colour': 5\}"),
    ],
)
def test_settings_that_contradict_the_codes_are_refused(path, kwargs, message):
    pre, _, _ = _coded(_noisy(500))
    with pytest.raises(model.ModelError, match=message):
        model.split_on_codes(model.make_estimator(path, kwargs), pre)
