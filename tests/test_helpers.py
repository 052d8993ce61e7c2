"""Unit tests of the helper package on tiny in-memory frames."""

import io
import json
import re
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nbml import dag, data, eda, evaluation, features, model, plots
from nbml.project import Project


@pytest.fixture
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    n = 60
    label = np.repeat(["a", "b", "c"], n // 3)
    return pd.DataFrame(
        {
            "size": rng.normal(size=n) + (label == "b") * 3,
            "colour": rng.choice(["red", "blue", None], size=n),
            "constant": 1,
            "name": [f"row{i}" for i in range(n)],
            "label": label,
        }
    )


# -- data -------------------------------------------------------------------
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


def test_unknown_bundled_source_lists_the_choices():
    with pytest.raises(data.DataError, match="bundled datasets: penguins, iris"):
        data.load_source("nope")


@pytest.mark.parametrize("name", sorted(data.BUNDLED))
def test_bundled_datasets_load_offline_with_string_labels(name):
    df = data.BUNDLED[name]()
    target = "species" if name == "penguins" else "target"
    assert len(df) > 100 and df[target].dropna().map(type).eq(str).all()


# -- features ---------------------------------------------------------------
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


# -- model ------------------------------------------------------------------
def test_estimator_by_import_path_with_kwargs():
    est = model.make_estimator("sklearn.linear_model.LogisticRegression", {"C": 0.5})
    assert est.get_params()["C"] == 0.5


@pytest.mark.parametrize(
    "path, kwargs, message",
    [
        ("LogisticRegression", {}, "is not an import path"),
        ("sklearn.nope.Model", {}, "cannot import module 'sklearn.nope'"),
        ("sklearn.linear_model.Nope", {}, "has no class 'Nope'"),
        ("sklearn.linear_model.LinearRegression", {}, "is not a scikit-learn classifier"),
        ("sklearn.linear_model.LogisticRegression", {"depth": 3}, "depth not accepted by"),
    ],
)
def test_bad_estimator_params_are_named(path, kwargs, message):
    with pytest.raises(model.ModelError, match=message):
        model.make_estimator(path, kwargs)


def _fitted(frame):
    types = features.infer_feature_types(frame, "label")
    X, y = data.split_xy(frame, "label")
    est = model.make_estimator(
        "sklearn.ensemble.HistGradientBoostingClassifier", {"max_iter": 5, "random_state": 0}
    )
    return model.compose(features.build_preprocessor(types), est).fit(X, y), X


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


# -- evaluation -------------------------------------------------------------
def test_metrics_and_curves_for_three_classes():
    y = pd.Series(["a", "b", "c", "a", "b", "c"])
    classes = np.array(["a", "b", "c"])
    proba = np.eye(3)[[0, 1, 2, 0, 2, 2]] * 0.8 + 0.2 / 3
    pred = classes[proba.argmax(axis=1)]
    scores = evaluation.compute_metrics(y, pred, proba, classes, list(evaluation.METRICS))
    assert scores["accuracy"] == pytest.approx(5 / 6, abs=1e-6)
    assert 0 < scores["log_loss"] and 0 <= scores["roc_auc_ovr"] <= 1
    roc = evaluation.roc_rows(y, proba, classes)
    assert set(roc["class"]) == {"a", "b", "c"} and roc["tpr"].between(0, 1).all()


def test_binary_curves_have_both_classes():
    y = pd.Series(["no", "yes", "yes", "no"])
    proba = np.array([[0.9, 0.1], [0.2, 0.8], [0.4, 0.6], [0.7, 0.3]])
    classes = np.array(["no", "yes"])
    assert set(evaluation.precision_recall_rows(y, proba, classes)["class"]) == {"no", "yes"}
    auc = evaluation.compute_metrics(y, classes[proba.argmax(1)], proba, classes, ["roc_auc_ovr"])
    assert auc["roc_auc_ovr"] == 1.0


def test_unknown_metric_lists_known_ones():
    with pytest.raises(evaluation.MetricError, match=r"unknown metric\(s\) r2; known: accuracy"):
        evaluation.check_metric_names(["accuracy", "r2"])


# -- dag --------------------------------------------------------------------
def test_dag_edges_follow_outs_into_deps():
    proj = Project(
        root=Path("."),
        pipeline={
            "stages": {
                "a": {"outs": ["data/x"]},
                "b": {"deps": ["data/x/file.parquet"], "outs": ["m.json"]},
                "c": {"deps": ["m.json", "data/x"]},
            }
        },
        params={},
    )
    assert sorted(dag.edges(proj)) == [("a", "b"), ("a", "c"), ("b", "c")]
    assert dag.levels(["a", "b", "c"], dag.edges(proj)) == {"a": 0, "b": 1, "c": 2}
    drawing = dag.svg(proj, {"a": "a.html"})
    assert drawing.count("<rect") == 3
    # a -> c skips b's column: it runs under every box, not through b
    bottoms = [
        float(y) + float(h)
        for y, h in re.findall(
            r'<rect x="[^"]+" y="([^"]+)" width="[^"]+" height="([^"]+)"', drawing
        )
    ]
    (route,) = re.findall(r'<path d="M([^"]+)" fill="none"', drawing)
    lane = [float(point.split(",")[1]) for point in re.findall(r"[\d.]+,[\d.]+", route)]
    assert max(lane) > max(bottoms)
    assert drawing.count("<line") == 2


# -- explore -----------------------------------------------------------------


def test_class_separation_ranks_columns_by_how_far_apart_classes_sit():
    label = np.repeat(["a", "b"], 4)
    df = pd.DataFrame(
        {
            "apart": [1.0, 1, 1, 1, 5, 5, 5, 5],  # each class one value: all variance between
            "same": [1.0, 2, 3, 4, 1, 2, 3, 4],  # equal class means: none between
            "constant": 7.0,
            "half": [0.0, 2, 0, 2, 2, 4, 2, 4],  # means 1 and 3, spread 1 within each
            "label": label,
        }
    )
    df.loc[0, "half"] = np.nan  # ignored, not counted as zero
    shares = eda.class_separation(df, "label", ["same", "constant", "half", "apart"])
    assert list(shares.index) == ["apart", "half", "same", "constant"]
    assert shares["apart"] == pytest.approx(1.0)
    assert shares["same"] == pytest.approx(0.0)
    assert shares["constant"] == 0.0
    assert 0.0 < shares["half"] < 1.0

    table = eda.numeric_by_class(df, "label", ["same", "apart"])
    assert list(table.index) == ["apart", "same"]
    assert list(table.columns) == ["a", "b", "separation"]
    assert table.loc["apart", "b"] == "5.0 ± 0.0"


def test_histograms_stop_at_max_panels_and_say_so(frame):
    frame = frame.assign(**{f"x{i}": np.arange(len(frame)) * i for i in range(5)})
    columns = ["size", *[f"x{i}" for i in range(5)]]
    fig = plots.numeric_by_class(frame, "label", columns, max_panels=4)
    shown = [ax.get_title() for ax in fig.axes if ax.get_visible()]
    assert shown == columns[:4]
    assert "first 4 of 6 numeric columns" in fig.get_suptitle()
    assert plots.numeric_by_class(frame, "label", columns[:2]).get_suptitle() == ""


def test_missing_values_chart_shows_only_columns_with_gaps(frame):
    fig = plots.missing_values(frame)
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert labels == ["colour"]
    assert plots.missing_values(frame.drop(columns="colour")) is None


def test_class_labels_in_natural_order_with_distinct_colours():
    assert plots.class_order(["10", "2", "b", "1", "a", "2"]) == ["1", "2", "10", "a", "b"]
    assert len(set(plots.class_colours(12))) == 12
    rows = pd.DataFrame(
        {
            "class": [str(c) for c in range(12) for _ in range(2)],
            "fpr": [0, 1] * 12,
            "tpr": [0, 1] * 12,
        }
    )
    ax = plots.curves(rows, "fpr", "tpr", "ROC").axes[0]
    assert [line.get_label() for line in ax.get_lines()] == [str(c) for c in range(12)]
    assert len({line.get_color() for line in ax.get_lines()}) == 12


@pytest.mark.parametrize("n", [5, 30, 60])
def test_correlation_labels_do_not_overlap(n):
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    df = pd.DataFrame(
        np.random.default_rng(0).normal(size=(50, n)), columns=[f"feature_{i}" for i in range(n)]
    )
    fig = plots.correlation(df)
    renderer = FigureCanvasAgg(fig).get_renderer()
    fig.draw(renderer)
    ax = fig.axes[0]
    for labels, lo, hi in ((ax.get_xticklabels(), "x0", "x1"), (ax.get_yticklabels(), "y0", "y1")):
        boxes = sorted(
            (getattr(b, lo), getattr(b, hi))
            for b in (t.get_window_extent(renderer) for t in labels)
        )
        assert all(
            end <= start + 0.5 for (_, end), (start, _) in zip(boxes, boxes[1:], strict=False)
        )


def test_one_class_model_is_called_out(capsys):
    assert model.warn_if_one_class(np.array(["a", "a", "a"]), "x.Tree")
    warning = capsys.readouterr().err
    assert "nbml warning: train: the model predicts 'a' for every training row" in warning
    assert "x.Tree" in warning
    assert not model.warn_if_one_class(np.array([0, 1, 0]), "x.Tree")
    assert capsys.readouterr().err == ""
