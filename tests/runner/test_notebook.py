"""Unit tests of nbml.runner.notebook: the parameters cell, stripping, stable output."""

import copy

import pytest

from nbml.runner import notebook as nbfile


def make_nb(param_source="alpha = 1\nbeta = 'x'\n_private = 3", tags=("parameters",)):
    return {
        "cells": [
            {"cell_type": "markdown", "id": "t", "metadata": {}, "source": "# Title"},
            {
                "cell_type": "code",
                "id": "p",
                "metadata": {"tags": list(tags)},
                "source": param_source,
                "outputs": [],
                "execution_count": None,
            },
            {
                "cell_type": "code",
                "id": "work",
                "metadata": {},
                "source": "print(alpha)",
                "outputs": [],
                "execution_count": None,
            },
        ],
        "metadata": {"kernelspec": {"name": "nbml"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def test_declared_parameters_are_top_level_public_assignments():
    nb = make_nb("alpha = 1\nbeta: str = 'x'\n_p = {}\nif True:\n    nested = 1")
    assert nbfile.declared_parameters(nb, "nb") == ["alpha", "beta"]


def test_missing_parameters_tag_is_an_error_naming_the_notebook():
    with pytest.raises(
        nbfile.NotebookError, match=r"notebooks/x.ipynb: no cell is tagged 'parameters'"
    ):
        nbfile.declared_parameters(make_nb(tags=()), "notebooks/x.ipynb")


def test_unknown_injected_parameter_is_refused():
    with pytest.raises(
        nbfile.NotebookError, match=r"gives gamma to stage 'train'.*does not declare it"
    ):
        nbfile.check_parameters(make_nb(), {"alpha": 1, "beta": "y", "gamma": 2}, "nb", "train")


def test_declared_but_not_injected_parameter_is_refused():
    with pytest.raises(nbfile.NotebookError, match=r"declares beta, but dvc.yaml stage 'train'"):
        nbfile.check_parameters(make_nb(), {"alpha": 1}, "nb", "train")


def test_matching_parameters_pass():
    nbfile.check_parameters(make_nb(), {"alpha": 1, "beta": "y"}, "nb", "train")


def test_strip_outputs_removes_outputs_counts_and_volatile_metadata():
    nb = make_nb()
    cell = nb["cells"][2]
    cell.update(
        outputs=[{"output_type": "stream", "name": "stdout", "text": "1"}], execution_count=4
    )
    cell["metadata"].update(execution={"iopub.status.busy": "t"}, scrolled=True, tags=["keep"])
    nb["metadata"]["language_info"] = {"name": "python", "version": "3.11.7"}
    stripped = nbfile.strip_outputs(nb)
    assert not nbfile.has_outputs(stripped)
    assert stripped["cells"][2]["metadata"] == {"tags": ["keep"]}
    assert stripped["metadata"]["language_info"] == {"name": "python"}


def test_pre_save_hook_strips_notebooks_only():
    nb = make_nb()
    nb["cells"][2]["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "1"}]
    model = {"type": "notebook", "content": nb}
    nbfile.pre_save_hook(model, path="x.ipynb")
    assert not nbfile.has_outputs(model["content"])
    text_model = {"type": "file", "content": "unchanged"}
    nbfile.pre_save_hook(text_model)
    assert text_model["content"] == "unchanged"


def test_split_run_record_moves_timing_out_and_fixes_injected_id():
    nb = make_nb()
    nb["metadata"]["papermill"] = {
        "parameters": {"alpha": 2},
        "input_path": "a",
        "start_time": "t0",
        "duration": 1.5,
    }
    injected = {
        "cell_type": "code",
        "id": "random123",
        "source": "alpha = 2",
        "metadata": {"tags": ["injected-parameters"], "papermill": {"duration": 0.1}},
        "outputs": [],
        "execution_count": 2,
    }
    nb["cells"].insert(2, injected)
    nb["cells"][3]["metadata"]["execution"] = {"iopub.execute_input": "t"}
    record = nbfile.split_run_record(nb)
    assert nb["metadata"]["papermill"] == {"parameters": {"alpha": 2}, "input_path": "a"}
    assert record["papermill"] == {"start_time": "t0", "duration": 1.5}
    assert nb["cells"][2]["id"] == "injected-parameters"
    assert all(
        "papermill" not in c["metadata"] and "execution" not in c["metadata"] for c in nb["cells"]
    )
    assert [c["index"] for c in record["cells"]] == [2, 3]


def test_failed_cell_counts_source_cells_only():
    nb = make_nb()
    banner = {
        "cell_type": "markdown",
        "id": "b",
        "source": "error",
        "metadata": {"tags": ["papermill-error-cell-tag"]},
    }
    nb["cells"].insert(0, banner)
    nb["cells"][2]["execution_count"] = 1
    nb["cells"][3]["outputs"] = [{"output_type": "error", "ename": "ValueError", "evalue": "bad"}]
    index, cell = nbfile.failed_cell(nb)
    assert index == 2 and cell["id"] == "work"
    assert nbfile.describe_cell(index, cell) == "cell 3 (id 'work') `print(alpha)`: ValueError: bad"


def test_failed_cell_finds_cells_that_never_ran():
    nb = make_nb()
    for cell, status in zip(nb["cells"][1:], ("completed", "pending"), strict=True):
        cell["metadata"]["papermill"] = {"status": status, "start_time": "t"}
    assert nbfile.failed_cell(nb)[1]["id"] == "work"
    done = copy.deepcopy(nb)
    done["cells"][2]["metadata"]["papermill"]["status"] = "completed"
    assert nbfile.failed_cell(done) is None
    # a dead kernel: papermill marks all cells completed, the later ones never started
    done["cells"][2]["metadata"]["papermill"]["start_time"] = None
    assert nbfile.failed_cell(done)[1]["id"] == "p"


def test_dumps_is_stable_and_ends_with_newline():
    nb = make_nb()
    assert nbfile.dumps(nb) == nbfile.dumps(copy.deepcopy(nb))
    assert nbfile.dumps(nb).endswith("}\n")


def test_a_long_cell_error_goes_on_its_own_line():
    cell = {
        "id": "load",
        "source": "types = infer_feature_types(df, target)",
        "outputs": [{"output_type": "error", "ename": "FeatureError", "evalue": "x" * 150}],
    }
    head, error = nbfile.describe_cell(3, cell).split("\n")
    assert head == "cell 4 (id 'load') `types = infer_feature_types(df, target)`:"
    assert error == "  FeatureError: " + "x" * 150


def test_a_misspelt_parameter_is_named_with_the_one_the_notebook_declares():
    with pytest.raises(nbfile.NotebookError) as info:
        nbfile.check_parameters(make_nb(), {"alpha": 1, "betta": "y"}, "nb", "train")
    assert "params.yaml gives betta to stage 'train' (did you mean beta?)" in str(info.value)
