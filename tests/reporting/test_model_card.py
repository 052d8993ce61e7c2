"""The model card: written with skops from the trained model, names its classes and limits."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from nbml.project import paths
from nbml.reporting import card, overview
from nbml.serving.loading import file_md5
from nbml.steps import baseline, data, evaluation, per_class, slices
from nbml.steps.model import load_model

NAMES = ["accuracy", "balanced_accuracy", "log_loss"]


def facts_for(root, target: str = "species") -> tuple[object, card.CardFacts]:
    P = paths(root)
    model = load_model(P.model)
    train, test = data.read_parquet(P.train), data.read_parquet(P.test)
    X_test, y_test = data.split_xy(test, target)
    y_train = data.split_xy(train, target)[1]
    predicted = model.predict(X_test)
    scores = evaluation.compute_metrics(
        y_test, predicted, model.predict_proba(X_test), model.classes_, NAMES
    )
    reference = baseline.baseline("classification", y_train, y_test, model.classes_, NAMES)
    table = per_class.per_class_table(y_test, predicted, model.classes_)
    confusion = evaluation.confusion_counts(y_test, predicted, model.classes_)
    types = json.loads(P.feature_types.read_text())
    types["dropped"] = {"name": "identifier-like: 98% distinct values"}
    facts = card.CardFacts(
        target=target,
        task="classification",
        source="penguins",
        train_rows=len(train),
        test_rows=len(test),
        feature_types=types,
        scores=scores,
        baseline=reference,
        baseline_text=baseline.describe(reference, target),
        per_class=table,
        weakest=per_class.weakest_sentence(table, confusion),
    )
    return model, facts


def test_the_card_names_the_classes_metrics_baseline_and_limits(trained, tmp_path):
    model, facts = facts_for(trained)
    P = paths(trained)
    out = card.write_card(model, P.model, facts, tmp_path / "card.md")
    text = out.read_text()
    for name in ("Adelie", "Chinstrap", "Gentoo"):
        assert name in text
    for section in (
        "# What it predicts",
        "# Training data",
        "# Metrics (test split)",
        "# Per-class results",
        "# Columns left out",
        "# Parameters",
        "# Limits",
    ):
        assert section in text, section
    assert "always answering the most common class (Adelie)" in text
    assert f"| {facts.train_rows}" not in text and f"{facts.train_rows} training rows" in text
    assert "identifier-like" in text and "Unseen categories" in text
    assert file_md5(P.model) in text  # the run is named by the model file it describes
    assert "max_iter" in text  # a parameter set away from its default


def test_a_model_no_better_than_the_baseline_is_the_first_limit(trained, tmp_path):
    model, facts = facts_for(trained)
    P = paths(trained)
    good = card.write_card(model, P.model, facts, tmp_path / "good.md").read_text()
    assert "does no better than" not in good
    facts.scores = {**facts.scores, "accuracy": facts.baseline["metrics"]["accuracy"]}
    text = card.write_card(model, P.model, facts, tmp_path / "card.md").read_text()
    limits = text[text.index("# Limits") :]
    first = limits.splitlines()[2]  # the heading, a blank line, then the first limit
    assert first.startswith(
        "- **The model does no better than always answering the most common class (Adelie) "
        "on accuracy:"
    ), limits


def test_the_card_has_the_same_bytes_for_the_same_model(trained, tmp_path):
    model, facts = facts_for(trained)
    P = paths(trained)
    first = card.write_card(model, P.model, facts, tmp_path / "a.md").read_bytes()
    again = card.write_card(load_model(P.model), P.model, facts, tmp_path / "b.md").read_bytes()
    assert first == again


def test_main_params_are_those_set_away_from_the_default():
    from sklearn.linear_model import LogisticRegression  # lazy: only this test needs it

    assert card.main_params(LogisticRegression(C=2.0, max_iter=50)) == {"C": 2.0, "max_iter": 50}


def test_the_card_page_renders_its_tables_and_escapes_markup():
    page = overview.card_page("# Model card\n\n| a | b |\n|---|---|\n| 1 | <b>x</b> |\n", css="p{}")
    assert "<table>" in page and "<td>1</td>" in page
    assert "<b>x</b>" not in page and "&lt;b&gt;" in page
    assert "<style>p{}</style>" in page and "http" not in page


@pytest.mark.parametrize("small", [True, False])
def test_small_classes_are_listed_as_a_limit(small):
    table = pd.DataFrame(
        {
            "class": ["a", "b"],
            "precision": [1.0, 1.0],
            "recall": [1.0, 1.0],
            "f1": [1.0, 1.0],
            "support": [100, 5 if small else 100],
        }
    )
    facts = card.CardFacts(
        target="y",
        task="classification",
        source="s",
        train_rows=1,
        test_rows=1,
        feature_types={},
        scores={},
        baseline={},
        baseline_text="",
        per_class=table,
        weakest="",
    )
    assert ("Small classes: b (5 test rows)" in card._limits(facts)) is small


def test_a_regression_card_says_what_quantity_it_predicts_with_slices_and_no_classes():
    import numpy as np  # lazy: only this test fits a regressor
    from sklearn.ensemble import HistGradientBoostingRegressor  # lazy: only this test

    rng = np.random.default_rng(0)
    X = pd.DataFrame({"weight": rng.uniform(800, 2200, 200)})
    y = pd.Series(X["weight"] / 200 + rng.normal(0, 0.3, 200), name="consumption")
    model = HistGradientBoostingRegressor(max_iter=20).fit(X, y)
    predicted = model.predict(X)
    reference = baseline.baseline("regression", y, y, names=["r2", "rmse"])
    table = slices.error_by_quantile(y, predicted)
    facts = card.CardFacts(
        target="consumption",
        task="regression",
        source="data/raw/cars.csv",
        train_rows=200,
        test_rows=200,
        feature_types={"numeric": ["weight"], "categorical": []},
        scores={"r2": 0.9, "rmse": 0.4},
        baseline=reference,
        baseline_text=baseline.describe(reference, "consumption"),
        per_class=table,
        weakest=slices.weakest_sentence(table, "consumption"),
    )
    text = card.build_card(model, facts, "0" * 32).render()
    assert "regression of the quantity `consumption`" in text and "classes" not in text
    assert "# Errors by range of the target" in text and "# Per-class results" not in text
    assert "consumption is above" in text and "Largest errors where consumption" in text
    assert "training mean of consumption" in text and "Small classes" not in text


def _dummy_card_text(strategy: str) -> str:
    """The card of a DummyRegressor on four rows whose columns are of every used kind."""
    from sklearn.dummy import DummyRegressor  # lazy: only these tests fit one

    y = pd.Series([1.0, 2.0, 3.0, 4.0], name="price")
    model = DummyRegressor(strategy=strategy).fit(pd.DataFrame({"weight": y}), y)
    reference = baseline.baseline("regression", y, y, names=["r2"])
    facts = card.CardFacts(
        target="price",
        task="regression",
        source="data/raw/sales.csv",
        train_rows=4,
        test_rows=4,
        feature_types={
            "numeric": ["weight"],
            "categorical": [],
            "boolean": ["is_new"],
            "dates": {"sold on": "%d.%m.%Y"},
            "dropped": {"ref": "identifier"},
        },
        scores={"r2": 0.0},
        baseline=reference,
        baseline_text=baseline.describe(reference, "price"),
        per_class=slices.error_by_quantile(y, y.to_numpy()),
        weakest="",
    )
    return card.build_card(model, facts, "0" * 32).render()


def test_the_card_names_boolean_and_date_columns_among_those_used():
    text = _dummy_card_text("median")
    assert "from the columns weight, is_new, sold on." in text
    assert (
        "Numeric columns: weight; categorical columns: none; boolean columns: is_new; "
        "date columns: sold on." in text
    )


def test_a_model_with_every_parameter_at_its_default_gets_a_card():
    # train.kwargs: {} (or only default values) left skops an empty table, which it refuses
    text = _dummy_card_text("mean")
    assert "# Parameters\n\nNone set: every parameter is at DummyRegressor's default." in text
    assert "strategy" in _dummy_card_text("median")
