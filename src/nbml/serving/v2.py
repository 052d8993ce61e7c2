"""The Open Inference Protocol (KServe v2) beside the plain routes.

``POST /v2/models/{name}/infer`` takes one input tensor per column
(``{"name": column, "datatype": "FP64" | "BYTES" | "BOOL", "shape": [n], "data": [...]}``)
and answers two outputs: ``label`` (``[n]``) and ``probabilities`` (``[n, classes]``,
row-major), from the same model and checks as ``/predict``. An input's datatype must
fit its column (any INT/UINT/FP width for a number, BOOL, BYTES for text). Errors are
``{"error": ...}``, as KServe and MLServer answer them.
"""

# No `from __future__ import annotations`: FastAPI reads the body models at run time.

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError

from nbml.serving.answers import describe_error, unseen_warnings
from nbml.serving.predictor import CLASSIFICATION, REGRESSION
from nbml.serving.schema import BOOLEAN, NUMBER
from nbml.serving.service import Service

DATATYPES = {NUMBER: "FP64", BOOLEAN: "BOOL"}
TEXT_DATATYPE = "BYTES"
# The protocol's tensor datatypes a column of each kind may arrive as: any integer or
# float width carries numbers (JSON has one number type), BOOL booleans, BYTES text.
NUMBER_DATATYPES = frozenset(
    [f"INT{b}" for b in (8, 16, 32, 64)] + [f"UINT{b}" for b in (8, 16, 32, 64)]
    + ["FP16", "FP32", "FP64"]
)
ACCEPTED = {NUMBER: NUMBER_DATATYPES, BOOLEAN: frozenset({"BOOL"})}
PROTOCOL_DATATYPES = NUMBER_DATATYPES | {"BOOL", TEXT_DATATYPE}


def datatype_of(kind: str) -> str:
    """The datatype the metadata lists for a column of this kind: text for any other kind."""
    return DATATYPES.get(kind, TEXT_DATATYPE)


class InferInput(BaseModel):
    name: str
    shape: list[int]
    datatype: str
    data: list[Any]


class InferRequest(BaseModel):
    id: str | None = None
    inputs: list[InferInput]


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def model_metadata(service: Service) -> dict[str, Any]:
    predictor = service.predictor
    classes = predictor.classes if predictor else []
    task = predictor.task if predictor else CLASSIFICATION
    outputs = (
        [{"name": "value", "datatype": "FP64", "shape": [-1]}]
        if task == REGRESSION
        else [
            {"name": "label", "datatype": TEXT_DATATYPE, "shape": [-1]},
            {"name": "probabilities", "datatype": "FP64", "shape": [-1, len(classes)]},
        ]
    )
    return {
        "name": service.settings.model_name,
        "versions": [service.md5],
        "platform": "scikit-learn",
        "inputs": [
            {"name": s.name, "datatype": datatype_of(s.kind), "shape": [-1]}
            for s in service.specs
        ],
        "outputs": outputs,
        "parameters": {"classes": [str(c) for c in classes], "task": task},
    }


def columns_to_rows(service: Service, inputs: list[InferInput]) -> list[dict[str, Any]] | str:
    """Columnar inputs as request rows, or a message saying what is wrong with them."""
    given = {i.name: i for i in inputs}
    known = {s.name for s in service.specs}
    unknown = sorted(set(given) - known)
    if unknown:
        return f"unknown input(s) {', '.join(unknown)} (inputs: {', '.join(sorted(known))})"
    lengths = {len(i.data) for i in inputs}
    if len(lengths) > 1:
        return "inputs have different lengths: " + ", ".join(
            f"{i.name}={len(i.data)}" for i in inputs
        )
    for i in inputs:
        if i.shape not in ([len(i.data)], [len(i.data), 1]):
            return f"input '{i.name}': shape {i.shape} does not match {len(i.data)} values"
    kinds = {s.name: s.kind for s in service.specs}
    for i in inputs:
        problem = datatype_problem(i, kinds[i.name])
        if problem:
            return problem
    n = lengths.pop() if lengths else 0
    return [{name: given[name].data[r] for name in given} for r in range(n)]


def datatype_problem(given: InferInput, kind: str) -> str | None:
    """Why an input's declared datatype does not fit its column, or None when it does.

    The values are still checked by the request model; this catches a client whose
    declared tensor type disagrees with the model's metadata, e.g. a numeric column
    sent as BYTES, which would otherwise be answered as if nothing were wrong."""
    datatype = given.datatype.upper()
    expected = datatype_of(kind)
    if datatype not in PROTOCOL_DATATYPES:
        return (f"input '{given.name}': datatype '{given.datatype}' is not one of the "
                f"protocol's ({', '.join(sorted(PROTOCOL_DATATYPES))}); this column is {expected}")
    if datatype not in ACCEPTED.get(kind, {expected}):
        return (f"input '{given.name}': datatype {datatype}, but the column is {kind}: "
                f"send {expected} (the model's metadata lists each input's datatype)")
    return None


def infer_outputs(labels: list[Any], proba: Any) -> list[dict[str, Any]]:
    """``label`` and ``probabilities``; a regressor (no classes) answers one ``value`` output."""
    n, k = proba.shape
    if k == 0:
        return [{"name": "value", "datatype": "FP64", "shape": [n], "data": labels}]
    return [
        {"name": "label", "datatype": TEXT_DATATYPE, "shape": [n], "data": labels},
        {"name": "probabilities", "datatype": "FP64", "shape": [n, k],
         "data": proba.ravel().tolist()},
    ]


def router(service: Service) -> APIRouter:
    """The v2 health, model metadata and infer routes."""
    api = APIRouter(prefix="/v2", tags=["Open Inference Protocol (v2)"])
    name = service.settings.model_name

    @api.get("/health/live")
    async def live() -> dict[str, bool]:
        return {"live": True}

    @api.get("/health/ready")
    async def ready() -> JSONResponse:
        return JSONResponse({"ready": service.ready}, status_code=200 if service.ready else 503)

    @api.get("/models/{model_name}")
    async def metadata(model_name: str) -> JSONResponse:
        if model_name != name:
            return _error(404, f"no model '{model_name}' (this service has '{name}')")
        return JSONResponse(model_metadata(service))

    @api.get("/models/{model_name}/ready")
    async def model_ready(model_name: str) -> JSONResponse:
        if model_name != name:
            return _error(404, f"no model '{model_name}' (this service has '{name}')")
        return JSONResponse({"name": name, "ready": service.ready})

    @api.post("/models/{model_name}/infer")
    async def infer(model_name: str, body: InferRequest) -> JSONResponse:
        if model_name != name:
            return _error(404, f"no model '{model_name}' (this service has '{name}')")
        if not service.ready:
            return _error(503, "the model is not loaded yet")
        rows = columns_to_rows(service, body.inputs)
        if isinstance(rows, str):
            return _error(400, rows)
        if len(rows) > service.settings.max_rows:
            return _error(413, f"more than {service.settings.max_rows} rows (NBML_MAX_ROWS)")
        try:
            request = service.request_model.model_validate({"rows": rows})
        except ValidationError as exc:
            columns = [s.name for s in service.specs]
            errors = [{**e, "loc": ("body", *e["loc"])} for e in exc.errors()]
            return _error(400, "; ".join(describe_error(e, columns)["message"] for e in errors))
        plain = [tuple(r.__dict__.values()) for r in request.rows]  # type: ignore[attr-defined]
        labels, proba = await service.batcher.submit(plain)  # type: ignore[union-attr]
        answer = {"model_name": name, "model_version": service.md5, "id": body.id,
                  "outputs": infer_outputs(labels, proba)}  # fmt: skip
        if notes := unseen_warnings(plain, service.category_checks):
            # the protocol's free-form parameters: the same sentences /predict gives
            answer["parameters"] = {"warnings": notes}
        return JSONResponse(answer)

    return api
