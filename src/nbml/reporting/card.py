"""The model card next to the model: what it predicts, from what, how well, and its limits.

Made with ``skops.card`` from the trained model (its estimator and
parameters) and the facts the evaluate stage knows: the splits, the feature
types, the metrics with their baseline and the per-class results. The card
is Markdown (``data/models/card.md``); :mod:`nbml.reporting.overview` renders
it for the index and for the service's ``/card``. It carries no date and no git
revision (which would change its bytes with every commit): the run is named
by the model file's md5, as ``dvc.lock`` records it. For a regression model
the per-class table is the error by range of the target
(:mod:`nbml.steps.slices`), and there are no classes.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from skops import card as skops_card

from nbml.steps import slices
from nbml.steps.per_class import readable
from nbml.steps.summary import baseline_verdict, columns_by_kind, columns_used, definition, fmt

# A class with fewer test rows than this gets a warning in the card's limits.
SMALL_CLASS_ROWS = 30


@dataclass
class CardFacts:
    """What the evaluate stage knows about the model it scored."""

    target: str
    task: str
    source: str
    train_rows: int
    test_rows: int
    feature_types: dict[str, Any]
    scores: dict[str, float]
    baseline: dict[str, Any]
    baseline_text: str
    per_class: pd.DataFrame  # classification: per class; regression: per target slice
    weakest: str
    unseen: dict[str, Any] = field(default_factory=dict)


def estimator_of(model: Any) -> Any:
    """The last step of a pipeline (the estimator), or the model itself."""
    steps = getattr(model, "steps", None)
    return steps[-1][1] if steps else model


def main_params(estimator: Any) -> dict[str, Any]:
    """The parameters set to something other than the estimator class's default."""
    params = estimator.get_params(deep=False)
    try:
        defaults = type(estimator)().get_params(deep=False)
    except TypeError:  # an estimator that needs arguments: show them all
        return params
    return {k: v for k, v in params.items() if k not in defaults or defaults[k] != v}


def _metrics_table(facts: CardFacts) -> pd.DataFrame:
    base = facts.baseline.get("metrics", {})
    rows = [
        {
            "metric": name,
            "model": fmt(value, [base.get(name)]),
            "baseline": fmt(base.get(name), [value]),
            "what it means": definition(name),
        }
        for name, value in facts.scores.items()
    ]
    return pd.DataFrame(rows)


def _dropped_table(types: dict[str, Any]) -> pd.DataFrame | str:
    dropped = types.get("dropped") or {}
    if not dropped:
        return "None: every column but the target is used."
    return pd.DataFrame({"column": list(dropped), "why": list(dropped.values())})


def _params_table(estimator: Any) -> pd.DataFrame | str:
    """The parameters set away from the defaults; a sentence when there are none (skops
    refuses a table without rows, and train.kwargs: {} is a common choice)."""
    params = main_params(estimator)
    if not params:
        return f"None set: every parameter is at {type(estimator).__name__}'s default."
    return pd.DataFrame([{"parameter": k, "value": repr(v)} for k, v in params.items()])


def _regression(facts: CardFacts) -> bool:
    return facts.task == "regression"


def _limits(facts: CardFacts) -> str:
    lines = []
    verdict = baseline_verdict(
        facts.scores, facts.baseline.get("metrics") or {}, facts.baseline_text
    )
    if verdict:  # the first limit a reader must know
        lines.append(f"- **{verdict}**")
    if _regression(facts):
        lines.append(
            f"- The answer is a number of `{facts.target}`, off by about the mae above; "
            "tree models (the default estimator) never answer outside the range of the "
            "training targets."
        )
        small = facts.per_class.iloc[0:0]
    else:
        small = facts.per_class[facts.per_class["support"] < SMALL_CLASS_ROWS]
    if not small.empty:
        listed = ", ".join(f"{r['class']} ({r['support']} test rows)" for _, r in small.iterrows())
        lines.append(
            f"- Small classes: {listed}. Their per-class numbers rest on few rows and can "
            "move a lot with a different split."
        )
    categorical = facts.feature_types.get("categorical") or []
    if categorical:
        lines.append(
            f"- Unseen categories: a value of {', '.join(categorical)} that training never saw "
            "is taken as no known category (a one-hot encoder gives it no column; "
            "HistGradientBoosting's category codes send it where missing values go), so such "
            "a row is predicted mostly from its other columns; evaluate warns when the test "
            "split has one, and the service names such values in its answer's `warnings`."
        )
    lines.append(
        "- Rows unlike the training data (values outside its range, another population) "
        "get answers with no guarantee; the metrics hold for rows like the test split."
    )
    return "\n".join(lines)


def _names(columns: list[str] | None) -> str:
    return ", ".join(columns or []) or "none"


def _columns_sentence(types: dict[str, Any]) -> str:
    """'Numeric columns: ...; categorical columns: ...', then booleans and dates if any."""
    parts = [
        f"{word} columns: {_names(names)}"
        for word, names in columns_by_kind(types).items()
        if names or word in ("numeric", "categorical")
    ]
    sentence = "; ".join(parts)
    return sentence[:1].upper() + sentence[1:] + "."


def _what_it_predicts(model: Any, facts: CardFacts, used: list[str]) -> str:
    if _regression(facts):
        kind = f"a number: regression of the quantity `{facts.target}`"
    else:
        classes = ", ".join(str(c) for c in getattr(model, "classes_", []))
        kind = f"classification; classes: {classes}"
    return (
        f"The `{facts.target}` of a row ({kind}) from the columns {', '.join(used)}. "
        "It takes raw rows: the preprocessing is part of the model."
    )


def _results(facts: CardFacts) -> dict[str, pd.DataFrame]:
    if _regression(facts):
        return {"Errors by range of the target": slices.readable(facts.per_class, facts.target)}
    return {"Per-class results": readable(facts.per_class)}


def _sections(model: Any, facts: CardFacts, md5: str) -> dict[str, Any]:
    types = facts.feature_types
    estimator = estimator_of(model)
    used = columns_used(types)
    split = "split by quantile of the target" if _regression(facts) else "a stratified split"
    return {
        "What it predicts": _what_it_predicts(model, facts, used),
        "Training data": (
            f"Source `{facts.source}`: {facts.train_rows} training rows, {facts.test_rows} "
            f"test rows ({split}). {_columns_sentence(types)}"
        ),
        "Metrics (test split)": _metrics_table(facts),
        **_results(facts),
        "Columns left out": _dropped_table(types),
        "Parameters": _params_table(estimator),
        "Run": (
            f"Model file md5 `{md5}` (as `dvc.lock` records it); the git commit of the run "
            "is on the index page and in the service's `/metadata`."
        ),
        "Limits": _limits(facts),
    }


def build_card(model: Any, facts: CardFacts, md5: str) -> skops_card.Card:
    """A skops card of the model, with no template sections and no model diagram."""
    card = skops_card.Card(model, template=None, model_diagram=False)
    for title, content in _sections(model, facts, md5).items():
        if isinstance(content, pd.DataFrame):
            card.add_table(folded=False, **{title: content})
        else:
            card.add(**{title: content})
    intro = (
        f"The baseline is what {facts.baseline_text} scores on the same test rows. "
        f"{facts.weakest}"
    )
    card.add(**{"Metrics (test split)/How to read them": intro})
    return card


def write_card(model: Any, model_path: Path, facts: CardFacts, path: Path) -> Path:
    """Write the card next to the model as Markdown; stable bytes for the same inputs."""
    md5 = hashlib.md5(model_path.read_bytes()).hexdigest()
    text = build_card(model, facts, md5).render()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"# Model card: {facts.target}\n" + text.rstrip() + "\n", encoding="utf-8")
    return path
