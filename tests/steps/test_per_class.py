"""Unit tests of nbml.steps.per_class: the per-class table and the weakest classes in words."""

import numpy as np
import pandas as pd
import pytest

from nbml.steps import evaluation, per_class

CLASSES = np.array(["Adelie", "Chinstrap", "Gentoo"])


@pytest.fixture
def scored():
    y = pd.Series(["Adelie"] * 4 + ["Chinstrap"] * 4 + ["Gentoo"] * 2)
    pred = np.array(["Adelie"] * 4 + ["Chinstrap", "Adelie", "Adelie", "Gentoo"] + ["Gentoo"] * 2)
    return y, pred


def test_one_row_per_class_with_precision_recall_f1_support(scored):
    y, pred = scored
    table = per_class.per_class_table(y, pred, CLASSES)
    assert list(table.columns) == ["class", "precision", "recall", "f1", "support"]
    assert list(table["class"]) == list(CLASSES)
    row = table.set_index("class").loc["Chinstrap"]
    assert row["recall"] == pytest.approx(0.25) and row["precision"] == pytest.approx(1.0)
    assert row["support"] == 4
    assert table.set_index("class").loc["Adelie", "precision"] == pytest.approx(4 / 6, abs=1e-6)


def test_a_class_never_predicted_scores_zero_without_a_warning(recwarn):
    table = per_class.per_class_table(pd.Series(["a", "b"]), np.array(["a", "a"]), ["a", "b"])
    assert table.set_index("class").loc["b", ["precision", "recall", "f1"]].tolist() == [0, 0, 0]
    assert not [w for w in recwarn if "ill-defined" in str(w.message)]


def test_metrics_file_round_trip(scored):
    table = per_class.per_class_table(*scored, CLASSES)
    tree = per_class.as_metrics(table)
    assert tree["Gentoo"] == {"precision": 0.666667, "recall": 1.0, "f1": 0.8, "support": 2}
    assert isinstance(tree["Gentoo"]["support"], int)
    pd.testing.assert_frame_equal(per_class.from_metrics(tree), table, check_dtype=False)


def test_weakest_classes_are_named_with_what_they_are_misread_as(scored):
    y, pred = scored
    table = per_class.per_class_table(y, pred, CLASSES)
    confusion = evaluation.confusion_counts(y, pred, CLASSES)
    sentence = per_class.weakest_sentence(table, confusion)
    assert sentence == "Weakest: Chinstrap: recall 0.250, 3 of 4 misread (mostly as Adelie: 2)."


def test_a_single_kind_of_mistake_is_named_plainly():
    y = pd.Series(["a", "a", "b", "b"])
    pred = np.array(["a", "b", "b", "b"])
    table = per_class.per_class_table(y, pred, ["a", "b"])
    sentence = per_class.weakest_sentence(table, evaluation.confusion_counts(y, pred, ["a", "b"]))
    assert sentence == "Weakest: a: recall 0.500, 1 of 2 misread as b."


def test_a_perfect_model_has_no_weakest_class():
    y = pd.Series(["a", "b"])
    table = per_class.per_class_table(y, np.array(["a", "b"]), ["a", "b"])
    confusion = evaluation.confusion_counts(y, np.array(["a", "b"]), ["a", "b"])
    assert (
        per_class.weakest_sentence(table, confusion)
        == "Every class is recognised on all 2 test rows."
    )


def test_per_class_scores_from_class_positions_equal_scikit_learns_on_text_labels(monkeypatch):
    """Scored as positions among the classes: the same numbers as on the text labels."""
    from sklearn import metrics as skm

    rng = np.random.default_rng(0)
    classes = ["b", "a", "c", "d"]  # the model's order, not sorted; "d" never predicted
    y = pd.Series(rng.choice(classes, 5_000))
    pred = rng.choice(classes[:3], 5_000)
    seen = []
    real = skm.precision_recall_fscore_support
    monkeypatch.setattr(
        per_class.skm,
        "precision_recall_fscore_support",
        lambda t, p, **kw: seen.append(np.asarray(t).dtype.kind) or real(t, p, **kw),
    )
    got = per_class.per_class_table(y, pred, classes)
    want = real(np.asarray(y), pred, labels=classes, zero_division=0)
    assert seen == ["i"]  # positions, not text
    for column, values in zip(["precision", "recall", "f1", "support"], want, strict=True):
        assert got[column].tolist() == np.round(values, 6).tolist()
    # a label outside the classes: scored as text, as before
    outside = per_class.per_class_table(pd.Series(["a", "z"]), np.array(["a", "a"]), ["a", "b"])
    assert outside["support"].tolist() == [1, 0] and seen[-1] != "i"
