"""Unit tests of nbml.project: paths written once, params declared once."""

from pathlib import Path

import pytest
import yaml

from nbml.project import ConfigError, Paths, Project

PIPELINE = {
    "vars": [
        {"paths": {"notebooks": "notebooks", "out": "data/out.parquet", "reports": "reports"}}
    ],
    "stages": {
        "make": {
            "cmd": "python -m nbml.runner make",
            "deps": ["${paths.notebooks}/make.ipynb"],
            "params": ["data.target", "make"],
            "outs": ["${paths.out}", "outputs/make.ipynb", "${paths.reports}/make.html"],
            "metrics": [{"m.json": {"cache": False}}],
        }
    },
}
PARAMS = {"data": {"target": "y", "source": "iris"}, "make": {"alpha": 0.5, "layers": [1, 2]}}


def write_project(tmp_path: Path, pipeline=PIPELINE, params=PARAMS) -> Project:
    (tmp_path / "dvc.yaml").write_text(yaml.safe_dump(pipeline))
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    return Project.load(tmp_path)


def test_stage_params_flatten_sections_and_dotted_keys_keeping_types(tmp_path):
    proj = write_project(tmp_path)
    assert proj.stage_params("make") == {"target": "y", "alpha": 0.5, "layers": [1, 2]}


def test_two_entries_giving_the_same_variable_are_refused(tmp_path):
    params = {"data": {"alpha": 1}, "make": {"alpha": 2}}
    pipeline = {
        **PIPELINE,
        "stages": {"make": {**PIPELINE["stages"]["make"], "params": ["data", "make"]}},
    }
    proj = write_project(tmp_path, pipeline, params)
    with pytest.raises(ConfigError, match=r"data.alpha and make.alpha both become .*'alpha'"):
        proj.stage_params("make")


def test_missing_param_names_the_key_and_file(tmp_path):
    proj = write_project(tmp_path, params={"data": {"target": "y"}})
    with pytest.raises(ConfigError, match=r"params.yaml: 'make' is not defined"):
        proj.stage_params("make")


def test_templated_deps_and_outs_resolve_like_dvc(tmp_path):
    proj = write_project(tmp_path)
    assert proj.stage_files("make", "deps") == ["notebooks/make.ipynb"]
    assert proj.stage_files("make", "outs") == [
        "data/out.parquet",
        "outputs/make.ipynb",
        "reports/make.html",
        "m.json",
    ]


def test_stage_notebook_is_found_among_deps_and_outs(tmp_path):
    files = write_project(tmp_path).stage_notebook("make")
    assert (files.notebook, files.executed, files.report) == (
        "notebooks/make.ipynb",
        "outputs/make.ipynb",
        "reports/make.html",
    )


def test_stage_without_report_out_is_a_clear_error(tmp_path):
    stage = {**PIPELINE["stages"]["make"], "outs": ["outputs/make.ipynb"]}
    proj = write_project(tmp_path, {**PIPELINE, "stages": {"make": stage}})
    with pytest.raises(ConfigError, match=r"stage 'make': expected exactly one HTML report"):
        proj.stage_notebook("make")


def test_unknown_stage_lists_known_stages(tmp_path):
    with pytest.raises(ConfigError, match=r"no stage 'nope' \(stages: make\)"):
        write_project(tmp_path).stage("nope")


def test_paths_are_absolute_and_unknown_names_fail(tmp_path):
    proj = write_project(tmp_path)
    paths = Paths(proj.root, proj.path_names)
    assert paths.out == tmp_path / "data" / "out.parquet"
    assert paths.relative("out") == "data/out.parquet"
    with pytest.raises(AttributeError, match="no path 'missing'"):
        _ = paths.missing


def test_invalid_yaml_names_the_file(tmp_path):
    (tmp_path / "dvc.yaml").write_text("stages: [unclosed")
    (tmp_path / "params.yaml").write_text("{}")
    with pytest.raises(ConfigError, match=r"dvc.yaml: not valid YAML"):
        Project.load(tmp_path)
