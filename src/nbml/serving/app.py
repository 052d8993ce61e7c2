"""The HTTP service: thin routes over the loaded model (``create_app`` builds it).

The request and response bodies are pydantic models generated from the
training split, so ``/docs`` (offline copies of Swagger UI and ReDoc) shows
the real columns. The model is loaded once, in the lifespan handler.
"""

# No `from __future__ import annotations` here: FastAPI reads the generated
# request model from the endpoint's annotation at run time.

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi_offline import FastAPIOffline

from nbml.project import find_root
from nbml.serving import card, page, v2
from nbml.serving.answers import (
    not_json_answer,
    prediction_body,
    unseen_warnings,
    validation_answer,
)
from nbml.serving.limits import BodyLimit, OfflinePages
from nbml.serving.schema import PredictResponse
from nbml.serving.service import Service
from nbml.serving.settings import Settings

JSON = "application/json"
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"description": "Malformed JSON"},
    413: {"description": "Body over the size limit, or more rows than the row limit"},
    422: {"description": "A missing or unknown column, or a value of the wrong type"},
    503: {"description": "The model is not loaded yet"},
}


def not_ready() -> JSONResponse:
    return JSONResponse({"error": "the model is not loaded yet"}, status_code=503)


def predict_router(service: Service) -> APIRouter:
    """``POST /predict`` with the request model generated for this model's columns."""
    router = APIRouter()
    request_model = service.request_model

    @router.post(
        "/predict",
        response_model=PredictResponse,
        responses=ERROR_RESPONSES,
        summary="Predict the class of each row",
    )
    async def predict(body: request_model) -> Response:  # type: ignore[valid-type]
        if not service.ready:
            return not_ready()
        rows = [tuple(row.__dict__.values()) for row in body.rows]  # type: ignore[attr-defined]
        labels, proba = await service.batcher.submit(rows)  # type: ignore[union-attr]
        notes = unseen_warnings(rows, service.category_checks)
        content = prediction_body(labels, proba, service.predictor.classes, notes)  # type: ignore[union-attr]
        return Response(content, media_type=JSON)

    return router


def status_router(service: Service) -> APIRouter:
    """Liveness, readiness and where the model came from."""
    router = APIRouter()

    @router.get("/health", summary="The process is up")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/ready", summary="The model is loaded", responses={503: ERROR_RESPONSES[503]})
    async def ready() -> Response:
        return JSONResponse({"status": "ready"}) if service.ready else not_ready()

    @router.get("/metadata", summary="Model md5 (as in dvc.lock), git revision, params, metrics")
    async def metadata() -> dict[str, Any]:
        return service.metadata()

    return router


def create_app(settings: Settings | None = None) -> FastAPI:
    """The service for the project's recorded model (settings from the environment)."""
    settings = settings or Settings.from_env(find_root())
    service = Service.prepare(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        service.load()
        batcher = service.start_batcher()
        yield
        await batcher.stop()

    app = FastAPIOffline(
        title="nbml model service",
        description="The model `dvc repro` trained, with the run it came from (`/metadata`).",
        lifespan=lifespan,
    )
    app.state.service = service
    columns = [s.name for s in service.specs]

    async def refused(request: Request, exc: RequestValidationError) -> JSONResponse:
        kind = request.headers.get("content-type", "")
        status, body = not_json_answer(request.method, kind, request.url.path)
        if not status:
            status, body = validation_answer(list(exc.errors()), columns)
        return JSONResponse(body, status_code=status)

    app.add_exception_handler(RequestValidationError, refused)  # type: ignore[arg-type]
    app.include_router(status_router(service))
    app.include_router(predict_router(service))
    app.include_router(v2.router(service))
    app.include_router(page.router(service))
    app.include_router(card.router(service))
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(OfflinePages)
    return app


