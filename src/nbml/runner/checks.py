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
from datetime import datetime
from pathlib import Path
from typing import Any

from nbml.errors import ParamError
from nbml.messages import shorten
from nbml.project import AUTO, PARAMS_FILE, PIPELINE_FILE, ConfigError, Project, find_root

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
    """A missing key, with the key of the section it was probably misspelt as."""
    problems = []
    spare = [str(k) for k in values if k not in keys]
    for key in keys:
        if key in values:
            continue
        close = difflib.get_close_matches(key, spare, n=1, cutoff=0.75)
        hint = f"; params.yaml has {section}.{close[0]}, a misspelling?" if close else ""
        problems.append(f"{section}.{key}: missing (required){hint}")
    return problems


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
    problems += _check_dates(values)
    if isinstance(target, str) and target in (values.get("drop") or []):
        problems.append(
            f"data.drop: lists the target column '{target}'; the target cannot be dropped"
        )
    if "csv" in values:
        problems += _check_csv_options(values["csv"])
    if "task" in values:
        # lazy: see "Start-up" in the module docstring
        from nbml.steps.task import check_task_param

        problems += check_task_param(values["task"])
    return problems


def _date_format_problem(column: str, fmt: Any) -> str:
    """'' when ``fmt`` is a format data.dates accepts: auto, ISO8601 or a strptime format."""
    where = f"data.dates.{column}"
    if fmt in ("auto", "ISO8601"):
        return ""
    if not isinstance(fmt, str) or "%" not in fmt:
        return (
            f"{where}: expected a date format such as '%d/%m/%Y' or '%Y-%m-%d %H:%M', "
            f"ISO8601, or auto; found {fmt!r}"
        )
    sample = datetime(2021, 11, 23, 14, 35, 0)
    try:
        datetime.strptime(sample.strftime(fmt), fmt)
    except ValueError as exc:
        return f"{where}: '{fmt}' is not a usable date format ({exc})"
    return ""


def _check_dates(values: dict[str, Any]) -> list[str]:
    """data.dates: a mapping of column name to the format its dates are written in."""
    dates = values.get("dates")
    if dates is None:
        return []
    if not isinstance(dates, dict) or not all(isinstance(c, str) for c in dates):
        return [
            f"data.dates: expected a mapping of column name to date format, e.g. "
            f"{{when: '%d/%m/%Y'}}; found {shorten([dates], limit=1, show=repr)}"
        ]
    problems = [p for c, f in dates.items() if (p := _date_format_problem(c, f))]
    for key in ("drop", "categorical"):
        both = [c for c in dates if c in (values.get(key) or [])]
        if both:
            problems.append(
                f"data.dates and data.{key} both list {shorten(both, 'columns', 30)}; "
                "a column is one or the other"
            )
    if values.get("target") in dates:
        problems.append(f"data.dates: lists the target column '{values['target']}'")
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
    for key in ("scale", "date_cycles", "category_codes"):
        if key in values and not isinstance(values[key], bool):
            problems.append(f"featurize.{key}: expected true or false, found {values[key]!r}")
    problems += _int_at_least(values, "featurize", "max_categories", 2)
    if values.get("target_encode_above") is not None:
        problems += _int_at_least(values, "featurize", "target_encode_above", 2)
    if values.get("fit_sample") is not None:
        problems += _int_at_least(values, "featurize", "fit_sample", 1000)
    return problems


def _classifier_names(kinds: tuple[str, ...] = ("classifier",)) -> list[str]:
    """Import paths of scikit-learn's classifiers, or other kinds (slow: imports all of sklearn)."""
    # lazy: see "Start-up" in the module docstring
    from sklearn.utils import all_estimators

    return sorted(
        f"{cls.__module__.split('._')[0]}.{name}"
        for name, cls in all_estimators(type_filter=list(kinds))
    )


_EXAMPLE_ESTIMATORS = (
    "sklearn.ensemble.RandomForestClassifier",
    "sklearn.linear_model.LogisticRegression",
    "sklearn.ensemble.RandomForestRegressor",
    "sklearn.linear_model.Ridge",
)


def _explicit_task(proj: Project) -> str | None:
    """data.task when params.yaml sets it to classification or regression (else None)."""
    task = (proj.params.get("data") or {}).get("task")
    return task if task in ("classification", "regression") else None


@check("train")
def _check_train(values: dict[str, Any], proj: Project) -> list[str]:
    # lazy: see "Start-up" in the module docstring
    from nbml.steps.model import ModelError, estimator_class
    from nbml.steps.task import AUTO, AUTO_ESTIMATORS, estimator_for

    problems = _required(values, "train", ("estimator",))
    name = values.get("estimator")
    if "estimator" not in values:
        return problems
    if not isinstance(name, str):
        return [f"train.estimator: expected 'auto' or an import path string, found {name!r}"]
    task = _explicit_task(proj)
    if name == AUTO:
        names = [estimator_for(name, task)] if task else sorted(set(AUTO_ESTIMATORS.values()))
    else:
        names = [name]
    try:
        classes = [estimator_class(n) for n in names]
    except ModelError as exc:
        return problems + [_unknown_estimator(name, exc)]
    kwargs = values.get("kwargs") or {}
    if not isinstance(kwargs, dict):
        return problems + [
            f"train.kwargs: expected a mapping of keyword arguments, found {kwargs!r}"
        ]
    found = _estimator_problems(classes[0], kwargs)
    for cls in classes[1:]:  # auto: the kwargs must suit both; each problem said once
        said = {p.split(":")[0] for p in found}
        found += [
            f"{p} (train.estimator: auto becomes either kind until data.task says which)"
            for p in _estimator_problems(cls, kwargs)
            if p.split(":")[0] not in said
        ]
    problems += found
    if task and name != AUTO and not problems:
        problems += _kind_problems(name, classes[0], task)
    return problems


def _unknown_estimator(name: str, exc: Exception) -> str:
    known = _classifier_names(("classifier", "regressor"))
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.6)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    return (
        f"{str(exc).removeprefix('params.yaml ')}{hint}\n    allowed: auto, or any scikit-learn "
        f"classifier or regressor by import path, e.g. {', '.join(_EXAMPLE_ESTIMATORS)}, ... "
        f"({len(known)} in all; list them with `python -m nbml.runner.checks --classifiers` "
        "or `--regressors`)"
    )


def _kind_problems(name: str, cls: type, task: str) -> list[str]:
    # lazy: see "Start-up" in the module docstring
    from nbml.steps.task import TaskDecision, estimator_kind_problem

    decision = TaskDecision(task, task, "", "set in params.yaml")
    problem = estimator_kind_problem(name, cls, decision)
    return [problem] if problem else []


def _estimator_problems(cls: type, kwargs: dict[str, Any]) -> list[str]:
    """train.kwargs checked against one estimator class: names, values, probabilities."""
    # lazy: see "Start-up" in the module docstring
    from nbml.steps.task import CLASSIFICATION, kind_of

    problems = []
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
    if not problems and kind_of(cls) == CLASSIFICATION:
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
    from nbml.steps.regression import TASK_METRICS

    problems = _required(values, "evaluate", ("metrics",))
    metrics = values.get("metrics")
    task = _explicit_task(proj)
    allowed = TASK_METRICS[task] if task else [m for names in TASK_METRICS.values() for m in names]
    if "metrics" in values and metrics != "auto":
        if not isinstance(metrics, list) or not metrics:
            problems.append(
                f"evaluate.metrics: expected auto or a non-empty list, found {metrics!r}; "
                f"allowed: {', '.join(allowed)}"
            )
        else:
            for name in metrics:
                if name not in allowed:
                    close = difflib.get_close_matches(str(name), allowed, n=1)
                    hint = f" (did you mean '{close[0]}'?)" if close else ""
                    what = f"metric for a {task} task" if task else "metric"
                    problems.append(
                        f"evaluate.metrics: unknown {what} {name!r}{hint}; "
                        f"allowed: auto, {', '.join(allowed)}"
                    )
    problems += _int_at_least(values, "evaluate", "importance_repeats", 1)
    problems += _int_at_least(values, "evaluate", "importance_sample", 10)
    problems += _int_at_least(values, "evaluate", "seed", 0)
    return problems


def stage_task_problems(proj: Project, stage: str) -> list[str]:
    """train.estimator and evaluate.metrics against the task of the data, before a stage runs.

    Unlike :func:`check_project` this reads data (prepare's recorded task, or
    for prepare itself the source's target column alone), so the runner calls
    it before every stage, uncached. Nothing to read when both are ``auto``.
    """
    estimator = (proj.params.get("train") or {}).get("estimator")
    metrics = (proj.params.get("evaluate") or {}).get("metrics")
    explicit_estimator = isinstance(estimator, str) and estimator != AUTO
    if not explicit_estimator and not isinstance(metrics, list):
        # both auto (the default): nothing to check, and pandas and scikit-learn stay
        # out of the runner (~1 CPU s a stage, on the cores the kernel is booting on)
        return []
    # lazy: see "Start-up" in the module docstring
    from nbml.errors import MetricError, ModelError
    from nbml.steps.model import estimator_class
    from nbml.steps.regression import metric_names
    from nbml.steps.task import estimator_kind_problem

    decision = _stage_decision(proj, stage)
    if decision is None:
        return []
    problems = []
    if explicit_estimator:
        try:
            problem = estimator_kind_problem(estimator, estimator_class(estimator), decision)
        except ModelError:  # check_project names it
            problem = None
        problems += [problem] if problem else []
    if isinstance(metrics, list):
        try:
            metric_names(metrics, decision.task)
        except MetricError as exc:
            problems.append(str(exc).removeprefix("params.yaml "))
    return problems


def _stage_decision(proj: Project, stage: str) -> Any:
    """The task a stage works on: prepare's record, or (for prepare) decided from the source."""
    # lazy: see "Start-up" in the module docstring
    from nbml.errors import NbmlError, TaskError
    from nbml.steps.data import read_target
    from nbml.steps.task import TaskDecision, detect_task, read_task

    record = proj.root / proj.path_names["task"]
    writes_record = any(
        proj.path_names["task"] == out or proj.path_names["task"].startswith(out.rstrip("/") + "/")
        for out in proj.stage_files(stage, "outs")
    )
    if not writes_record and record.is_file():
        try:
            return read_task(record)
        except TaskError:
            return None  # the stage itself says what is wrong with it
    data = proj.params.get("data") or {}
    target = str(data.get("target"))
    explicit = _explicit_task(proj)
    if explicit:
        return TaskDecision(explicit, explicit, target, "set in params.yaml")
    try:
        labels = read_target(
            str(data.get("source")), target, data.get("csv"), proj.root, proj.path_names["raw"]
        )
    except NbmlError:
        return None
    if labels is None:
        return None
    task, reason = detect_task(labels.dropna(), target)
    return TaskDecision(task, "auto", target, reason)


def check_stage_task(proj: Project, stage: str) -> None:
    """Raise ParamError when the estimator or metrics do not suit the task of the data."""
    problems = stage_task_problems(proj, stage)
    if problems:
        raise ParamError(problems)


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


@check("report")
def _check_report(values: dict[str, Any], proj: Project) -> list[str]:
    # the title heads every page a reader opens; an empty one leaves a bare "##"
    title = values.get("title")
    if "title" in values and not (isinstance(title, str) and title.strip()):
        return [f"report.title: expected the reports' title as text, found {title!r}"]
    return []


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
    if "--classifiers" in args or "--regressors" in args:
        kind = "classifier" if "--classifiers" in args else "regressor"
        print("\n".join(_classifier_names((kind,))))
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
