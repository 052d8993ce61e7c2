"""Bad params: refused before any notebook runs, naming the parameter and what is allowed."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
from sklearn.base import BaseEstimator, ClassifierMixin

from conftest import ROOT, set_params
from nbml.project import Project
from nbml.runner import checks
from nbml.runner.stage import run_stage


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
    assert "allowed: any scikit-learn classifier" in text


def test_estimator_that_is_not_a_classifier(proj):
    text = problems(
        with_params(
            proj, train={"estimator": "sklearn.linear_model.LinearRegression", "kwargs": {}}
        )
    )
    assert "sklearn.linear_model.LinearRegression is not a scikit-learn classifier" in text


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
        "allowed: accuracy, balanced_accuracy, f1_macro, roc_auc_ovr, log_loss" in text
    )


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
