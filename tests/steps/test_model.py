"""Unit tests of nbml.steps.model on tiny in-memory frames."""

import io
import json
import zipfile

import numpy as np
import pytest

from nbml.steps import data, features, model


def _fitted(frame):
    types = features.infer_feature_types(frame, "label")
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
