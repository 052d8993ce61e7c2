"""``GET /card``: the model card evaluate wrote, as a page, checked against the served model."""

from __future__ import annotations

from fastapi.testclient import TestClient

from nbml.project import paths
from nbml.serving.app import create_app
from nbml.serving.loading import file_md5
from nbml.serving.settings import Settings


def card_text(md5: str) -> str:
    return (
        "# Model card: species\n\n# Per-class results\n\n| class | recall |\n|---|---|\n"
        f"| Adelie | 0.974 |\n\n# Run\n\nModel file md5 `{md5}` (as `dvc.lock` records it).\n"
    )


def get(root, path: str):
    with TestClient(create_app(Settings(root))) as client:
        return client.get(path)


def test_the_card_of_the_served_model_is_a_page(trained_copy):
    P = paths(trained_copy)
    P.card.write_text(card_text(file_md5(P.model)))
    answer = get(trained_copy, "/card")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/html")
    assert "<td>Adelie</td>" in answer.text and "another model file" not in answer.text
    raw = get(trained_copy, "/card.md")
    assert raw.headers["content-type"].startswith("text/markdown")
    assert raw.text == P.card.read_text()


def test_a_card_of_another_model_is_shown_under_a_warning(trained_copy):
    paths(trained_copy).card.write_text(card_text("0" * 32))
    answer = get(trained_copy, "/card")
    assert answer.status_code == 200 and "written for another model file" in answer.text


def test_no_card_is_a_404_saying_what_writes_it(trained_copy):
    paths(trained_copy).card.unlink(missing_ok=True)
    answer = get(trained_copy, "/card")
    assert answer.status_code == 404 and "evaluate" in answer.json()["error"]
