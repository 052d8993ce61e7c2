"""The estimator named in params.yaml, the served model, and safe model files.

Models are stored with skops, whose loader refuses any type it is not told
to trust; nothing here reads pickle or joblib. skops' own zip output embeds
``id()`` values and the current time, so :func:`save_model` rewrites it in a
canonical form: the same fitted model always gives the same bytes, which
keeps ``dvc repro -f`` from changing ``dvc.lock``.
"""

from __future__ import annotations

import importlib
import inspect
import io
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, is_classifier
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OrdinalEncoder, TargetEncoder

from nbml.errors import ModelError
from nbml.messages import progress, warn
from nbml.steps.compute import active, is_dask
from nbml.steps.task import CLASSIFICATION, REGRESSION, estimator_for
from nbml.steps.transformers import BooleanValues, DateParts

# Types a model file may contain beyond what skops trusts by default
# (scikit-learn estimators, builtins, numpy arrays). Each is a plain data
# holder inside a scikit-learn estimator; add to it when train reports an
# untrusted type for a new estimator, after checking what the type is.
TRUSTED_TYPES: tuple[str, ...] = (
    "numpy.dtype",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.tree._tree.Tree",
    "sklearn._loss.link.Interval",
    "sklearn._loss.link.LogitLink",
    "sklearn._loss.link.MultinomialLogit",
    "sklearn._loss.loss.HalfBinomialLoss",
    "sklearn._loss.loss.HalfMultinomialLoss",
    "sklearn._loss.loss.HalfSquaredError",
    "sklearn._loss.link.IdentityLink",
    "sklearn.neighbors._kd_tree.KDTree",
    "sklearn.neighbors._ball_tree.BallTree",
    "sklearn.metrics._dist_metrics.EuclideanDistance64",
    "collections.OrderedDict",
    # the cross-fitting folds of a TargetEncoder (seeded splitters, no data)
    "sklearn.model_selection._split.KFold",
    "sklearn.model_selection._split.StratifiedKFold",
    # HistGradientBoosting with categorical inputs checks its numeric ones with
    # partial(check_array, dtype=...): skops audits the wrapped function as well,
    # so a partial in the file can only call a function listed here
    "functools.partial",
    "sklearn.utils.validation.check_array",
    # nbml's own transformers (dates, booleans): plain strings and numbers inside
    *(f"{cls.__module__}.{cls.__qualname__}" for cls in (DateParts, BooleanValues)),
    # LightGBM (train on a Dask cluster): the estimator's settings, and the
    # booster, which is kept as LightGBM's model text and parsed back on load
    "lightgbm.sklearn.LGBMClassifier",
    "lightgbm.sklearn.LGBMRegressor",
    "lightgbm.basic.Booster",
)
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
TARGET_ENCODING_REFUSAL = (
    "featurize.target_encode_above: a category is target encoded, which is cross-fitted on "
    "one machine only, and compute.scheduler names a Dask cluster; set "
    "featurize.target_encode_above: null (or compute.scheduler: null)"
)
# Training rows train scores and re-predicts after reloading the model file:
# a full prediction of millions of rows costs more than the check tells.
CHECK_ROWS = 20_000
# Raw rows transformed per preprocessor call while the training matrix is
# built: bounds the transform's temporaries (a DataFrame per part) to tens of MB.
MATRIX_CHUNK_ROWS = 100_000
# HistGradientBoosting's early_stopping="auto" turns on above this many rows.
_HGB_AUTO_EARLY_STOPPING = 10_000
# Estimators that split on a column of category codes as a category (their
# ``categorical_features``): featurize gives them codes instead of one-hot columns.
CODE_SPLITTERS = (HistGradientBoostingClassifier, HistGradientBoostingRegressor)


def estimator_class(import_path: str) -> type:
    """Import ``package.module.ClassName`` and check it is a classifier or a regressor."""
    module_name, _, class_name = import_path.rpartition(".")
    if not module_name:
        raise ModelError(
            f"params.yaml train.estimator: '{import_path}' is not an import path "
            "(expected e.g. sklearn.ensemble.RandomForestClassifier)"
        )
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ModelError(
            f"params.yaml train.estimator: cannot import module '{module_name}' ({exc})"
        ) from None
    cls = getattr(module, class_name, None)
    if not inspect.isclass(cls):
        raise ModelError(
            f"params.yaml train.estimator: module '{module_name}' has no class '{class_name}'"
        )
    if not (issubclass(cls, BaseEstimator) and issubclass(cls, (ClassifierMixin, RegressorMixin))):
        raise ModelError(
            f"params.yaml train.estimator: {import_path} is not a scikit-learn classifier "
            "or regressor"
        )
    return cls


def _distributed() -> Any:
    """nbml.steps.distributed_model, imported when a stage first trains or scores on a cluster."""
    # lazy: LightGBM and Dask are imported only when compute.scheduler names a cluster
    from nbml.steps import distributed_model

    return distributed_model


def make_estimator(
    import_path: str, kwargs: dict[str, Any] | None, task: str = CLASSIFICATION
) -> ClassifierMixin:
    """Instantiate the configured estimator (``auto``: the task's), refusing unknown keywords.

    With a cluster (compute.scheduler), its Dask twin; one that cannot train
    on Dask collections is refused, naming those that can.
    """
    import_path = estimator_for(import_path, task)
    if active().client is not None:
        return _distributed().make_estimator(import_path, kwargs)
    cls = estimator_class(import_path)
    kwargs = dict(kwargs or {})
    signature = inspect.signature(cls.__init__)
    accepted = {n for n in signature.parameters if n != "self"}
    takes_any = any(p.kind is p.VAR_KEYWORD for p in signature.parameters.values())
    unknown = [] if takes_any else sorted(set(kwargs) - accepted)
    if unknown:
        raise ModelError(
            f"params.yaml train.kwargs: {', '.join(unknown)} not accepted by {import_path}; "
            f"it takes: {', '.join(sorted(accepted))}"
        )
    return cls(**kwargs)


def takes_category_codes(import_path: str, task: str) -> bool:
    """Whether train.estimator splits on category codes itself (on this machine).

    Why codes: HistGradientBoosting splits a category's values into two sets in
    one split, where one-hot columns need a split per value; with fewer columns
    its histograms cost less (the fit took 0.58x the time at 10^6 rows of the
    benchmark table, 23 columns instead of 42) and its accuracy was higher.
    On a cluster, LightGBM trains on the one-hot columns.
    """
    if active().client is not None:
        return False
    return issubclass(estimator_class(estimator_for(import_path, task)), CODE_SPLITTERS)


def _code_columns(preprocessor: Any) -> tuple[list[int], dict[str, int]]:
    """Positions of the fitted preprocessor's category-code outputs, and each coded
    column's number of values."""
    names = [str(n) for n in preprocessor.get_feature_names_out()]
    positions: list[int] = []
    levels: dict[str, int] = {}
    for name, part, columns in getattr(preprocessor, "transformers_", []):
        last = part.steps[-1][1] if isinstance(part, Pipeline) else part
        if isinstance(last, OrdinalEncoder):
            outputs = {f"{name}__{col}" for col in columns}
            positions += [i for i, n in enumerate(names) if n in outputs]
            levels.update({col: len(c) for col, c in zip(columns, last.categories_, strict=True)})
    return sorted(positions), levels


def split_on_codes(estimator: Any, preprocessor: Any) -> list[int]:
    """Tell ``estimator`` which inputs are category codes (``categorical_features``).

    Returns their positions (none: the estimator is left as it is). Refuses a
    setting that would contradict them: an estimator that does not split on
    categories, train.kwargs' own ``categorical_features``, or a ``max_bins``
    below a category's number of values.
    """
    positions, levels = _code_columns(preprocessor)
    if not positions:
        return []
    if not isinstance(estimator, CODE_SPLITTERS):
        raise ModelError(
            f"the preprocessor gives categories as codes, which {type(estimator).__name__} "
            "would read as numbers: run featurize again for this train.estimator "
            "(`dvc repro`), or set featurize.category_codes: false"
        )
    params = estimator.get_params()
    if params.get("categorical_features") not in (None, "from_dtype"):
        raise ModelError(
            "params.yaml train.kwargs.categorical_features: featurize already marks the "
            "category columns; remove it, or set featurize.category_codes: false"
        )
    wide = {col: n for col, n in levels.items() if n > params["max_bins"]}
    if wide:
        raise ModelError(
            f"params.yaml train.kwargs.max_bins: {params['max_bins']} is below the values of "
            f"categories {wide}; raise it (at most 255), or set featurize.category_codes: false"
        )
    estimator.set_params(categorical_features=positions)
    return positions


def fit_estimator(
    classifier: ClassifierMixin, X: Any, y: Any, **fit_params: Any
) -> ClassifierMixin:
    """Fit the estimator, saying on the terminal what is being fitted (it can take minutes)."""
    if is_dask(X):
        return _distributed().fit(classifier, X, y)
    name = type(classifier).__name__
    progress(f"train: fitting {name} on {X.shape[0]:,} rows x {X.shape[1]} columns")
    return classifier.fit(X, y, **fit_params)


@dataclass
class FitRows:
    """What the estimator is fitted on: the matrix, its labels, and fit's other arguments.

    ``params`` holds HistGradientBoosting's early-stopping rows (``X_val``,
    ``y_val``) when they were set apart while the matrix was built;
    ``names`` are the preprocessor's output columns, the matrix's columns.
    """

    X: Any
    y: Any
    names: list[str] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)

    def fit(self, estimator: ClassifierMixin) -> ClassifierMixin:
        """Fit ``estimator`` on these rows; it then knows the column names, as if fitted
        on the DataFrame the preprocessor gives (so the served model warns about nothing)."""
        if self.names and _codes_marked(estimator):
            # it encodes the code columns itself, with a ColumnTransformer that then expects
            # the same kind of input at predict time: the served model's DataFrame
            params = dict(self.params)
            if "X_val" in params:
                params["X_val"] = _named(params["X_val"], self.names)
            return fit_estimator(estimator, _named(self.X, self.names), self.y, **params)
        fit_estimator(estimator, self.X, self.y, **self.params)
        if self.names and not is_dask(self.X):
            _name_columns(estimator, np.asarray(self.names, dtype=object))
        return estimator


def _codes_marked(estimator: Any) -> bool:
    """Whether :func:`split_on_codes` told ``estimator`` which inputs are categories."""
    marked = estimator.get_params().get("categorical_features")
    return isinstance(estimator, CODE_SPLITTERS) and isinstance(marked, list)


def _named(matrix: np.ndarray, names: list[str]) -> pd.DataFrame:
    """The matrix as a DataFrame of the preprocessor's column names, without a copy."""
    return pd.DataFrame(matrix, columns=names, copy=False)


def _name_columns(estimator: Any, names: np.ndarray) -> None:
    """Give a fitted estimator ``feature_names_in_`` where scikit-learn's input check puts it
    (just before ``n_features_in_``): skops writes attributes in order, so a model fitted
    on the matrix is stored byte for byte as one fitted on the DataFrame."""
    state = {}
    for key, value in vars(estimator).items():
        if key == "n_features_in_":
            state["feature_names_in_"] = names
        state[key] = value
    state.setdefault("feature_names_in_", names)
    vars(estimator).clear()
    vars(estimator).update(state)


def fit_rows(preprocessor: Any, estimator: Any, X: Any, y: Any) -> FitRows:
    """The training rows for ``estimator``, built once, in the form it fits on without copying.

    On one machine the matrix is a C-contiguous float64 array, which is what
    HistGradientBoosting (and most scikit-learn estimators) convert their input
    to, so their input check copies nothing. It is filled in chunks of
    MATRIX_CHUNK_ROWS raw rows (the preprocessing works row by row: the values
    are those of ``preprocessor.transform``, :func:`dense_matrices`), so no
    transformed DataFrame of every row exists next to it. For a HistGradientBoosting estimator that
    would hold out early-stopping rows, those rows are set apart here into
    their own array (the same rows it would draw: :func:`validation_rows`) and
    passed as ``X_val``: its own split would copy the whole matrix once more.
    A target encoding, cross-fitted by fit_transform on every row, and a Dask
    frame go through :func:`training_matrix`.
    """
    if is_dask(X):
        return FitRows(training_matrix(preprocessor, X, y), y)
    names = [str(c) for c in preprocessor.get_feature_names_out()]
    if any(isinstance(step, TargetEncoder) for step in _steps(preprocessor)):
        crossed = training_matrix(preprocessor, X, y)
        return FitRows(np.ascontiguousarray(crossed, dtype=np.float64), y, names)
    held_out = validation_rows(estimator, y)
    if held_out is None:
        return FitRows(dense_matrices(preprocessor, X, len(names))[0], y, names)
    fitted, val = held_out
    progress(f"train: {len(val):,} of {len(y):,} rows held out for early stopping")
    X_fit, X_val = dense_matrices(preprocessor, X, len(names), [fitted, val])
    return FitRows(X_fit, _take(y, fitted), names, {"X_val": X_val, "y_val": _take(y, val)})


def _take(values: Any, rows: np.ndarray) -> Any:
    return values.iloc[rows] if isinstance(values, pd.Series) else np.asarray(values)[rows]


def dense_matrices(
    preprocessor: Any, X: pd.DataFrame, width: int, groups: list[np.ndarray] | None = None
) -> list[np.ndarray]:
    """``preprocessor.transform(X.iloc[rows])`` for each array of row positions in ``groups``
    (disjoint; default: every row, in order), as C-contiguous float64 arrays.

    One pass over ``X`` in contiguous chunks of MATRIX_CHUNK_ROWS rows (a slice
    costs nothing, gathering scattered rows of text columns does), each chunk's
    rows then copied to their places in the arrays of their groups.
    """
    groups = [np.arange(len(X))] if groups is None else [np.asarray(g) for g in groups]
    group_of = np.full(len(X), -1, dtype=np.int8)
    place = np.zeros(len(X), dtype=np.int64)
    outs = []
    for i, rows in enumerate(groups):
        group_of[rows], place[rows] = i, np.arange(len(rows))
        outs.append(np.empty((len(rows), width), dtype=np.float64, order="C"))
    if len(X) > MATRIX_CHUNK_ROWS:
        gb = sum(out.nbytes for out in outs) / 2**30
        progress(f"train: transforming {len(X):,} rows into {gb:.1f} GB of float64")
    for start in range(0, len(X), MATRIX_CHUNK_ROWS):
        stop = min(start + MATRIX_CHUNK_ROWS, len(X))
        chunk = np.asarray(preprocessor.transform(X.iloc[start:stop]), dtype=np.float64)
        for i, out in enumerate(outs):
            mine = group_of[start:stop] == i
            out[place[start:stop][mine]] = chunk[mine]
    return outs


def validation_rows(estimator: Any, y: Any) -> tuple[np.ndarray, np.ndarray] | None:
    """The training and early-stopping rows a HistGradientBoosting fit on ``y`` would use.

    The same draw as its own ``fit``: ``train_test_split`` of the rows with its
    ``validation_fraction``, stratified by the encoded classes for a classifier,
    seeded by the first number its ``random_state`` gives. None when it would
    hold out nothing, or the draw cannot be repeated (``random_state`` not an
    integer), or passing the rows would change whether it stops early
    (``early_stopping="auto"`` counts the rows it is given).
    """
    hgb = (HistGradientBoostingClassifier, HistGradientBoostingRegressor)
    params = estimator.get_params() if isinstance(estimator, hgb) else {}
    seed, fraction = params.get("random_state"), params.get("validation_fraction")
    stops = params.get("early_stopping")
    if fraction is None or stops is False or not isinstance(seed, (int, np.integer)):
        return None
    if stops == "auto" and len(y) <= _HGB_AUTO_EARLY_STOPPING:
        return None
    draw = np.random.RandomState(seed).randint(np.iinfo(np.uint32).max, dtype="u8")
    values = np.asarray(y)
    stratify = (
        pd.Index(np.unique(pd.unique(values))).get_indexer(values)
        if is_classifier(estimator)
        else None
    )
    fitted, val = train_test_split(
        np.arange(len(values)), test_size=fraction, stratify=stratify, random_state=draw
    )
    if stops == "auto" and len(fitted) <= _HGB_AUTO_EARLY_STOPPING:
        return None
    return fitted, val


def preprocess(preprocessor: Any, X: Any) -> Any:
    """The fitted preprocessor applied to raw rows (on the workers, for a Dask frame)."""
    if is_dask(X):
        return _distributed().preprocess(preprocessor, X)
    return preprocessor.transform(X)


def training_matrix(preprocessor: Any, X: Any, y: Any) -> Any:
    """The training rows as the estimator sees them, through the fitted preprocessing.

    A target encoding (TargetEncoder) is cross-fitted only inside fit_transform:
    ``transform`` would encode each training row with its own label, which the
    estimator would then overfit. Such a preprocessor is fitted again on the
    same rows (same seeded folds: the same fitted state) with fit_transform.
    On a cluster the rows are transformed on the workers; a target encoding,
    which cannot be cross-fitted there, is refused.
    """
    encodes = any(isinstance(step, TargetEncoder) for step in _steps(preprocessor))
    if is_dask(X):
        if encodes:
            raise ModelError(TARGET_ENCODING_REFUSAL)
        return preprocess(preprocessor, X)
    if encodes:
        return preprocessor.fit_transform(X, y)
    return preprocessor.transform(X)


def _steps(node: Any) -> list[Any]:
    """Every estimator inside a fitted ColumnTransformer or Pipeline, the node included."""
    inner = []
    if isinstance(node, Pipeline):
        inner = [step for _, step in node.steps]
    elif isinstance(node, ColumnTransformer):
        inner = [part for _, part, _ in getattr(node, "transformers_", node.transformers)]
    return [node] + [found for step in inner for found in _steps(step)]


def compose(preprocessor: Any, estimator: ClassifierMixin) -> Pipeline:
    """The served model: raw source columns in, class labels (or quantities) out.

    A model trained on a cluster is stored as one machine's model.
    """
    if type(estimator).__module__ == "lightgbm.dask":
        estimator = _distributed().to_local(estimator)
    return Pipeline([("preprocess", preprocessor), ("classify", estimator)])


def _canonical_skops(data: bytes) -> bytes:
    """Renumber skops' id()-based keys in order of appearance; fix zip timestamps."""
    src = zipfile.ZipFile(io.BytesIO(data))
    schema = json.loads(src.read("schema.json"))
    ids: dict[int, int] = {}

    def visit(node: Any) -> Any:
        if isinstance(node, dict):
            out = {}
            for key, value in node.items():
                if key == "__id__" and isinstance(value, int):
                    value = ids.setdefault(value, len(ids))
                elif key == "file" and isinstance(value, str) and value.endswith(".npy"):
                    old = int(value[: -len(".npy")])
                    value = f"{ids.setdefault(old, len(ids))}.npy"
                else:
                    value = visit(value)
                out[key] = value
            return out
        if isinstance(node, list):
            return [visit(v) for v in node]
        return node

    schema = visit(schema)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as dst:
        entries = {"schema.json": json.dumps(schema, sort_keys=True).encode()}
        for info in src.infolist():
            if info.filename.endswith(".npy"):
                old = int(info.filename[: -len(".npy")])
                entries[f"{ids[old]}.npy"] = src.read(info.filename)
        for name in sorted(entries):
            info = zipfile.ZipInfo(name, date_time=_ZIP_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            dst.writestr(info, entries[name])
    return buffer.getvalue()


def _fitted_parts(obj: Any, seen: set[int]) -> Any:
    """Every estimator reachable from ``obj`` through its attributes, fitted ones included."""
    if id(obj) in seen:
        return
    seen.add(id(obj))
    if isinstance(obj, BaseEstimator):
        yield obj
        children: Any = vars(obj).values()
    elif isinstance(obj, list | tuple):
        children = obj
    elif isinstance(obj, dict):
        children = obj.values()
    else:
        return
    for child in children:
        if isinstance(child, BaseEstimator | list | tuple | dict):
            yield from _fitted_parts(child, seen)


def forget_fit_threads(model: Any) -> Any:
    """Drop the thread count a fit recorded in the model: the same model on a busier machine.

    HistGradientBoosting keeps the OpenMP threads of its fit in its bin mapper
    (``_bin_mapper.n_threads``), and the runner gives a stage fewer threads when
    other work shares the cores (``nbml.runner.threads``): the same data and
    params then saved different bytes, and DVC saw a changed model. None is
    scikit-learn's own default there: the cores available when it bins rows.
    """
    for part in _fitted_parts(model, set()):
        mapper = getattr(part, "_bin_mapper", None)
        if mapper is not None and hasattr(mapper, "n_threads"):
            mapper.n_threads = None
    return model


def save_model(model: Any, path: Path) -> Path:
    """Store a fitted estimator with skops, byte-for-byte reproducibly, whatever the load."""
    # lazy: skops costs ~1 s to import (it lists every scikit-learn estimator), and the
    # runner's param checks import this module for estimator_class alone
    import skops.io as sio

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(_canonical_skops(sio.dumps(forget_fit_threads(model))))
    return path


def load_model(path: Path, trusted: tuple[str, ...] = TRUSTED_TYPES) -> Any:
    """Load a skops model file, refusing any type that is not trusted.

    One pass: skops' ``loads`` audits the file against its default trusted
    types and ``trusted`` before it builds anything, and refuses the rest.
    Only a file it refuses or cannot read is read again, with
    ``get_untrusted_types``, to say which types or what is wrong: checking
    first and loading after parsed and audited every model twice (0.3-0.8 s a
    load of a 600-tree model, in train and in evaluate).
    """
    # lazy: skops costs ~1 s to import (it lists every scikit-learn estimator), and the
    # runner's param checks import this module for estimator_class alone
    import skops.io as sio

    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise ModelError(f"{path}: model file not found (run `dvc repro` or `dvc pull`)") from None
    try:
        return sio.loads(data, trusted=list(trusted))
    except Exception:  # refused or unreadable: the two-step way says which, and why
        return _checked_load(sio, path, data, trusted)


def _checked_load(sio: Any, path: Path, data: bytes, trusted: tuple[str, ...]) -> Any:
    """List the file's untrusted types first, refuse those not in ``trusted``, then load."""
    try:
        untrusted = sio.get_untrusted_types(data=data)
    except Exception as exc:  # zip/JSON errors: the file is not a skops model
        raise ModelError(f"{path}: not a readable skops model file ({exc})") from None
    refused = sorted(set(untrusted) - set(trusted))
    if refused:
        raise ModelError(
            f"{path}: refusing to load: it contains types that are not trusted: "
            f"{', '.join(refused)}. If this model is yours and you trust them, add "
            "them to nbml.steps.model.TRUSTED_TYPES"
        )
    try:
        return sio.loads(data, trusted=list(untrusted))
    except Exception as exc:
        raise ModelError(f"{path}: model file is damaged and cannot be loaded ({exc})") from None


def training_score(y: Any, predicted: Any, task: str) -> str:
    """How well the model fits its training rows, said in words: accuracy, or R² of a quantity."""
    if task != REGRESSION:
        accuracy = float((np.asarray(predicted) == np.asarray(y)).mean())
        return f"accuracy on the training split: {accuracy:.3f}"
    actual, fitted = np.asarray(y, dtype=float), np.asarray(predicted, dtype=float)
    total = float(((actual - actual.mean()) ** 2).sum())
    r2 = 1.0 - float(((actual - fitted) ** 2).sum()) / total if total > 0 else float("nan")
    return f"R² on the training split: {r2:.3f}"


def warn_if_one_class(predicted: Any, estimator: str) -> bool:
    """Warn (on stderr, which the runner echoes) when every prediction is the same class.

    A model that predicts one class for all training rows learned nothing,
    typically because the split is too small for the estimator's settings;
    the run still succeeds, with chance-level scores, so say so.
    """
    classes = np.unique(np.asarray(predicted, dtype=object).astype(str))
    if len(classes) != 1:
        return False
    warn(
        f"train: the model predicts '{classes[0]}' for every training row, "
        f"so it learned nothing. Too few rows for the settings of {estimator}? (e.g. "
        "HistGradientBoostingClassifier needs min_samples_leaf rows, 20 by default, per leaf; "
        "lower it in train.kwargs)"
    )
    return True
