"""The index summary: facts from the report stage's inputs, the headline against the baseline."""

from __future__ import annotations

import json
import re

import pandas as pd
import pytest

from nbml.errors import ReportError
from nbml.reporting import overview
from nbml.steps import data

PARAMS = {
    "data": {"source": "penguins", "target": "species"},
    "train": {
        "estimator": "sklearn.ensemble.HistGradientBoostingClassifier",
        "kwargs": {"learning_rate": 0.1, "max_iter": 200},
    },
    "evaluate": {"metrics": ["accuracy", "log_loss"]},
}


@pytest.fixture
def files(tmp_path):
    write = {
        "metrics": {"log_loss": 0.013815, "accuracy": 0.988372},
        "baseline": {
            "strategy": "majority class",
            "answer": "Adelie",
            "metrics": {"accuracy": 0.44186, "log_loss": 1.049155},
        },
        "per_class": {
            "Adelie": {"precision": 1.0, "recall": 0.973684, "f1": 0.986667, "support": 38},
            "Chinstrap": {"precision": 0.944444, "recall": 1.0, "f1": 0.971429, "support": 17},
        },
        "feature_types": {
            "numeric": ["bill_length_mm"],
            "categorical": ["island"],
            "dropped": {"id": "identifier-like"},
        },
    }
    paths = {}
    for name, content in write.items():
        paths[name] = tmp_path / f"{name}.json"
        paths[name].write_text(json.dumps(content))
    paths["confusion"] = tmp_path / "confusion.csv"
    pd.DataFrame(
        {
            "actual": ["Adelie", "Adelie", "Chinstrap"],
            "predicted": ["Adelie", "Chinstrap", "Chinstrap"],
            "count": [37, 1, 17],
        }
    ).to_csv(paths["confusion"], index=False)
    for split, rows in (("train", 5), ("test", 3)):
        paths[split] = tmp_path / f"{split}.parquet"
        data.write_parquet(pd.DataFrame({"species": ["a"] * rows}), paths[split])
    return paths


def test_the_summary_shows_data_model_headline_and_weakest_class(files):
    facts = overview.gather(PARAMS, "classification", files)
    assert (facts.train_rows, facts.test_rows) == (5, 3)
    assert list(facts.scores) == ["accuracy", "log_loss"]  # params.yaml's order
    assert overview.headline(facts) == (
        "accuracy 0.988; always answering the most common class (Adelie): 0.442"
    )
    page = overview.render(facts)
    text = re.sub(r"<[^>]+>", "", page)
    assert "Classification of species from penguins: 5 training rows, 3 test rows" in text
    assert "HistGradientBoostingClassifier (learning_rate=0.1, max_iter=200)" in text
    assert "Left out: id (identifier-like)" in text
    assert "Weakest: Adelie: recall 0.974, 1 of 38 misread as Chinstrap." in text
    # each metric has its plain-words definition as a tooltip, and its direction
    assert 'title="share of test rows whose class is predicted right"' in page
    assert re.search(r"log_loss</abbr> ↓", page) and re.search(r"accuracy</abbr> ↑", page)
    # the live cells are empty until status.js fills them; nothing comes from the network
    assert page.count('data-rev="HEAD">–<') == 2 and page.count('data-rev="main">–<') == 2
    assert '<script src="status.js"></script>' in page and "http" not in page


def test_a_model_no_better_than_the_baseline_is_said_first(files):
    facts = overview.gather(PARAMS, "classification", files)
    assert overview.verdict(facts) == "" and "below-baseline" not in overview.render(facts)
    # accuracy at the baseline's (a tie is no better), log loss above it
    files["metrics"].write_text(json.dumps({"accuracy": 0.44186, "log_loss": 1.2}))
    facts = overview.gather(PARAMS, "classification", files)
    page = overview.render(facts)
    said = re.search(r'<p class="below-baseline" role="alert">([^<]*)</p>', page).group(1)
    assert said.startswith(
        "The model does no better than always answering the most common class (Adelie) "
        "on accuracy and log_loss: look in explore"
    )
    # right under the headline, before the facts
    assert page.index("below-baseline") < page.index('class="facts"')


def test_booleans_and_dates_are_counted_among_the_columns_used(files):
    types = {
        "numeric": ["bill_length_mm"],
        "categorical": ["island"],
        "boolean": ["is_active"],
        "dates": {"sign-up date": "%d/%m/%Y"},
        "dropped": {},
    }
    files["feature_types"].write_text(json.dumps(types))
    text = re.sub(r"<[^>]+>", "", overview.render(overview.gather(PARAMS, "classification", files)))
    assert (
        "4 columns used: bill_length_mm, island, is_active, sign-up date. Left out: none." in text
    )


def test_same_inputs_give_the_same_summary(files):
    first = overview.render(overview.gather(PARAMS, "classification", files))
    assert overview.render(overview.gather(PARAMS, "classification", files)) == first


def test_markup_in_a_value_is_shown_as_text(files):
    params = {**PARAMS, "data": {"source": "<b>x</b>", "target": "species"}}
    page = overview.render(overview.gather(params, "classification", files))
    assert "<b>x</b>" not in page and "&lt;b&gt;x&lt;/b&gt;" in page


def test_the_model_card_sits_in_the_index_with_its_headings_moved_down():
    section = overview.card_section("# Model card: y\n\n# Limits\n\n- small classes\n")
    assert section.startswith('<section class="card" id="model-card">')
    assert "<h3>Model card: y</h3>" in section and "<h3>Limits</h3>" in section


def test_a_missing_or_broken_input_names_the_file(files):
    files["baseline"].unlink()
    with pytest.raises(ReportError, match=r"baseline.json: JSON .* not found"):
        overview.gather(PARAMS, "classification", files)
    files["baseline"].write_text("{not json")
    with pytest.raises(ReportError, match=r"baseline.json: not valid JSON"):
        overview.gather(PARAMS, "classification", files)


def test_rows_of_a_split_written_as_a_folder_of_part_files(tmp_path):
    folder = tmp_path / "train.parquet"
    folder.mkdir()
    pd.DataFrame({"a": range(3)}).to_parquet(folder / "part.0.parquet")
    pd.DataFrame({"a": range(4)}).to_parquet(folder / "part.1.parquet")
    assert overview.parquet_rows(folder) == 7
    assert overview.parquet_rows(folder / "part.1.parquet") == 4
