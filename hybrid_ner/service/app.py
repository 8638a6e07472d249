"""The FastAPI application: routers for data, admin and operations, behind the shared middleware."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException

from hybrid_ner.config import Settings, get_settings
from hybrid_ner.pipeline import Pipeline
from hybrid_ner.schemas import SchemaError
from hybrid_ner.service import routes_admin, routes_data, routes_learn, routes_ops, routes_rollout
from hybrid_ner.service.middleware import BodyLimit, observe
from hybrid_ner.service.state import Service
from hybrid_ner.stages import PolicyUnavailableError

log = logging.getLogger("hybrid_ner.service")


def create_app(settings: Settings | None = None, pipeline: Pipeline | None = None) -> FastAPI:
    """Build the app. Tests pass their own settings and pipeline; ``hybrid-ner serve`` passes none."""
    svc = Service(settings or get_settings(), pipeline)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        svc.load_model()
        svc.warm_linker()
        svc.rollout.start()
        try:
            svc.components.schemas.get(svc.settings.schema_name)
        except (SchemaError, SQLAlchemyError) as exc:
            log.error("schema_store_unavailable", extra={"fields": {"error": type(exc).__name__}})
        yield
        await svc.close()

    app = FastAPI(
        title="hybrid-ner",
        version="0.1.0",
        summary="Entity extraction with a local transformer, LLM escalation for what it is unsure of, linking to a "
        "knowledge base, and schemas you can edit without retraining.",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.service = svc
    app.openapi = lambda: _openapi(app, svc.settings)  # type: ignore[method-assign]
    app.add_middleware(BodyLimit, limit=svc.settings.max_body_bytes)
    observe(app, svc.metrics)
    _error_handlers(app)
    for module in (routes_data, routes_admin, routes_learn, routes_rollout, routes_ops):
        app.include_router(module.router)
    routes_ops.mount_docs(app)
    return app


def _openapi(app: FastAPI, settings: Settings) -> dict[str, Any]:
    """The generated schema, with this deployment's configured limits written into it."""
    if app.openapi_schema is None:
        from fastapi.openapi.utils import get_openapi

        spec = get_openapi(title=app.title, version=app.version, summary=app.summary, routes=app.routes)
        props = spec["components"]["schemas"]["ExtractRequest"]["properties"]
        _limit(props["text"], maxLength=settings.max_chars)
        _limit(props["texts"], maxItems=settings.max_texts)
        app.openapi_schema = spec
    return app.openapi_schema


def _limit(prop: dict[str, Any], **limits: int) -> None:
    """Put limits on the non-null branch of an optional property."""
    for branch in prop.get("anyOf", [prop]):
        if branch.get("type") != "null":
            branch.update(limits)


def _allowed(request: Request) -> list[str]:
    from starlette.routing import Match

    def routes(items: list[Any]) -> Iterator[Any]:
        for route in items:
            inner = getattr(route, "original_router", None)  # an included router (our routers have no prefix)
            yield from routes(inner.routes) if inner is not None else [route]

    matching = [r for r in routes(request.app.router.routes) if getattr(r, "methods", None)]
    matching = [r for r in matching if r.matches(request.scope)[0] != Match.NONE]
    # The routes of the path the router chose (the first that matches it): "/feedback/export" is not also
    # "/feedback/{feedback_id}", though the latter's pattern would take it.
    template = matching[0].path if matching else None
    methods = {m for r in matching if r.path == template for m in r.methods}
    return sorted(methods)


def _error_handlers(app: FastAPI) -> None:
    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail
        if exc.status_code == 400 and detail == "There was an error parsing the body":
            detail = "the request body is not valid JSON in UTF-8"
        headers = getattr(exc, "headers", None)
        if exc.status_code == 405:  # every method of the path, not just those of the first route that matched it
            headers = {**(headers or {}), "Allow": ", ".join(_allowed(request))}
        return JSONResponse({"detail": detail}, status_code=exc.status_code, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        # Pydantic echoes inputs in its errors; drop them so no request text is returned or logged.
        details = [{k: v for k, v in e.items() if k not in {"input", "ctx", "url"}} for e in exc.errors()]
        return JSONResponse({"detail": details}, status_code=422)

    @app.exception_handler(PolicyUnavailableError)
    async def policy_down(request: Request, exc: PolicyUnavailableError) -> JSONResponse:
        log.error("override_list_unavailable")
        return JSONResponse({"detail": str(exc)}, status_code=503)
