"""nbml.steps.hgb: HistGradientBoosting's predictions from bins, and the permuted-copy replay."""

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

from nbml.steps import evaluation, hgb


def _data(n=3_000, seed=0):
    """Numbers with missing values, a column of few values, and a three-class target."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        {
            "a": rng.normal(size=n),
            "b": rng.normal(size=n),
            "few": rng.integers(0, 4, n).astype(float),
            "noise": rng.normal(size=n),
        }
    )
    X.loc[rng.random(n) < 0.1, "a"] = np.nan
    score = X["a"].fillna(1.5) + X["b"] * X["few"] + rng.normal(scale=0.5, size=n)
    return X, score


def _unseen(X, seed=1):
    """Rows the model never saw: values beyond the training range, infinities, missing."""
    rng = np.random.default_rng(seed)
    out = X.sample(frac=1.0, random_state=seed).reset_index(drop=True)
    out.loc[rng.random(len(out)) < 0.05, "b"] = 50.0
    out.loc[rng.random(len(out)) < 0.05, "b"] = -np.inf
    out.loc[rng.random(len(out)) < 0.05, "few"] = np.nan  # missing where training had none
    return out


def _codes(X, seed=2):
    """``few`` as category codes, as featurize gives them: 0..3, missing where unseen."""
    out = X.copy()
    out.loc[np.random.default_rng(seed).random(len(out)) < 0.05, "few"] = 7.0  # unseen code
    return out


@pytest.mark.parametrize(
    "kind, categories",
    [("classifier", None), ("regressor", None), ("classifier", [2]), ("regressor", [2])],
)
def test_raw_predictions_from_bins_are_scikit_learns(kind, categories):
    """Bit for bit, also with splits on a category (``few`` as codes, unseen codes too)."""
    X, score = _data()
    settings = {"max_iter": 40, "random_state": 0, "categorical_features": categories}
    if kind == "classifier":
        y = np.digitize(score, [0.5, 1.5])
        model = HistGradientBoostingClassifier(**settings).fit(X, y)
    else:
        model = HistGradientBoostingRegressor(**settings).fit(X, score)
    if categories:
        assert any(p.nodes["is_categorical"].any() for it in model._predictors for p in it)
    test = _unseen(_codes(X) if categories else X)
    rows = hgb.binned(model, model._preprocess_X(test, reset=False))
    assert rows.dtype == np.uint8
    assert np.array_equal(hgb.raw_predict(model, rows, 2), model._raw_predict(test))


@pytest.mark.parametrize("categories", [None, [2]])
def test_replay_of_permuted_copies_is_scikit_learns_with_fewer_rows_walked(
    monkeypatch, categories
):
    X, score = _data(n=2_000)
    model = HistGradientBoostingClassifier(
        max_iter=30, max_leaf_nodes=15, random_state=0, categorical_features=categories
    )
    model.fit(X, np.digitize(score, [0.5, 1.5]))
    sample = _unseen(_codes(X) if categories else X).to_numpy()
    replay = hgb.Replay(model, hgb.binned(model, hgb.model_rows(model, sample)), threads=1)
    assert replay.walks_agree
    walked = []
    run = replay._run
    monkeypatch.setattr(
        replay, "_run", lambda tree, rows: walked.append(len(rows)) or run(tree, rows)
    )
    orders = evaluation.permutation_orders(len(sample), 3, seed=5)
    for group in ([0], [1, 2], [3]):
        copies = hgb.permuted_copies(sample, orders, np.array(group))
        want = model._raw_predict(pd.DataFrame(copies, columns=X.columns))
        assert np.array_equal(replay.raw(orders, np.array(group)), want)
    # only the rows whose path meets a split on the permuted columns were walked again
    groups = [set(replay.position[g].tolist()) for g in ([0], [1, 2], [3])]
    splitting = [sum(bool(g & set(p)) for p in replay.passes) for g in groups]
    every = 3 * len(sample) * sum(splitting)  # the rows of every tree that splits on them
    assert 0 < sum(walked) < every
    untouched = replay.raw([np.arange(len(sample))], np.array([], dtype=int))
    assert np.array_equal(untouched, model._raw_predict(pd.DataFrame(sample, columns=X.columns)))


def test_subclasses_are_left_to_scikit_learn():
    X, score = _data(n=500)
    y = np.digitize(score, [0.5, 1.5])

    class Own(HistGradientBoostingClassifier):
        pass

    assert hgb.supports(HistGradientBoostingClassifier(max_iter=3).fit(X, y))
    assert not hgb.supports(Own(max_iter=3).fit(X, y))
    assert not hgb.supports(HistGradientBoostingClassifier(max_iter=3))  # not fitted


def test_inputs_of_a_model_with_categories_are_found_where_it_put_them():
    """scikit-learn encodes categorical inputs itself and puts them first."""
    X, score = _data(n=500)
    y = np.digitize(score, [0.5, 1.5])
    coded = HistGradientBoostingClassifier(max_iter=3, categorical_features=[2]).fit(X, y)
    assert hgb.positions(coded).tolist() == [1, 2, 0, 3]
    rows = hgb.model_rows(coded, X.to_numpy())
    assert np.array_equal(rows[:, 0], X["few"].to_numpy())  # codes 0..3 stay 0..3
    assert np.array_equal(rows[:, 1:], X[["a", "b", "noise"]].to_numpy(), equal_nan=True)
    plain = HistGradientBoostingClassifier(max_iter=3).fit(X, y)
    assert hgb.positions(plain).tolist() == [0, 1, 2, 3]


def test_predict_with_proba_of_a_boosting_model_walks_the_trees_once(monkeypatch):
    """Labels and probabilities from one binned pass: predict_proba and predict are not called."""
    X, score = _data()
    model = HistGradientBoostingClassifier(max_iter=20, random_state=0)
    model.fit(X, np.array(["x", "y", "z"])[np.digitize(score, [0.5, 1.5])])
    test = _unseen(X)
    want_labels, want_proba = model.predict(test), model.predict_proba(test)

    def refuse(*args, **kwargs):
        raise AssertionError("predicted again")

    monkeypatch.setattr(model, "predict_proba", refuse)
    monkeypatch.setattr(model, "predict", refuse)
    labels, proba = evaluation.predict_with_proba(model, test)
    assert np.array_equal(labels, want_labels)
    assert np.array_equal(proba, want_proba)


def test_importance_of_a_boosting_regressor_is_permutation_importances():
    """The replay serves regression too: r2 drops equal scikit-learn's, bit for bit."""
    from sklearn.compose import ColumnTransformer
    from sklearn.inspection import permutation_importance
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    X, score = _data(n=1_500)
    pre = ColumnTransformer([("num", StandardScaler(), list(X.columns))])
    pre.set_output(transform="pandas")
    estimator = HistGradientBoostingRegressor(max_iter=25, max_leaf_nodes=15, random_state=0)
    model = Pipeline([("preprocess", pre), ("regress", estimator)]).fit(X, score)
    matrix, names, groups = evaluation.transformed_groups(model, X)
    assert evaluation.tree_predictor(model[-1], matrix, names) is not None
    got = evaluation.grouped_importance(model[-1], matrix, names, score, groups, 4, 2, "r2")
    want = permutation_importance(model, X, score, n_repeats=4, random_state=2, scoring="r2")
    assert np.array_equal(got.importances, want.importances)
