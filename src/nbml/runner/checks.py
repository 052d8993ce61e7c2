"""Check params.yaml and dvc.yaml's paths before any notebook runs.

The runner calls :func:`check_project` at the start of every stage, for the
whole of params.yaml, not only the running stage's section: ``dvc repro``
runs stages in order, so a bad ``train`` param must stop ``prepare`` too,
before minutes are spent on stages whose results would be thrown away.
``python -m nbml.runner.checks`` runs the same checks alone.

Each check names the parameter, what is allowed and what was found. All
problems are reported at once. Sections or keys this module does not know
are left alone, so a new param only needs a check when it can be wrong.

Start-up: the checks that need the ML steps import them (and so pandas and
scikit-learn, ~1 s) inside the check, not at the top: the runner imports
this module in every stage and runs the checks only when params.yaml,
dvc.yaml or the package changed since the last run.
"""

from __future__ import annotations

import difflib
import re
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from nbml.errors import ParamError
from nbml.project import PARAMS_FILE, PIPELINE_FILE, ConfigError, Project, find_root

IMPUTE_STRATEGIES = ("mean", "median", "most_frequent")
# compute.worker_memory: a byte count, or a size as Dask writes it (2GB, 512MiB).
_MEMORY = re.compile(r"^\d+(\.\d+)?\s*([kKMGT]i?B)$")
# Keys whose string values are paths, in any params.yaml section.
_PATH_KEYS = ("path", "file", "dir", "folder")


Check = Callable[[dict[str, Any], Project], list[str]]
CHECKS: dict[str, Check] = {}


def check(section: str) -> Callable[[Check], Check]:
    """Register a check for one params.yaml section."""

    def register(fn: Check) -> Check:
        CHECKS[section] = fn
        return fn

    return register


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _int_at_least(values: dict[str, Any], section: str, key: str, low: int) -> list[str]:
    if key not in values:
        return []
    value = values[key]
    if not _is_int(value) or value < low:
        return [f"{section}.{key}: expected an integer >= {low}, found {value!r}"]
    return []


def _required(values: dict[str, Any], section: str, keys: tuple[str, ...]) -> list[str]:
    return [f"{section}.{k}: missing (required)" for k in keys if k not in values]


def _inside(root: Path, value: str, bases: tuple[Path, ...]) -> bool:
    candidate = Path(value).expanduser()
    for base in bases:
        full = (candidate if candidate.is_absolute() else base / candidate).resolve()
        if not full.is_relative_to(root.resolve()):
            return False
    return True


def _path_problem(proj: Project, name: str, value: str, bases: tuple[Path, ...] = ()) -> list[str]:
    if _inside(proj.root, value, bases or (proj.root,)):
        return []
    return [
        f"{name}: '{value}' points outside the repository ({proj.root}); "
        "allowed: a path inside it, relative to the project root (e.g. data/raw/my.csv)"
    ]


@check("data")
def _check_data(values: dict[str, Any], proj: Project) -> list[str]:
    problems = _required(values, "data", ("source", "target"))
    source = values.get("source")
    if "source" in values and (not isinstance(source, str) or not source.strip()):
        problems.append(f"data.source: expected a dataset name or a file path, found {source!r}")
    elif isinstance(source, str) and _names_a_file(source):
        raw = proj.root / proj.path_names.get("raw", "data/raw")
        problems += _path_problem(proj, "data.source", source, (proj.root, raw))
    target = values.get("target")
    if "target" in values and (not isinstance(target, str) or not target):
        problems.append(f"data.target: expected a column name, found {target!r}")
    for key in ("drop", "categorical"):
        if key in values and not (
            isinstance(values[key], list) and all(isinstance(c, str) for c in values[key])
        ):
            problems.append(f"data.{key}: expected a list of column names, found {values[key]!r}")
    if isinstance(target, str) and target in (values.get("drop") or []):
        problems.append(
            f"data.drop: lists the target column '{target}'; the target cannot be dropped"
        )
    if "csv" in values:
        problems += _check_csv_options(values["csv"])
    return problems


def _names_a_file(source: str) -> bool:
    # lazy: see "Start-up" in the module docstring
    from nbml.steps.data import is_file_source

    return is_file_source(source)


def _check_csv_options(options: Any) -> list[str]:
    """data.csv, checked up front with the rules prepare applies when it reads the file."""
    # lazy: see "Start-up" in the module docstring
    from nbml.steps.data import DataError, csv_options

    if options is not None and not isinstance(options, dict):
        return [f"data.csv: expected a mapping (delimiter, encoding, decimal), found {options!r}"]
    try:
        csv_options(options)
    except DataError as exc:
        return [f"data.csv: {problem}" for problem in exc.problems]
    return []


@check("prepare")
def _check_prepare(values: dict[str, Any], proj: Project) -> list[str]:
    problems = _required(values, "prepare", ("test_size", "seed"))
    if "test_size" in values:
        size = values["test_size"]
        if not _is_number(size) or not 0 < size < 1:
            problems.append(
                f"prepare.test_size: expected a fraction between 0 and 1 (exclusive), "
                f"e.g. 0.25; found {size!r}"
            )
    problems += _int_at_least(values, "prepare", "seed", 0)
    problems += _int_at_least(values, "prepare", "min_rows_per_class", 2)
    problems += _sample_problems(values.get("sample"))
    schema = values.get("schema")
    if schema is not None:
        # lazy: see "Start-up" in the module docstring
        from nbml.steps.validate import SCHEMA_TYPES

        if not isinstance(schema, dict):
            problems.append(
                f"prepare.schema: expected a mapping of column name to type, found {schema!r}"
            )
        else:
            for column, kind in schema.items():
                if kind not in SCHEMA_TYPES:
                    problems.append(
                        f"prepare.schema.{column}: unknown type {kind!r}; "
                        f"allowed: {', '.join(SCHEMA_TYPES)}"
                    )
    return problems


def _sample_problems(sample: Any) -> list[str]:
    """prepare.sample: null (every row), a fraction 0 < f < 1, or a row count >= 1."""
    if sample is None or (_is_int(sample) and sample >= 1):
        return []
    if _is_number(sample) and 0 < sample < 1:
        return []
    return [
        "prepare.sample: expected a fraction between 0 and 1 (exclusive) or a row count "
        f"(an integer >= 1), or null for every row; found {sample!r}"
    ]


@check("explore")
def _check_explore(values: dict[str, Any], proj: Project) -> list[str]:
    return [
        *_int_at_least(values, "explore", "max_levels", 1),
        *_int_at_least(values, "explore", "max_panels", 1),
        *_int_at_least(values, "explore", "sample", 1000),
    ]


@check("featurize")
def _check_featurize(values: dict[str, Any], proj: Project) -> list[str]:
    problems = []
    impute = values.get("numeric_impute")
    if "numeric_impute" in values and impute not in IMPUTE_STRATEGIES:
        problems.append(
            f"featurize.numeric_impute: unknown strategy {impute!r}; "
            f"allowed: {', '.join(IMPUTE_STRATEGIES)}"
        )
    if "scale" in values and not isinstance(values["scale"], bool):
        problems.append(f"featurize.scale: expected true or false, found {values['scale']!r}")
    return problems


def _classifier_names() -> list[str]:
    """Import paths of scikit-learn's classifiers (slow: imports all of sklearn)."""
    # lazy: see "Start-up" in the module docstring
    from sklearn.utils import all_estimators

    return sorted(
        f"{cls.__module__.split('._')[0]}.{name}"
        for name, cls in all_estimators(type_filter="classifier")
    )


@check("train")
def _check_train(values: dict[str, Any], proj: Project) -> list[str]:
    # lazy: see "Start-up" in the module docstring
    from nbml.steps.model import ModelError, estimator_class

    problems = _required(values, "train", ("estimator",))
    name = values.get("estimator")
    if "estimator" not in values:
        return problems
    if not isinstance(name, str):
        return [f"train.estimator: expected an import path string, found {name!r}"]
    try:
        cls = estimator_class(name)
    except ModelError as exc:
        known = _classifier_names()
        close = difflib.get_close_matches(name, known, n=3, cutoff=0.6)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        return problems + [
            f"{str(exc).removeprefix('params.yaml ')}{hint}\n    allowed: any scikit-learn "
            f"classifier by import path, e.g. {', '.join(known[:4])}, ... "
            f"({len(known)} in all; list them with `python -m nbml.runner.checks --classifiers`)"
        ]
    kwargs = values.get("kwargs") or {}
    if not isinstance(kwargs, dict):
        return problems + [
            f"train.kwargs: expected a mapping of keyword arguments, found {kwargs!r}"
        ]
    params = cls().get_params(deep=False)
    unknown = sorted(set(kwargs) - set(params))
    for key in unknown:
        close = difflib.get_close_matches(key, list(params), n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        problems.append(
            f"train.kwargs.{key}: {cls.__name__} takes no parameter '{key}'{hint}; "
            f"allowed: {', '.join(sorted(params))}"
        )
    known_kwargs = {k: v for k, v in kwargs.items() if k in params}
    problems += _check_kwarg_types(cls, known_kwargs)
    if not problems:
        problems += _check_probabilities(cls, known_kwargs, params)
    return problems


def _check_probabilities(cls: type, kwargs: dict[str, Any], params: dict[str, Any]) -> list[str]:
    """evaluate needs class probabilities; some classifiers give them only when asked."""
    try:
        has_proba = hasattr(cls(**kwargs), "predict_proba")
    except (TypeError, ValueError):  # reported by the keyword checks
        return []
    if has_proba:
        return []
    fix = (
        "set train.kwargs.probability: true"
        if "probability" in params
        else "choose a classifier that has predict_proba"
    )
    return [
        f"train.estimator: {cls.__name__} with these kwargs gives no class probabilities "
        "(predict_proba), which evaluate needs for ROC AUC, log loss and the ROC and "
        f"precision-recall curves; {fix}"
    ]


def _fit_error(estimator: Any) -> Exception | None:
    """The error fitting ``estimator`` on no rows raises (None if it raises none).

    Nothing is trained: every estimator refuses zero rows, and scikit-learn's
    own ones check their parameters first, raising InvalidParameterError (a
    ValueError) that names the parameter and what it accepts.
    """
    # lazy: see "Start-up" in the module docstring
    import numpy as np

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a probe: train warns where it matters
            estimator.fit(np.empty((0, 1)), np.empty(0))
    except (TypeError, ValueError) as exc:
        return exc
    return None


def _same_error(a: Exception | None, b: Exception | None) -> bool:
    return type(a) is type(b) and str(a) == str(b)


def _kwarg_problem(cls: type, key: str, value: Any, exc: Exception) -> str:
    text = str(exc)
    prefix = f"The '{key}' parameter of {cls.__name__} "
    if text.startswith(prefix):  # scikit-learn's wording: what is allowed, what was found
        return f"train.kwargs.{key}: {text.removeprefix(prefix)}"
    return f"train.kwargs.{key}: {cls.__name__} refuses {value!r}: {text}"


def _check_kwarg_types(cls: type, kwargs: dict[str, Any]) -> list[str]:
    """Each keyword checked alone by the estimator itself, without training.

    With only that keyword set, fitting on no rows must fail the way the
    default estimator's fit does (on the data); any other error is the
    keyword's. Public API only: no private scikit-learn validation is called.
    """
    problems = []
    data_error = _fit_error(cls())
    for key, value in kwargs.items():
        try:
            error = _fit_error(cls(**{key: value}))
        except (TypeError, ValueError) as exc:  # refused by the constructor itself
            error = exc
        if error is not None and not _same_error(error, data_error):
            problems.append(_kwarg_problem(cls, key, value, error))
    return problems


@check("evaluate")
def _check_evaluate(values: dict[str, Any], proj: Project) -> list[str]:
    # lazy: see "Start-up" in the module docstring
    from nbml.steps.evaluation import METRICS

    problems = _required(values, "evaluate", ("metrics",))
    metrics = values.get("metrics")
    if "metrics" in values:
        if not isinstance(metrics, list) or not metrics:
            problems.append(
                f"evaluate.metrics: expected a non-empty list, found {metrics!r}; "
                f"allowed: {', '.join(METRICS)}"
            )
        else:
            for name in metrics:
                if name not in METRICS:
                    close = difflib.get_close_matches(str(name), list(METRICS), n=1)
                    hint = f" (did you mean '{close[0]}'?)" if close else ""
                    problems.append(
                        f"evaluate.metrics: unknown metric {name!r}{hint}; "
                        f"allowed: {', '.join(METRICS)}"
                    )
    problems += _int_at_least(values, "evaluate", "importance_repeats", 1)
    problems += _int_at_least(values, "evaluate", "importance_sample", 10)
    problems += _int_at_least(values, "evaluate", "seed", 0)
    return problems


@check("compute")
def _check_compute(values: dict[str, Any], proj: Project) -> list[str]:
    # lazy: see "Start-up" in the module docstring
    from nbml.steps.compute import estimator_refusal, scheduler_problems

    scheduler = values.get("scheduler")
    problems = scheduler_problems(scheduler)
    for key in ("workers",):
        if values.get(key) is not None:
            problems += _int_at_least(values, "compute", key, 1)
    memory = values.get("worker_memory")
    if memory is not None and not (
        _is_number(memory) and memory > 0 or isinstance(memory, str) and _MEMORY.match(memory)
    ):
        problems.append(
            f"compute.worker_memory: expected null or a size such as 2GB or 512MiB, "
            f"found {memory!r}"
        )
    if scheduler is not None and not problems:
        refusal = estimator_refusal((proj.params.get("train") or {}).get("estimator"))
        problems += [refusal] if refusal else []
    return problems


def _check_paths(proj: Project) -> list[str]:
    """Paths in dvc.yaml (vars.paths, every stage's deps and outs) and path-like params."""
    problems: list[str] = []
    for key, value in proj.path_names.items():
        problems += _path_problem(proj, f"{PIPELINE_FILE} vars.paths.{key}", value)
    for stage in proj.pipeline.get("stages", {}):
        for kind in ("deps", "outs"):
            for value in proj.stage_files(stage, kind):
                problems += _path_problem(proj, f"{PIPELINE_FILE} stage '{stage}' {kind}", value)

    def walk(node: Any, dotted: str) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                walk(v, f"{dotted}.{k}" if dotted else str(k))
        elif isinstance(node, str) and dotted.rsplit(".", 1)[-1].endswith(_PATH_KEYS):
            problems.extend(_path_problem(proj, f"{PARAMS_FILE} {dotted}", node))

    walk(proj.params, "")
    return list(dict.fromkeys(problems))


def project_problems(proj: Project) -> list[str]:
    """Every problem in params.yaml and dvc.yaml's paths, in section order."""
    problems = _check_paths(proj)
    for section, fn in CHECKS.items():
        values = proj.params.get(section)
        if values is None:
            continue
        if not isinstance(values, dict):
            problems.append(f"{section}: expected a mapping, found {values!r}")
            continue
        problems += fn(values, proj)
    return problems


def check_project(proj: Project) -> None:
    """Raise ParamError listing every problem, or return quietly."""
    problems = project_problems(proj)
    if problems:
        raise ParamError(problems)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if "--classifiers" in args:
        print("\n".join(_classifier_names()))
        return 0
    try:
        check_project(Project.load(find_root()))
    except ConfigError as exc:
        print(f"nbml: error: {exc}", file=sys.stderr)
        return 1
    print("nbml: params.yaml and dvc.yaml paths look fine")
    return 0


if __name__ == "__main__":
    sys.exit(main())
