"""End to end: `dvc repro` on a user's CSV with a date, an ID, a 300-value category and a
boolean, without editing a notebook: each kind is decided, reported and used; the saved
model takes the raw columns; nothing printed runs past 200 characters a line."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import copy_project, run, set_params
from nbml.steps.model import load_model

pytestmark = pytest.mark.slow

SOURCE = "data/raw/orders.csv"
ROWS = 800


def orders(seed: int = 0, n: int = ROWS) -> pd.DataFrame:
    """Orders over three years: the label depends on the season and on membership."""
    rng = np.random.default_rng(seed)
    when = pd.Timestamp("2019-01-01") + pd.to_timedelta(rng.integers(0, 3 * 365, n), unit="D")
    member = rng.choice(["yes", "no"], n)
    season = np.where(when.month.isin([12, 1, 2]), "winter", "rest")
    label = np.where(season == "winter", "heating", np.where(member == "yes", "garden", "misc"))
    return pd.DataFrame(
        {
            "order_id": np.arange(1, n + 1),
            "ordered": when.strftime("%Y-%m-%d"),
            "shop": rng.choice([f"shop-{i:03d}" for i in range(300)], n),
            "member": member,
            "amount": rng.gamma(2.0, 30.0, n).round(2),
            "category": label,
        }
    )


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess[str]]:
    repo = copy_project(tmp_path_factory.mktemp("kinds") / "project")
    (repo / "data/raw").mkdir(parents=True, exist_ok=True)
    orders().to_csv(repo / SOURCE, index=False)
    run(["dvc", "add", SOURCE], repo)
    set_params(repo, "data", source=SOURCE, target="category")
    return repo, run(["dvc", "repro"], repo)


def test_each_column_gets_its_kind_and_the_model_learns_from_the_date(repo):
    root, _ = repo
    types = json.loads((root / "data/features/feature_types.json").read_text())
    assert types["dates"] == {"ordered": "ISO8601"} and types["boolean"] == ["member"]
    assert types["numeric"] == ["amount"] and types["categorical"] == ["shop"]
    assert "integer key" in types["dropped"]["order_id"]
    metrics = json.loads((root / "outputs/metrics.json").read_text())
    assert metrics["accuracy"] > 0.9  # winter is only in the date, membership in the boolean


def test_the_reports_show_the_kinds_table(repo):
    root, _ = repo
    featurize = (root / "reports/featurize.html").read_text()
    for words in ("<th>becomes</th>", "date parts: year", "target encoding", "integer key"):
        assert words in featurize, words
    assert "<th>column</th>" in featurize
    explore = (root / "reports/explore.html").read_text()
    assert "integer key" in explore and "text that reads as dates" in explore


def test_the_saved_model_takes_raw_rows_and_stays_narrow(repo):
    root, _ = repo
    fitted = load_model(root / "data/models/model.skops")
    raw = orders(seed=7, n=50).drop(columns="category")
    assert (fitted.predict(raw) == orders(seed=7, n=50)["category"]).mean() > 0.85
    # 1 number + 1 boolean + 5 date parts + 3 target-encoded columns (one per class)
    assert fitted[0].transform(raw).shape[1] == 10


def test_no_printed_line_is_longer_than_200_characters(repo):
    _, proc = repo
    lines = (proc.stdout + proc.stderr).splitlines()
    assert lines and max(len(line) for line in lines) <= 200, max(lines, key=len)


def test_the_id_stays_an_identifier_when_prepare_samples_the_rows(repo):
    # a 30% sample's training split holds 180 keys spanning 1..800: too sparse to be
    # numbered rows, were the keys not judged on the source before the sample
    root, _ = repo
    set_params(root, "prepare", sample=0.3)
    run(["dvc", "repro", "featurize"], root)
    keys = json.loads((root / "data/prepared/keys.json").read_text())
    assert list(keys) == ["order_id"] and "on all 800 rows of the source" in keys["order_id"]
    types = json.loads((root / "data/features/feature_types.json").read_text())
    assert types["dropped"]["order_id"] == keys["order_id"]
    assert "order_id" not in types["numeric"]
