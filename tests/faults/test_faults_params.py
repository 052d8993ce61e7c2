"""Bad params: refused before any notebook runs, naming the parameter and what is allowed."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin

from conftest import ROOT, set_params
from nbml.project import Project
from nbml.runner import checks
from nbml.runner.stage import run_stage
from nbml.steps.task import TaskDecision, write_task


@pytest.fixture
def proj() -> Project:
    return Project.load(ROOT)


def with_params(proj: Project, **sections) -> Project:
    params = copy.deepcopy(proj.params)
    for section, values in sections.items():
        params.setdefault(section, {}).update(values)
    return Project(proj.root, proj.pipeline, params)


def problems(proj: Project) -> str:
    with pytest.raises(checks.ParamError) as info:
        checks.check_project(proj)
    return str(info.value)


def test_project_params_are_valid(proj):
    assert checks.project_problems(proj) == []


def test_unknown_estimator(proj):
    typo = "sklearn.ensemble.RandomForestClassifer"
    text = problems(with_params(proj, train={"estimator": typo}))
    assert "train.estimator: module 'sklearn.ensemble' has no class 'RandomForestClassifer'" in text
    assert "did you mean sklearn.ensemble.RandomForestClassifier" in text
    assert "allowed: auto, or any scikit-learn classifier or regressor" in text


def test_estimator_that_is_neither_classifier_nor_regressor(proj):
    text = problems(
        with_params(proj, train={"estimator": "sklearn.preprocessing.StandardScaler", "kwargs": {}})
    )
    assert "StandardScaler is not a scikit-learn classifier or regressor" in text


def test_estimator_of_the_wrong_kind_for_an_explicit_task(proj):
    regressor = {"estimator": "sklearn.linear_model.LinearRegression", "kwargs": {}}
    text = problems(with_params(proj, data={"task": "classification"}, train=regressor))
    assert (
        "train.estimator: sklearn.linear_model.LinearRegression is a regressor, but the task "
        "is classification" in text
    )
    classifier = {"estimator": "sklearn.ensemble.RandomForestClassifier", "kwargs": {}}
    text = problems(with_params(proj, data={"task": "regression"}, train=classifier))
    assert "is a classifier, but the task is regression" in text
    assert "choose a regressor, or train.estimator: auto" in text


def test_auto_estimator_kwargs_must_suit_both_histgradientboosting_kinds(proj):
    text = problems(with_params(proj, train={"estimator": "auto", "kwargs": {"max_iters": 5}}))
    assert "HistGradientBoostingClassifier takes no parameter 'max_iters'" in text
    assert text.count("train.kwargs.max_iters") == 1
    # class_weight exists for the classifier only: auto on an undecided task refuses it
    text = problems(with_params(proj, train={"kwargs": {"class_weight": "balanced"}}))
    assert "HistGradientBoostingRegressor takes no parameter 'class_weight'" in text
    assert "(train.estimator: auto becomes either kind until data.task says which)" in text
    assert (
        checks.project_problems(
            with_params(
                proj,
                data={"task": "classification"},
                train={"kwargs": {"class_weight": "balanced"}},
            )
        )
        == []
    )


def test_data_task_must_be_a_known_task(proj):
    text = problems(with_params(proj, data={"task": "regresion"}))
    assert "data.task: expected one of auto, classification, regression, found 'regresion'" in text


def test_unknown_hyperparameter(proj):
    text = problems(with_params(proj, train={"kwargs": {"max_iters": 10}}))
    assert (
        "train.kwargs.max_iters: HistGradientBoostingClassifier takes no parameter "
        "'max_iters' (did you mean 'max_iter'?)" in text
    )
    assert "allowed: categorical_features, class_weight" in text


@pytest.mark.parametrize(
    ("estimator", "kwargs", "fix"),
    [
        ("sklearn.svm.SVC", {}, "set train.kwargs.probability: true"),
        ("sklearn.linear_model.RidgeClassifier", {}, "choose a classifier that has predict_proba"),
    ],
)
def test_classifier_without_probabilities(proj, estimator, kwargs, fix):
    text = problems(with_params(proj, train={"estimator": estimator, "kwargs": kwargs}))
    assert "gives no class probabilities (predict_proba)" in text
    assert fix in text
    fixed = with_params(
        proj, train={"estimator": "sklearn.svm.SVC", "kwargs": {"probability": True}}
    )
    assert checks.project_problems(fixed) == []


def test_hyperparameter_of_wrong_type(proj):
    text = problems(with_params(proj, train={"kwargs": {"learning_rate": "fast", "max_iter": -3}}))
    assert "train.kwargs.learning_rate: must be a float in the range (0.0, inf). Got 'fast'" in text
    assert "train.kwargs.max_iter: must be an int in the range [1, inf). Got -3" in text


class CheckedInFit(ClassifierMixin, BaseEstimator):
    """A classifier written outside scikit-learn: it checks its parameter in fit, with
    a plain ValueError, then refuses no rows like any estimator; it counts trainings."""

    trained = 0

    def __init__(self, depth: int = 1):
        self.depth = depth

    def fit(self, X, y):
        if not isinstance(self.depth, int) or self.depth < 1:
            raise ValueError(f"depth must be a positive integer, got {self.depth!r}")
        if len(X) == 0:
            raise ValueError("Found array with 0 sample(s)")
        CheckedInFit.trained += 1
        return self


def test_parameter_errors_told_from_data_errors_without_training():
    """The keyword check fits on no rows and compares with the default's (data) error:
    public API only, so it also works for estimators without scikit-learn's validation."""
    assert checks._check_kwarg_types(CheckedInFit, {"depth": 3}) == []
    assert checks._check_kwarg_types(CheckedInFit, {"depth": 0}) == [
        "train.kwargs.depth: CheckedInFit refuses 0: depth must be a positive integer, got 0"
    ]
    assert CheckedInFit.trained == 0


@pytest.mark.parametrize("size", [0, 1, 1.5, -0.1, "0.2", True])
def test_test_size_out_of_range(proj, size):
    text = problems(with_params(proj, prepare={"test_size": size}))
    assert (
        f"prepare.test_size: expected a fraction between 0 and 1 (exclusive), e.g. 0.25; "
        f"found {size!r}" in text
    )


def test_unknown_metric(proj):
    text = problems(with_params(proj, evaluate={"metrics": ["accuracy", "f1_macr"]}))
    assert (
        "evaluate.metrics: unknown metric 'f1_macr' (did you mean 'f1_macro'?); "
        "allowed: auto, accuracy, balanced_accuracy, f1_macro, roc_auc_ovr, log_loss, "
        "r2, rmse, mae, median_absolute_error" in text
    )


def test_metric_of_the_other_task_is_refused_when_data_task_is_explicit(proj):
    text = problems(
        with_params(proj, data={"task": "classification"}, evaluate={"metrics": ["rmse"]})
    )
    assert "evaluate.metrics: unknown metric for a classification task 'rmse'" in text


def test_other_sections(proj):
    text = problems(
        with_params(
            proj,
            featurize={"numeric_impute": "avg", "scale": "yes"},
            prepare={"seed": -1, "schema": {"a": "text"}},
            data={"drop": "sex", "csv": {"delimiter": "::", "encoding": "utf-42"}},
            explore={"max_panels": 0},
        )
    )
    for part in (
        "featurize.numeric_impute: unknown strategy 'avg'; allowed: mean, median",
        "featurize.scale: expected true or false, found 'yes'",
        "prepare.seed: expected an integer >= 0, found -1",
        "prepare.schema.a: unknown type 'text'; allowed: float, int, str",
        "data.drop: expected a list of column names, found 'sex'",
        "explore.max_panels: expected an integer >= 1, found 0",
        "data.csv: delimiter '::' must be one character, 'tab' or 'auto'",
        "data.csv: encoding 'utf-42' is not a known text encoding",
    ):
        assert part in text
    assert text.startswith("8 problem(s)")


@pytest.mark.parametrize("source", ["../elsewhere.csv", "/etc/passwd", "data/raw/../../../x.csv"])
def test_input_path_outside_repository(proj, source):
    text = problems(with_params(proj, data={"source": source}))
    assert f"data.source: '{source}' points outside the repository" in text


def test_input_path_inside_repository_is_fine(proj):
    assert checks.project_problems(with_params(proj, data={"source": "data/raw/my.csv"})) == []


def test_output_path_outside_repository(proj):
    pipeline = copy.deepcopy(proj.pipeline)
    pipeline["vars"][0]["paths"]["model"] = "../models/model.skops"
    text = problems(Project(proj.root, pipeline, proj.params))
    assert "dvc.yaml vars.paths.model: '../models/model.skops' points outside" in text
    assert "dvc.yaml stage 'train' outs: '../models/model.skops' points outside" in text


def test_path_like_param_outside_repository(proj):
    text = problems(with_params(proj, report={"output_dir": "/tmp/reports"}))
    assert "params.yaml report.output_dir: '/tmp/reports' points outside the repository" in text


def test_runner_refuses_before_any_notebook_runs(project_copy: Path, monkeypatch):
    """Even the first stage refuses a bad train param: nothing executes, nothing is written."""
    set_params(project_copy, "train", estimator="sklearn.ensemble.NoSuchClassifier")
    monkeypatch.setenv("NBML_ROOT", str(project_copy))
    with pytest.raises(checks.ParamError, match="train.estimator: module 'sklearn.ensemble'"):
        run_stage("prepare", root=project_copy)
    assert not (project_copy / "logs" / "failed" / "prepare.ipynb").exists()
    assert not (project_copy / "data" / "prepared").exists()
    assert not (project_copy / "outputs" / "notebooks" / "prepare.ipynb").exists()


@pytest.mark.parametrize(
    ("section", "key", "bad", "expected"),
    [
        ("evaluate", "importance_sample", 0, "an integer >= 10"),
        ("explore", "sample", 50, "an integer >= 1000"),
        ("prepare", "sample", -1, "a fraction between 0 and 1 (exclusive) or a row count"),
        ("prepare", "sample", 1.5, "a fraction between 0 and 1 (exclusive) or a row count"),
    ],
)
def test_sample_sizes_are_checked(proj, section, key, bad, expected):
    text = problems(with_params(proj, **{section: {key: bad}}))
    assert f"{section}.{key}: expected {expected}" in text


@pytest.mark.parametrize(
    "values, expected",
    [
        ({"dates": ["when"]}, "data.dates: expected a mapping of column name to date format"),
        ({"dates": {"when": "dd/mm/yyyy"}}, "data.dates.when: expected a date format such as"),
        (
            {"dates": {"when": "%d/%q/%Y"}},
            "data.dates.when: '%d/%q/%Y' is not a usable date format",
        ),
        (
            {"dates": {"when": "auto"}, "categorical": ["when"]},
            "data.dates and data.categorical both list when",
        ),
        ({"dates": {"species": "auto"}}, "data.dates: lists the target column 'species'"),
    ],
)
def test_bad_data_dates_are_refused_naming_the_column(proj, values, expected):
    assert expected in problems(with_params(proj, data=values))


def test_good_data_dates_pass(proj):
    good = {"dates": {"when": "%d/%m/%Y %H:%M", "day": "ISO8601", "other": "auto"}}
    assert checks.project_problems(with_params(proj, data=good)) == []


@pytest.mark.parametrize(
    "values, expected",
    [
        ({"max_categories": 1}, "featurize.max_categories: expected an integer >= 2, found 1"),
        ({"target_encode_above": "many"}, "featurize.target_encode_above: expected an integer"),
        ({"date_cycles": "yes"}, "featurize.date_cycles: expected true or false, found 'yes'"),
    ],
)
def test_bad_featurize_bounds_are_refused(proj, values, expected):
    assert expected in problems(with_params(proj, featurize=values))


def prices_csv(root: Path) -> str:
    """A small table with a numeric target of many values (detected as regression)."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=120), "price": rng.normal(100, 10, size=120)})
    path = root / "data" / "raw" / "prices.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False)
    return "data/raw/prices.csv"


def test_a_classifier_on_a_detected_regression_target_is_refused_before_any_notebook(
    project_copy: Path, monkeypatch
):
    """data.task auto: prepare detects from the target column alone, later stages read
    prepare's record; either way the stage stops before its notebook runs."""
    set_params(project_copy, "data", source=prices_csv(project_copy), target="price")
    forest = "sklearn.ensemble.RandomForestClassifier"
    set_params(project_copy, "train", estimator=forest, kwargs={})
    monkeypatch.setenv("NBML_ROOT", str(project_copy))
    expected = f"train.estimator: {forest} is a classifier, but the task is regression"
    with pytest.raises(checks.ParamError, match=expected) as info:
        run_stage("prepare", root=project_copy)
    assert "target 'price' is numeric with 120 distinct values" in str(info.value)
    assert not (project_copy / "data" / "prepared").exists()
    record = Project.load(project_copy).path_names["task"]
    write_task(TaskDecision("regression", "auto", "price", "recorded"), project_copy / record)
    with pytest.raises(checks.ParamError, match=expected):
        run_stage("train", root=project_copy)
    assert not (project_copy / "logs" / "failed" / "train.ipynb").exists()
    assert not (project_copy / "outputs" / "notebooks" / "train.ipynb").exists()


def test_metrics_of_the_other_task_are_refused_by_the_stage_check(project_copy: Path):
    record = project_copy / Project.load(project_copy).path_names["task"]
    write_task(TaskDecision("regression", "auto", "species", "recorded"), record)
    set_params(project_copy, "evaluate", metrics=["accuracy", "rmse"])
    problems = checks.stage_task_problems(Project.load(project_copy), "evaluate")
    assert problems == [
        "evaluate.metrics: accuracy cannot score a regression task; its metrics: r2, rmse, "
        "mae, median_absolute_error (or evaluate.metrics: auto)"
    ]
    # nothing to check when both are auto: no data is read
    set_params(project_copy, "evaluate", metrics="auto")
    assert checks.stage_task_problems(Project.load(project_copy), "evaluate") == []


def test_a_misspelt_required_key_is_named_beside_the_missing_one(proj):
    params = copy.deepcopy(proj.params)
    params["prepare"]["tets_size"] = params["prepare"].pop("test_size")
    text = problems(Project(proj.root, proj.pipeline, params))
    assert "prepare.test_size: missing (required); params.yaml has prepare.tets_size" in text


@pytest.mark.parametrize("title", ["", "  ", None, ["a"]])
def test_the_report_title_must_be_text(proj, title):
    text = problems(with_params(proj, report={"title": title}))
    assert f"report.title: expected the reports' title as text, found {title!r}" in text
