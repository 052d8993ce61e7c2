"""Unit tests of nbml.steps.evaluation on tiny in-memory frames."""

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm
from sklearn.base import BaseEstimator, ClassifierMixin

from nbml.steps import evaluation


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


def _scored(n: int, seed: int = 0) -> tuple[pd.Series, np.ndarray, np.ndarray, np.ndarray]:
    """n test rows of three classes with noisy probabilities: one distinct score a row."""
    rng = np.random.default_rng(seed)
    classes = np.array(["a", "b", "c"])
    truth = rng.integers(0, 3, n)
    logits = rng.normal(size=(n, 3)) + np.eye(3)[truth] * 1.5
    proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return pd.Series(classes[truth]), classes[proba.argmax(axis=1)], proba, classes


def test_confusion_counts_one_line_per_pair_summing_to_the_rows():
    y, pred, _, classes = _scored(100_000)
    counts = evaluation.confusion_counts(y, pred, classes)
    assert list(counts.columns) == ["actual", "predicted", "count"]
    assert len(counts) == 9  # every pair of the three classes, zeros included
    assert counts["count"].sum() == 100_000
    right = counts.query("actual == predicted")["count"].sum()
    assert right == (np.asarray(y) == pred).sum()


def test_confusion_counts_keep_pairs_never_predicted():
    counts = evaluation.confusion_counts(pd.Series(["a", "b"]), np.array(["a", "a"]), ["a", "b"])
    assert counts.set_index(["actual", "predicted"])["count"].to_dict() == {
        ("a", "a"): 1,
        ("a", "b"): 0,
        ("b", "a"): 1,
        ("b", "b"): 0,
    }


def test_plot_files_stay_small_at_100000_rows(tmp_path):
    """Every plot CSV stays far below 1 MB; the curves keep their ends and their area."""
    y, pred, proba, classes = _scored(100_000)
    frames = {
        "confusion": evaluation.confusion_counts(y, pred, classes),
        "roc": evaluation.roc_rows(y, proba, classes),
        "pr": evaluation.precision_recall_rows(y, proba, classes),
    }
    for name, frame in frames.items():
        path = evaluation.write_csv(frame, tmp_path / f"{name}.csv")
        assert path.stat().st_size < 100_000, name
    roc = frames["roc"]
    for label in classes:
        curve = roc[roc["class"] == label]
        assert len(curve) <= evaluation.MAX_CURVE_POINTS + 1
        assert (curve[["fpr", "tpr"]].iloc[[0, -1]].to_numpy() == [[0, 0], [1, 1]]).all()
        # the thinned curve's area is the AUC of all rows, to drawing precision
        onehot = np.asarray(y) == label
        full = evaluation.skm.roc_auc_score(onehot, proba[:, list(classes).index(label)])
        assert np.trapezoid(curve["tpr"], curve["fpr"]) == pytest.approx(full, abs=0.01)


def test_thin_curve_keeps_short_curves_whole():
    x = np.array([0.0, 0.5, 1.0])
    assert evaluation.thin_curve(x, x).tolist() == [0, 1, 2]


def test_importance_on_a_bounded_sample_scores_only_that_many_rows(monkeypatch):
    """Each repeat predicts a sample of max_rows rows, not the whole test split."""
    seen: list[int] = []

    class Model(ClassifierMixin, BaseEstimator):
        classes_ = np.array(["a", "b"])

        def fit(self, X, y):  # permutation_importance only scores; nothing to fit
            return self

        def predict(self, X):
            seen.append(len(X))
            return np.where(X["x"] > 0, "a", "b")

    rng = np.random.default_rng(0)
    X = pd.DataFrame({"x": rng.normal(size=50_000), "noise": rng.normal(size=50_000)})
    y = pd.Series(np.where(X["x"] > 0, "a", "b"))
    monkeypatch.setattr(evaluation, "stage_threads", lambda: 1)
    rows = evaluation.importance_rows(Model(), X, y, repeats=3, seed=0, max_rows=500)
    assert set(seen) == {500}
    assert rows.iloc[0]["feature"] == "x" and rows.iloc[0]["importance"] > 0.4


def _fitted_pipeline(n: int = 600, classes: int = 3, seed: int = 0):
    """A small model as the pipeline builds it: imputed, scaled numbers, one-hot text,
    a dropped id column, missing values; and a test frame of raw rows."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    from nbml.steps.feature_types import FeatureTypes
    from nbml.steps.features import build_preprocessor
    from nbml.steps.model import compose

    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        {
            "a": rng.normal(size=n),
            "b": rng.normal(size=n),
            "colour": rng.choice(["red", "green", "blue"], n).astype(object),
            "id": np.arange(n).astype(str),
        }
    )
    X.loc[rng.random(n) < 0.1, "a"] = np.nan
    X.loc[rng.random(n) < 0.1, "colour"] = np.nan
    score = X["a"].fillna(0) + (X["colour"] == "red") + rng.normal(scale=0.5, size=n)
    y = pd.Series(
        np.array(["x", "y", "z"])[:classes][np.digitize(score, [0.3, 1.0][: classes - 1])]
    )
    types = FeatureTypes(["a", "b"], ["colour"], dropped={"id": "looks like an identifier"})
    pre = build_preprocessor(types).fit(X)
    estimator = HistGradientBoostingClassifier(max_iter=30, random_state=0)
    return compose(pre, estimator.fit(pre.transform(X), y)), X, y


def test_grouped_importance_equals_permutation_importance_of_the_whole_model():
    """Transform once and permute a raw column's outputs together: scikit-learn's numbers."""
    from sklearn.inspection import permutation_importance

    model, X, y = _fitted_pipeline()
    groups = evaluation.column_groups(model, list(X.columns))
    assert {k: len(v) for k, v in groups.items()} == {"a": 1, "b": 1, "colour": 3, "id": 0}
    want = permutation_importance(
        model, X, y, n_repeats=7, random_state=3, scoring=evaluation.SCORING
    )
    matrix, names, groups = evaluation.transformed_groups(model, X)
    # HistGradientBoosting re-runs only the trees that split on the permuted columns
    assert evaluation.tree_predictor(model[-1], matrix, names) is not None
    got = evaluation.grouped_importance(model[-1], matrix, names, y, groups, 7, 3)
    assert np.array_equal(got.importances, want.importances)
    assert got.importances[3].tolist() == [0.0] * 7  # the dropped column changes nothing
    rows = evaluation.importance_rows(model, X, y, repeats=7, seed=3)
    by_feature = rows.set_index("feature")["importance"]
    expected = pd.Series(want.importances_mean.round(6), index=X.columns).drop("id")
    assert by_feature.sort_index().equals(expected.sort_index())


def test_importance_leaves_out_the_columns_the_model_never_reads():
    """A dropped identifier would read as a useless feature: it is not listed at all."""
    model, X, y = _fitted_pipeline()
    assert evaluation.unread_columns(model, list(X.columns)) == ["id"]
    rows = evaluation.importance_rows(model, X, y, repeats=2, seed=0)
    assert sorted(rows["feature"]) == ["a", "b", "colour"]
    assert evaluation.unread_columns(model[-1], list(X.columns)) == []  # no ColumnTransformer


def test_grouped_importance_stacks_repeats_into_bounded_predictions(monkeypatch):
    """Fewer rows per prediction call than the repeats need change nothing."""
    model, X, y = _fitted_pipeline(n=300)
    matrix, names, groups = evaluation.transformed_groups(model, X)
    whole = evaluation.grouped_importance(model[-1], matrix, names, y, groups, 5, 1)
    monkeypatch.setattr(evaluation, "IMPORTANCE_BATCH_ROWS", 2 * len(X))
    batched = evaluation.grouped_importance(model[-1], matrix, names, y, groups, 5, 1)
    assert np.array_equal(whole.importances, batched.importances)


def test_balanced_accuracy_of_codes_is_scikit_learns_bit_for_bit():
    rng = np.random.default_rng(0)
    for trial in range(200):
        n_classes = int(rng.integers(2, 6))
        truth = rng.integers(0, n_classes, int(rng.integers(5, 300)))
        predicted = rng.integers(0, n_classes, len(truth))
        if trial % 3 == 0:  # a class predicted, absent from the truth: a warning, dropped
            truth[truth == n_classes - 1] = 0
        with warnings.catch_warnings(record=True) as ours:
            warnings.simplefilter("always")
            got = evaluation.balanced_accuracy_codes(truth, predicted, n_classes)
        with warnings.catch_warnings(record=True) as theirs:
            warnings.simplefilter("always")
            want = skm.balanced_accuracy_score(truth, predicted)
        assert got == want
        assert [str(w.message) for w in ours] == [str(w.message) for w in theirs]


def test_grouped_importance_scores_text_labels_as_codes(monkeypatch):
    """The importance of a text-labelled model never calls scikit-learn's slow metric."""
    model, X, y = _fitted_pipeline(n=200)
    matrix, names, groups = evaluation.transformed_groups(model, X)
    want = evaluation.grouped_importance(model[-1], matrix, names, y, groups, 3, 0)

    def refuse(*args):
        raise AssertionError("scikit-learn's balanced_accuracy_score was called")

    monkeypatch.setitem(evaluation.IMPORTANCE_METRICS, "balanced_accuracy", refuse)
    got = evaluation.grouped_importance(model[-1], matrix, names, y, groups, 3, 0)
    assert np.array_equal(got.importances, want.importances)


def test_importance_of_a_preprocessing_that_mixes_columns_scores_the_whole_model():
    """KNNImputer fills a column from the others: permuting outputs would not be the same."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import KNNImputer
    from sklearn.inspection import permutation_importance

    model, X, y = _fitted_pipeline(n=200)
    mixing = ColumnTransformer([("num", KNNImputer(), ["a", "b"])]).set_output(transform="pandas")
    model.steps[0] = ("preprocess", mixing.fit(X))
    model[-1].fit(mixing.transform(X), y)
    assert evaluation.column_groups(model, list(X.columns)) is None
    rows = evaluation.importance_rows(model, X, y, repeats=3, seed=0)
    want = permutation_importance(
        model, X, y, n_repeats=3, random_state=0, scoring="balanced_accuracy"
    )
    # colour and id are dropped by the remainder: the model reads a and b only
    expected = pd.Series(want.importances_mean.round(6), index=X.columns)[["a", "b"]]
    assert rows.set_index("feature")["importance"].sort_index().equals(expected.sort_index())


@pytest.mark.parametrize("classes", [2, 3])
def test_predict_with_proba_gives_the_labels_predict_gives(classes):
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.neighbors import KNeighborsClassifier

    model, X, y = _fitted_pipeline(classes=classes)
    for estimator in (
        None,
        RandomForestClassifier(n_estimators=5, random_state=0),
        KNeighborsClassifier(),
    ):
        if estimator is not None:
            model.steps[-1] = ("classify", estimator.fit(model[0].transform(X), y))
        labels, proba = evaluation.predict_with_proba(model, X)
        assert np.array_equal(labels, model.predict(X))
        assert np.array_equal(proba, model.predict_proba(X))


def test_predict_with_proba_asks_predict_where_probabilities_tie():
    """Rounding can tie two classes the scores set apart: those rows are predicted again."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    class Tied(HistGradientBoostingClassifier):
        def predict_proba(self, X):
            return np.full((len(X), 2), 0.5)

        def predict(self, X):
            return np.full(len(X), self.classes_[1])

    X = pd.DataFrame({"x": np.arange(40.0)})
    y = np.where(X["x"] > 20, "b", "a")
    model = Tied(max_iter=3).fit(X, y)
    labels, _ = evaluation.predict_with_proba(model, X)
    assert labels.tolist() == ["b"] * 40  # argmax alone would say "a"


def test_metrics_on_class_codes_equal_the_metrics_on_text_labels():
    y, pred, proba, classes = _scored(5_000, seed=2)
    got = evaluation.compute_metrics(y, pred, proba, classes, list(evaluation.METRICS))
    skm = evaluation.skm
    want = {
        "accuracy": skm.accuracy_score(y, pred),
        "balanced_accuracy": skm.balanced_accuracy_score(y, pred),
        "f1_macro": skm.f1_score(y, pred, average="macro", labels=classes),
        "roc_auc_ovr": skm.roc_auc_score(y, proba, multi_class="ovr", labels=classes),
        "log_loss": skm.log_loss(y, proba, labels=classes),
    }
    assert got == {k: round(float(v), 6) for k, v in want.items()}
    codes = evaluation.class_codes(np.asarray(y), pred, classes)
    assert codes[2].tolist() == [0, 1, 2] and (classes[codes[0]] == np.asarray(y)).all()
    unknown = evaluation.class_codes(np.array(["a", "q"]), np.array(["a", "a"]), classes)
    assert unknown[0].tolist() == ["a", "q"]  # a label outside the classes: left as text


def test_one_vs_rest_columns_are_label_binarizes():
    from sklearn.preprocessing import label_binarize

    rng = np.random.default_rng(0)
    for classes in (np.array(["no", "yes"]), np.array(["b", "a", "c"]), np.array([3, 1, 2])):
        y = pd.Series(rng.choice(classes, 1_000))
        want = label_binarize(np.asarray(y), classes=classes)
        if len(classes) == 2:
            want = np.hstack([1 - want, want])
        got = evaluation._one_vs_rest(y, classes)
        assert got.dtype == want.dtype and np.array_equal(got, want)


def test_the_importance_walks_trees_on_one_thread_when_idle_threads_sleep(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    monkeypatch.setenv("OMP_WAIT_POLICY", "PASSIVE")
    assert evaluation.replay_threads() == 1
    monkeypatch.delenv("OMP_WAIT_POLICY")
    assert evaluation.replay_threads() == 2
