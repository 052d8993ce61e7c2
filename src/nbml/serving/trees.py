"""HistGradientBoosting's trees walked all at once with numpy, for small batches.

scikit-learn's ``predict_proba`` calls each tree's predictor in turn (one
call per iteration and class, each with its own OpenMP region): about 3 ms
for the 600 trees of the bundled model, whether it scores 1 row or 8. Here
every tree's nodes sit in one set of arrays and each step moves every
(row, tree) pair one level down, so a batch costs about as many numpy calls
as the trees are deep. The tree walk follows scikit-learn's own rules
(missing values go where ``missing_go_to_left`` says, then ``x <= threshold``
goes left); raw predictions start from the baseline and add the trees'
values in iteration order, as scikit-learn does; probabilities come from
the model's own loss, and a regressor's values from its loss's inverse link,
as its ``predict`` computes them. The service still compares the result with the model
on the test split at start-up, and uses scikit-learn's path on any difference.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

# The estimators whose trees are walked here (exact types: a subclass may predict otherwise).
WALKED = (HistGradientBoostingClassifier, HistGradientBoostingRegressor)


@dataclass(frozen=True)
class Forest:
    """Every tree of a fitted HistGradientBoosting classifier or regressor in flat node arrays."""

    feature: np.ndarray
    threshold: np.ndarray
    missing_left: np.ndarray
    left: np.ndarray
    right: np.ndarray
    leaf: np.ndarray
    value: np.ndarray
    roots: np.ndarray
    depth: int
    n_iter: int
    n_trees: int
    baseline: np.ndarray
    loss: Any

    def raw_predict(self, x: np.ndarray) -> np.ndarray:
        """Raw predictions (rows x trees per iteration), as ``_raw_predict`` gives them."""
        rows = x.shape[0]
        node = np.tile(self.roots, (rows, 1))
        index = np.arange(rows)[:, None]
        for _ in range(self.depth):
            at_leaf = self.leaf[node]
            if at_leaf.all():
                break
            values = x[index, self.feature[node]]
            below = values <= self.threshold[node]
            go_left = np.where(np.isnan(values), self.missing_left[node], below)
            step = np.where(go_left, self.left[node], self.right[node])
            node = np.where(at_leaf, node, step)
        leaves = self.value[node].reshape(rows, self.n_iter, self.n_trees)
        start = np.broadcast_to(self.baseline.reshape(1, 1, -1), (rows, 1, self.n_trees))
        # add.accumulate sums strictly in order: baseline + tree 1 + tree 2 + ...
        total = np.add.accumulate(np.concatenate([start, leaves], axis=1), axis=1)[:, -1, :]
        return np.asfortranarray(total)

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        return self.loss.predict_proba(self.raw_predict(x))

    def predict(self, x: np.ndarray) -> np.ndarray:
        """A regressor's predicted values (HistGradientBoostingRegressor.predict)."""
        return self.loss.link.inverse(self.raw_predict(x).ravel())


def compile_forest(estimator: Any) -> Forest | None:
    """The trees of a HistGradientBoosting classifier or regressor on numeric inputs; None
    for anything else."""
    if type(estimator) not in WALKED:
        return None
    if getattr(estimator, "_preprocessor", None) is not None:
        return None
    predictors = estimator._predictors
    nodes = [p.nodes for iteration in predictors for p in iteration]
    if not nodes or any(n["is_categorical"].any() for n in nodes):
        return None
    offsets = np.cumsum([0] + [len(n) for n in nodes[:-1]])
    flat = np.concatenate(nodes)
    shift = np.repeat(offsets, [len(n) for n in nodes])
    return Forest(
        feature=flat["feature_idx"].astype(np.intp),
        threshold=flat["num_threshold"].astype(np.float64),
        missing_left=flat["missing_go_to_left"].astype(bool),
        left=flat["left"].astype(np.intp) + shift,
        right=flat["right"].astype(np.intp) + shift,
        leaf=flat["is_leaf"].astype(bool),
        value=flat["value"].astype(np.float64),
        roots=offsets.astype(np.intp),
        depth=int(flat["depth"].max()) + 1,
        n_iter=len(predictors),
        n_trees=len(predictors[0]),
        baseline=np.asarray(estimator._baseline_prediction, dtype=np.float64).ravel(),
        loss=estimator._loss,
    )
