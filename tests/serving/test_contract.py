"""The /predict contract, status and metadata routes, in-process (FastAPI's TestClient)."""

from __future__ import annotations

import json
import unicodedata

import pytest
import yaml

from served import model_answers, sample_rows


@pytest.fixture(scope="module")
def rows(trained):
    return sample_rows(trained)


def test_predictions_equal_the_model_and_keep_request_order(client, trained, rows):
    # every column missing in turn, and a category training never saw
    gaps = [{**rows[i], column: None} for i, column in enumerate(rows[0])]
    sent = rows[:90] + gaps + [{**rows[0], "island": "Atlantis"}]
    answer = client.post("/predict", json={"rows": sent})
    assert answer.status_code == 200, answer.text
    assert answer.json()["predictions"] == model_answers(trained, sent)
    assert len({p["label"] for p in answer.json()["predictions"]}) == 3


def test_a_category_training_never_saw_is_answered_with_a_warning_naming_it(client, trained, rows):
    known = client.post("/predict", json={"rows": rows[:5]})
    assert known.status_code == 200 and "warnings" not in known.json()
    sent = [rows[0], {**rows[1], "island": "Atlantis"}, {**rows[2], "island": "Atlantis"}]
    sent += [{**rows[3], "island": "Mu", "sex": None}]
    answer = client.post("/predict", json={"rows": sent})
    assert answer.status_code == 200, answer.text
    assert answer.json()["predictions"] == model_answers(trained, sent)
    (warning,) = answer.json()["warnings"]
    assert warning.startswith("island: text 'Atlantis' (rows 1, 2), text 'Mu' (row 3) never seen")
    assert "unknown category" in warning


def test_unseen_values_are_named_a_few_at_a_time():
    from nbml.serving.answers import UNSEEN_SHOWN, unseen_warnings

    checks = [(1, "shop", frozenset({"a", "b"}))]
    rows = [(0.5, f"new{i}") for i in range(UNSEEN_SHOWN + 3)] + [(0.1, "a"), (0.2, None)]
    (warning,) = unseen_warnings(rows, checks)
    assert warning.count("text 'new") == UNSEEN_SHOWN and " and 3 more never seen" in warning
    assert unseen_warnings([(0.1, "b"), (0.2, None)], checks) == []


def test_null_means_missing(client, trained, rows):
    row = {**rows[0], "sex": None, "bill_length_mm": None}
    answer = client.post("/predict", json={"rows": [row]})
    assert answer.status_code == 200, answer.text
    assert answer.json()["predictions"] == model_answers(trained, [row])


@pytest.mark.parametrize(
    "change, column, words",
    [
        ({"drop": "sex"}, "sex", "missing column 'sex'"),
        ({"add": ("wings", 2)}, "wings", "unknown column 'wings'"),
        ({"set": ("bill_length_mm", "long")}, "bill_length_mm", "expected a number or null"),
        ({"set": ("bill_length_mm", "39.1")}, "bill_length_mm", "got text '39.1'"),
        ({"set": ("island", 3)}, "island", "expected text or null, got 3"),
        ({"set": ("body_mass_g", True)}, "body_mass_g", "expected a number or null"),
    ],
)
def test_bad_rows_get_422_naming_row_and_column(client, rows, change, column, words):
    bad = dict(rows[1])
    if "drop" in change:
        del bad[change["drop"]]
    else:
        key, value = change.get("add") or change["set"]
        bad[key] = value
    answer = client.post("/predict", json={"rows": [rows[0], bad]})
    assert answer.status_code == 422
    body = answer.json()
    assert words in body["error"] and "row 1" in body["error"]
    assert body["detail"][0]["row"] == 1 and body["detail"][0]["column"] == column


@pytest.mark.parametrize(
    "body, status, words",
    [
        (b'{"rows": [{"island": "Biscoe",', 400, "malformed JSON"),
        (b"[1, 2]", 422, "expected {\"rows\""),
        (b'{"rows": []}', 422, "at least 1"),
        (b'{"rows": [5]}', 422, "row 0: expected an object"),
        (b"", 422, 'request: the body is empty; expected {"rows"'),
        (b'{"row": []}', 422, 'request: the body has no "rows"; expected {"rows"'),
    ],
)
def test_malformed_bodies_get_4xx_not_500(client, body, status, words):
    answer = client.post("/predict", content=body, headers={"Content-Type": "application/json"})
    assert answer.status_code == status
    assert words in answer.json()["error"]


def test_a_column_name_in_another_unicode_form_is_told_apart_from_an_unknown_one():
    # 'größe' decomposed (o + U+0308): printed, both names look the same
    from nbml.serving.answers import validation_answer

    sent = unicodedata.normalize("NFD", "größe")
    errors = [
        {"type": "missing", "loc": ("body", "rows", 0, "größe")},
        {"type": "extra_forbidden", "loc": ("body", "rows", 0, sent)},
    ]
    status, body = validation_answer(errors, ["größe", "z"])
    assert status == 422
    assert body["detail"][1]["column"] == sent
    assert body["detail"][1]["message"] == (
        f"row 0: unknown column '{sent}' (the same letters as 'größe' in other Unicode code "
        "points (6 code points for 5: a combining accent?): send the name in NFC form; "
        "columns: größe, z)"
    )
    _, plain = validation_answer([{**errors[1], "loc": ("body", "rows", 0, "wings")}], ["z"])
    assert plain["error"] == "row 0: unknown column 'wings' (columns: z)"


@pytest.mark.parametrize("number", ["Infinity", "-Infinity", "1e400"])
def test_an_infinite_number_gets_422_naming_the_column_and_nan_is_missing(
    client, trained, rows, number
):
    # prepare refuses inf in training data; a pipeline with an imputer raised on it (a 500)
    row = json.dumps({**rows[0], "bill_length_mm": 0.0}).replace("0.0", number, 1)
    answer = client.post(
        "/predict", content=f'{{"rows": [{row}]}}', headers={"Content-Type": "application/json"}
    )
    assert answer.status_code == 422, answer.text
    detail = answer.json()["detail"][0]
    assert (detail["row"], detail["column"]) == (0, "bill_length_mm")
    assert "expected a finite number or null (training refuses inf too), got " in detail["message"]
    nan = json.dumps({**rows[0], "bill_length_mm": 0.0}).replace("0.0", "NaN", 1)
    answer = client.post(
        "/predict", content=f'{{"rows": [{nan}]}}', headers={"Content-Type": "application/json"}
    )
    assert answer.status_code == 200, answer.text
    missing = {**rows[0], "bill_length_mm": None}
    assert answer.json()["predictions"] == model_answers(trained, [missing])


@pytest.mark.parametrize(
    "content_type", ["text/csv", "application/x-www-form-urlencoded", "multipart/form-data"]
)
def test_a_body_that_is_not_json_gets_415_naming_the_content_type(client, rows, content_type):
    # a CSV upload, or curl -d without -H: FastAPI does not parse it, which was a 422
    # "Input should be a valid dictionary" that said nothing about the type
    csv = ",".join(rows[0]) + "\n" + ",".join(map(str, rows[0].values())) + "\n"
    answer = client.post("/predict", content=csv, headers={"Content-Type": content_type})
    assert answer.status_code == 415
    assert answer.json()["error"].startswith(
        f"the body was sent as {content_type}, not JSON: send Content-Type: application/json"
    )
    assert "and {\"rows\": [{column: value, ...}]}; to score a CSV or Parquet file, make score " \
        "IN=file OUT=predictions.csv" in answer.json()["error"]
    v2 = client.post("/v2/models/nbml/infer", content=csv, headers={"Content-Type": content_type})
    assert v2.status_code == 415 and 'and {"inputs": [...]}' in v2.json()["error"]
    sent = client.post(
        "/predict",
        content=json.dumps({"rows": [rows[0]]}),
        headers={"Content-Type": "application/json; charset=utf-8"},
    )
    assert sent.status_code == 200, sent.text


def test_too_many_rows_and_too_large_bodies_get_413(client, rows):
    many = client.post("/predict", json={"rows": [rows[0]] * 101})  # the client's limit is 100
    assert many.status_code == 413 and "more than 100 rows" in many.json()["error"]
    large = client.post("/predict", json={"rows": [rows[0]], "pad": "x" * 70_000})
    assert large.status_code == 413 and "bytes" in large.json()["error"]
    assert client.post("/predict", json={"rows": rows[:2]}).status_code == 200


def test_health_ready_and_metadata_name_the_run(client, trained):
    assert client.get("/health").json() == {"status": "ok"}
    assert client.get("/ready").json() == {"status": "ready"}
    meta = client.get("/metadata").json()
    lock = yaml.safe_load((trained / "dvc.lock").read_text())
    assert meta["model"]["md5"] == lock["stages"]["train"]["outs"][0]["md5"]
    assert meta["params"]["train"]["estimator"] == "auto"
    assert meta["estimator"] == "HistGradientBoostingClassifier"
    assert meta["metrics"] == {"accuracy": 0.99}
    assert meta["task"] == "classification" and meta["classes"] == ["Adelie", "Chinstrap", "Gentoo"]
    assert "revision" in meta["git"] and meta["fast_path"] is True and meta["tree_walk"] is True
    names = [f["name"] for f in meta["features"]]
    assert names[:2] == ["island", "bill_length_mm"] and "species" not in names


def test_openapi_documents_the_real_columns(client):
    schema = client.get("/openapi.json").json()
    row = schema["components"]["schemas"]["Row"]
    assert "species" not in row["properties"]
    assert row["properties"]["island"]["examples"] == ["Biscoe", "Dream", "Torgersen"]
    assert row["additionalProperties"] is False and "sex" in row["required"]
    assert {"413", "422"} <= set(schema["paths"]["/predict"]["post"]["responses"])


def test_docs_and_redoc_load_nothing_from_the_network(client):
    for page in ("/docs", "/redoc"):
        html = client.get(page).text
        assert "cdn." not in html and "https://" not in html.replace("https://fonts", "")
        for asset in ("swagger-ui-bundle.js", "swagger-ui.css", "redoc.standalone.js"):
            if asset in html:
                assert client.get(f"/static-offline-docs/{asset}").status_code == 200
    assert "redoc.standalone.js" in client.get("/redoc").text
    # ReDoc's bundle would fetch a logo from a CDN: the pages allow only 'self'
    for page in ("/", "/docs", "/redoc"):
        policy = client.get(page).headers["content-security-policy"]
        assert "default-src 'self'" in policy and "img-src 'self' data:" in policy
