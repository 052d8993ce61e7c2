"""HistGradientBoosting's trees walked all at once with numpy, for small batches.

scikit-learn's ``predict_proba`` calls each tree's predictor in turn (one
call per iteration and class, each with its own OpenMP region): about 3 ms
for the 600 trees of the bundled model, whether it scores 1 row or 8. Here
every tree's nodes sit in one set of arrays and each step moves every
(row, tree) pair one level down, so a batch costs about as many numpy calls
as the trees are deep. The tree walk follows scikit-learn's own rules
(missing values go where ``missing_go_to_left`` says, then ``x <= threshold``
goes left; on a category, a code in the split's left set goes left, another
code training saw goes right, and a negative or unseen code goes where missing
values go); raw predictions start from the baseline and add the trees'
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

from nbml.steps import hgb

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
    # per node: its row in ``left_codes``/``known_codes`` (0 for a split on a number),
    # and whether it splits on a category; each row: 256 codes, True where in the set
    categorical: np.ndarray
    code_row: np.ndarray
    left_codes: np.ndarray
    known_codes: np.ndarray
    # a model with categorical inputs encodes them itself and puts them first: the input
    # columns in its order (None: as they come), and its code of each value by column
    order: np.ndarray | None
    recode: dict[int, np.ndarray]
    depth: int
    n_iter: int
    n_trees: int
    baseline: np.ndarray
    loss: Any

    def raw_predict(self, x: np.ndarray) -> np.ndarray:
        """Raw predictions (rows x trees per iteration), as ``_raw_predict`` gives them."""
        x = self._own_inputs(x)
        rows = x.shape[0]
        node = np.tile(self.roots, (rows, 1))
        index = np.arange(rows)[:, None]
        for _ in range(self.depth):
            at_leaf = self.leaf[node]
            if at_leaf.all():
                break
            values = x[index, self.feature[node]]
            below = values <= self.threshold[node]
            missing = np.isnan(values)
            if self.left_codes.shape[0] > 1:
                below, missing = self._categories(node, values, below, missing)
            go_left = np.where(missing, self.missing_left[node], below)
            step = np.where(go_left, self.left[node], self.right[node])
            node = np.where(at_leaf, node, step)
        leaves = self.value[node].reshape(rows, self.n_iter, self.n_trees)
        start = np.broadcast_to(self.baseline.reshape(1, 1, -1), (rows, 1, self.n_trees))
        # add.accumulate sums strictly in order: baseline + tree 1 + tree 2 + ...
        total = np.add.accumulate(np.concatenate([start, leaves], axis=1), axis=1)[:, -1, :]
        return np.asfortranarray(total)

    def _own_inputs(self, x: np.ndarray) -> np.ndarray:
        """The rows as the model's own encoder gives them (its ``_preprocessor``): the
        categorical columns first, each value as its position among the values training
        saw, any other value missing (NaN)."""
        if self.order is None:
            return x
        x = x[:, self.order]
        for j, seen in self.recode.items():
            values = x[:, j]
            at = np.minimum(np.searchsorted(seen, values), len(seen) - 1)
            x[:, j] = np.where(seen[at] == values, at, np.nan)
        return x

    def _categories(
        self, node: np.ndarray, values: np.ndarray, below: np.ndarray, missing: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """``below`` and ``missing`` with the splits on categories decided by code."""
        on_code = self.categorical[node] & ~missing
        # scikit-learn casts the value to a uint8 bin; a negative one counts as missing
        codes = np.clip(np.nan_to_num(values, nan=0.0), 0, 255).astype(np.intp)
        row = self.code_row[node]
        known = self.known_codes[row, codes]
        in_left = self.left_codes[row, codes]
        below = np.where(on_code, in_left, below)
        missing = missing | (on_code & ((values < 0) | ~(in_left | known)))
        return below, missing

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
    order, recode = _own_encoding(estimator)
    if order is False:
        return None
    predictors = estimator._predictors
    trees = [p for iteration in predictors for p in iteration]
    nodes = [p.nodes for p in trees]
    if not nodes:
        return None
    offsets = np.cumsum([0] + [len(n) for n in nodes[:-1]])
    flat = np.concatenate(nodes)
    shift = np.repeat(offsets, [len(n) for n in nodes])
    categorical, code_row, left_codes, known_codes = _code_sets(estimator, trees)
    return Forest(
        feature=flat["feature_idx"].astype(np.intp),
        threshold=flat["num_threshold"].astype(np.float64),
        missing_left=flat["missing_go_to_left"].astype(bool),
        left=flat["left"].astype(np.intp) + shift,
        right=flat["right"].astype(np.intp) + shift,
        leaf=flat["is_leaf"].astype(bool),
        value=flat["value"].astype(np.float64),
        roots=offsets.astype(np.intp),
        categorical=categorical,
        code_row=code_row,
        left_codes=left_codes,
        known_codes=known_codes,
        order=order,
        recode=recode,
        depth=int(flat["depth"].max()) + 1,
        n_iter=len(predictors),
        n_trees=len(predictors[0]),
        baseline=np.asarray(estimator._baseline_prediction, dtype=np.float64).ravel(),
        loss=estimator._loss,
    )


def _code_sets(
    estimator: Any, trees: list[Any]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """For every node of ``trees`` in order: whether it splits on a category, its row in
    the code tables, and the tables (row 0 is unused: a split on a number)."""
    categorical, rows = [], []
    left, known = [np.zeros((1, 256), dtype=bool)], [np.zeros((1, 256), dtype=bool)]
    count, seen = 1, None
    for tree in trees:
        is_cat = tree.nodes["is_categorical"].astype(bool)
        at = np.flatnonzero(is_cat)
        row = np.zeros(len(is_cat), dtype=np.intp)
        if len(at):
            if seen is None:  # the codes training saw, by feature: once for every tree
                bitsets, feature_row = estimator._bin_mapper.make_known_categories_bitsets()
                seen = hgb.bitset_table(bitsets)[feature_row]
            features = tree.nodes["feature_idx"][at].astype(np.intp)
            left.append(hgb.bitset_table(tree.raw_left_cat_bitsets)[tree.nodes["bitset_idx"][at]])
            known.append(seen[features])
            row[at] = count + np.arange(len(at))
            count += len(at)
        categorical.append(is_cat)
        rows.append(row)
    return (
        np.concatenate(categorical),
        np.concatenate(rows),
        np.concatenate(left),
        np.concatenate(known),
    )


def _own_encoding(estimator: Any) -> tuple[Any, dict[int, np.ndarray]]:
    """The column order and value codes of a model's own categorical encoder (None, {}
    without one; False for an encoder of another form than scikit-learn's)."""
    pre = getattr(estimator, "_preprocessor", None)
    if pre is None:
        return None, {}
    encoder = pre.named_transformers_.get("encoder")
    inputs = np.asarray(estimator.is_categorical_, dtype=bool)
    plain = all(
        isinstance(seen, np.ndarray) and seen.dtype.kind == "f" and not np.isnan(seen).any()
        for seen in getattr(encoder, "categories_", [None])
    )
    if encoder is None or not plain or len(encoder.categories_) != inputs.sum():
        return False, {}
    return hgb.input_order(estimator), dict(enumerate(encoder.categories_))
