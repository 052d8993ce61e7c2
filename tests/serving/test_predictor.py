"""Rows to answers: the numpy path equals the pipeline, and falls back when it would not."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest
from sklearn.preprocessing import MinMaxScaler

from nbml.project import paths
from nbml.serving.answers import prediction_body
from nbml.serving.batching import MicroBatcher
from nbml.serving.predictor import FOREST_MAX_ROWS, NumericBlock, Predictor, check_rows
from nbml.serving.scoring import predictions_frame
from nbml.serving.service import Service
from nbml.serving.settings import Settings
from nbml.serving.trees import compile_forest
from nbml.steps import data, feature_types, features, model


@pytest.fixture(scope="module")
def service(trained):
    service = Service.prepare(Settings(trained))
    service.load()
    return service


@pytest.fixture(scope="module")
def rows(trained, service):
    return check_rows(pd.read_parquet(paths(trained).test), service.specs)


def assert_same_in_batches(walk: Callable, reference: Callable, matrix: np.ndarray) -> None:
    """The tree walk equals scikit-learn's answer bit for bit, for 1 row, 7 rows and all."""
    for size in (1, 7, len(matrix)):
        for i in range(0, len(matrix), size):
            part = matrix[i : i + size]
            assert np.array_equal(walk(part), reference(part))


def test_numpy_rows_give_exactly_the_pipelines_answers(service, rows):
    predictor = service.predictor
    assert predictor.fast
    labels, proba = predictor.predict(rows)
    ref_labels, ref_proba = predictor.reference(rows)
    assert labels == ref_labels and np.array_equal(proba, ref_proba)
    assert any(None in row for row in rows) and len(rows) > 100
    # small batches walk the trees with numpy: still exactly the same, splits on the
    # category codes (island, sex) included
    assert predictor.forest is not None and predictor.forest.categorical.any()
    for size in (1, 8, FOREST_MAX_ROWS):
        parts = [predictor.predict(rows[i : i + size]) for i in range(0, len(rows), size)]
        assert [label for part in parts for label in part[0]] == ref_labels
        assert np.array_equal(np.vstack([part[1] for part in parts]), ref_proba)


def test_a_tree_walk_that_differs_is_dropped_and_the_rest_kept(service, trained, rows):
    predictor = Predictor(service.predictor.model, service.specs)
    forest = predictor.forest
    predictor.forest = dataclasses.replace(forest, threshold=forest.threshold + 0.05)
    assert predictor.self_check(pd.read_parquet(paths(trained).test)) is True
    assert predictor.forest is None and predictor.fast


def test_a_numpy_path_that_differs_is_dropped_at_start(service, rows, trained):
    predictor = Predictor(service.predictor.model, service.specs)
    block = predictor.blocks[0]
    assert isinstance(block, NumericBlock)
    predictor.blocks[0] = dataclasses.replace(block, fill=block.fill + 1.0)  # a wrong median
    assert predictor.self_check(pd.read_parquet(paths(trained).test)) is False
    assert not predictor.fast
    labels, proba = predictor.predict(rows)
    assert np.array_equal(proba, predictor.reference(rows)[1])


def test_other_preprocessing_goes_through_the_pipeline(service, trained, rows):
    train = pd.read_parquet(paths(trained).train)
    types = feature_types.infer_feature_types(train, "species")
    pre = features.build_preprocessor(types)
    pre.transformers[0][1].steps[1] = ("scale", MinMaxScaler())
    X, y = data.split_xy(train, "species")
    est = model.make_estimator("sklearn.linear_model.LogisticRegression", {"max_iter": 500})
    fitted = model.compose(pre, est).fit(X, y)
    predictor = Predictor(fitted, service.specs)
    assert not predictor.fast
    labels, proba = predictor.predict(rows)
    frame = pd.DataFrame(rows, columns=[s.name for s in service.specs])
    frame = frame.astype({c: "str" for c in ("island", "sex")})
    assert np.array_equal(proba, fitted.predict_proba(frame))


def test_concurrent_requests_share_one_call_and_get_their_own_rows(service, rows):
    calls: list[int] = []

    def predict(batch):
        calls.append(len(batch))
        return service.predictor.predict(batch)

    async def main():
        batcher = MicroBatcher(predict, wait_ms=20, max_batch=64)
        batcher.start()
        try:
            return await asyncio.gather(*(batcher.submit(rows[i : i + 2]) for i in range(0, 16, 2)))
        finally:
            await batcher.stop()

    answers = asyncio.run(main())
    assert sum(calls) == 16 and len(calls) < 8
    for k, (labels, proba) in enumerate(answers):
        ref_labels, ref_proba = service.predictor.predict(rows[2 * k : 2 * k + 2])
        assert labels == ref_labels and np.array_equal(proba, ref_proba)


def test_tree_walk_of_a_binary_classifier_with_gaps_equals_scikit_learn(frame):
    two = frame[frame["label"] != "c"].reset_index(drop=True)
    types = feature_types.infer_feature_types(two, "label")
    X, y = data.split_xy(two, "label")
    est = model.make_estimator(
        "sklearn.ensemble.HistGradientBoostingClassifier",
        {"max_iter": 15, "min_samples_leaf": 5, "random_state": 0},
    )
    pre = features.build_preprocessor(types)
    matrix = pre.fit_transform(X).to_numpy()
    matrix[::4, 0] = np.nan  # missing values reach the trees too
    est.fit(matrix, y)
    forest = compile_forest(est)
    assert forest is not None and forest.n_trees == 1
    assert_same_in_batches(forest.predict_proba, est.predict_proba, matrix)


def test_a_regressor_is_served_with_numbers_and_its_trees_walked_exactly(service, trained, rows):
    train = pd.read_parquet(paths(trained).train)
    X, _ = data.split_xy(train, "species")
    y = 0.01 * X["body_mass_g"].fillna(4000) + np.arange(len(X)) % 7  # a quantity
    types = feature_types.infer_feature_types(train, "species")
    est = model.make_estimator("auto", {"max_iter": 30, "random_state": 0}, task="regression")
    fitted = model.compose(features.build_preprocessor(types), est).fit(X, y)
    predictor = Predictor(fitted, service.specs)
    assert predictor.task == "regression" and predictor.classes == []
    assert predictor.self_check(pd.read_parquet(paths(trained).test))
    assert predictor.fast and predictor.forest is not None  # the numpy tree walk kept
    values, proba = predictor.predict(rows[:FOREST_MAX_ROWS])
    assert proba.shape == (FOREST_MAX_ROWS, 0) and all(isinstance(v, float) for v in values)
    assert values == predictor.reference(rows[:FOREST_MAX_ROWS])[0]
    body = json.loads(prediction_body(values[:2], proba[:2], predictor.classes))
    assert body == {"predictions": [{"value": values[0]}, {"value": values[1]}]}
    frame = pd.DataFrame(rows[:5], columns=[s.name for s in service.specs])
    frame = frame.astype({c: "str" for c in ("island", "sex")})
    scored = predictions_frame(predictor, frame)
    assert list(scored.columns) == ["prediction"]
    assert np.array_equal(scored["prediction"], fitted.predict(frame))


def test_tree_walk_of_a_regressor_with_gaps_equals_scikit_learn():
    rng = np.random.default_rng(0)
    matrix = rng.normal(size=(300, 4))
    y = matrix[:, 0] * 3 + np.sin(matrix[:, 1]) + rng.normal(scale=0.1, size=300)
    matrix[::5, 2] = np.nan  # missing values reach the trees too
    est = model.make_estimator("auto", {"max_iter": 25, "random_state": 0}, task="regression")
    est.fit(matrix, y)
    forest = compile_forest(est)
    assert forest is not None and forest.n_trees == 1
    assert_same_in_batches(forest.predict, est.predict, matrix)


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_tree_walk_of_splits_on_category_codes_equals_scikit_learn(task):
    """Codes seen in training go by the split's left set; a negative, unseen, non-integer
    or missing code goes where the split sends missing values, as in scikit-learn."""
    rng = np.random.default_rng(3)
    n = 600
    matrix = np.column_stack([rng.normal(size=n), rng.integers(0, 6, n), rng.normal(size=n)])
    score = matrix[:, 0] + np.where(np.isin(matrix[:, 1], [1, 4]), 2.0, -1.0)
    y = score if task == "regression" else np.digitize(score, [-0.5, 1.0])
    est = model.make_estimator(
        "auto", {"max_iter": 20, "random_state": 0, "categorical_features": [1]}, task=task
    )
    est.fit(matrix, y)
    forest = compile_forest(est)
    assert forest is not None and forest.categorical.any()
    scored = matrix.copy()
    odd = rng.random(n)
    scored[odd < 0.05, 1] = np.nan
    scored[(odd >= 0.05) & (odd < 0.1), 1] = -1.0
    scored[(odd >= 0.1) & (odd < 0.15), 1] = 9.0  # never seen
    scored[(odd >= 0.15) & (odd < 0.2), 1] = 4.7  # scikit-learn reads it as 4
    walk, sklearn = (
        (forest.predict, est.predict)
        if task == "regression"
        else (forest.predict_proba, est.predict_proba)
    )
    assert_same_in_batches(walk, sklearn, scored)
