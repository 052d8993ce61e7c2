"""The Open Inference Protocol (KServe v2) routes give the same answers as the model."""

from __future__ import annotations

from served import model_answers, sample_rows


def columnar(rows, kinds):
    return [
        {"name": c, "shape": [len(rows)], "datatype": kinds[c], "data": [r[c] for r in rows]}
        for c in rows[0]
    ]


def kinds_of(client):
    return {i["name"]: i["datatype"] for i in client.get("/v2/models/nbml").json()["inputs"]}


def test_health_and_model_metadata(client):
    assert client.get("/v2/health/live").json() == {"live": True}
    assert client.get("/v2/health/ready").json() == {"ready": True}
    meta = client.get("/v2/models/nbml").json()
    assert meta["name"] == "nbml" and meta["platform"] == "scikit-learn"
    assert {"name": "island", "datatype": "BYTES", "shape": [-1]} in meta["inputs"]
    assert {"name": "body_mass_g", "datatype": "FP64", "shape": [-1]} in meta["inputs"]
    assert [o["name"] for o in meta["outputs"]] == ["label", "probabilities"]
    assert client.get("/v2/models/other").status_code == 404


def test_infer_with_columnar_inputs_equals_the_model(client, trained):
    rows = sample_rows(trained, 12) + [{**sample_rows(trained, 1)[0], "sex": None}]
    body = {"id": "r1", "inputs": columnar(rows, kinds_of(client))}
    answer = client.post("/v2/models/nbml/infer", json=body)
    assert answer.status_code == 200, answer.text
    out = {o["name"]: o for o in answer.json()["outputs"]}
    expected = model_answers(trained, rows)
    assert answer.json()["id"] == "r1"
    assert out["label"]["data"] == [e["label"] for e in expected]
    assert out["probabilities"]["shape"] == [len(rows), 3]
    flat = [p for e in expected for p in e["probabilities"].values()]
    assert out["probabilities"]["data"] == flat


def test_infer_names_a_category_training_never_saw_in_its_parameters(client, trained):
    rows = sample_rows(trained, 3)
    body = {"inputs": columnar(rows, kinds_of(client))}
    assert "parameters" not in client.post("/v2/models/nbml/infer", json=body).json()
    rows[2] = {**rows[2], "island": "Atlantis"}
    answer = client.post("/v2/models/nbml/infer", json={"inputs": columnar(rows, kinds_of(client))})
    assert answer.status_code == 200, answer.text
    (warning,) = answer.json()["parameters"]["warnings"]
    assert warning.startswith("island: text 'Atlantis' (row 2) never seen in training")
    labels = {o["name"]: o for o in answer.json()["outputs"]}["label"]["data"]
    assert labels == [e["label"] for e in model_answers(trained, rows)]


def test_infer_errors_name_the_input(client, trained):
    rows = sample_rows(trained, 3)
    inputs = columnar(rows, kinds_of(client))
    wrong = [dict(i, data=["x", 1, 2]) if i["name"] == "bill_depth_mm" else i for i in inputs]
    answer = client.post("/v2/models/nbml/infer", json={"inputs": wrong})
    assert answer.status_code == 400
    assert "row 0, column 'bill_depth_mm'" in answer.json()["error"]
    missing = [i for i in inputs if i["name"] != "sex"]
    answer = client.post("/v2/models/nbml/infer", json={"inputs": missing})
    assert answer.status_code == 400 and "missing column 'sex'" in answer.json()["error"]
    short = [dict(i, shape=[2]) if i["name"] == "year" else i for i in inputs]
    answer = client.post("/v2/models/nbml/infer", json={"inputs": short})
    assert answer.status_code == 400 and "input 'year'" in answer.json()["error"]


def test_infer_refuses_a_datatype_that_does_not_match_the_column(client, trained):
    rows = sample_rows(trained, 3)
    inputs = columnar(rows, kinds_of(client))
    as_text = [dict(i, datatype="BYTES") if i["name"] == "bill_depth_mm" else i for i in inputs]
    answer = client.post("/v2/models/nbml/infer", json={"inputs": as_text})
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert "input 'bill_depth_mm'" in error and "BYTES" in error and "FP64" in error
    unknown = [dict(i, datatype="FLOAT") if i["name"] == "island" else i for i in inputs]
    answer = client.post("/v2/models/nbml/infer", json={"inputs": unknown})
    assert answer.status_code == 400
    assert "input 'island'" in answer.json()["error"] and "FLOAT" in answer.json()["error"]
    # Any integer or float width is a number: a client sending INT64 years is answered.
    as_int = [dict(i, datatype="INT64") if i["name"] == "year" else i for i in inputs]
    answer = client.post("/v2/models/nbml/infer", json={"inputs": as_int})
    assert answer.status_code == 200, answer.text
