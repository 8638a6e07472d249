"""The FastAPI application: data endpoints, schema admin, health, metrics and the playground page."""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

from fastapi import Body, Depends, FastAPI, HTTPException, Query, Request, Response, status
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, PlainTextResponse
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import text as sql_text
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hybrid_ner.config import Settings, get_settings
from hybrid_ner.datamodel import Result
from hybrid_ner.errors import HybridNERError
from hybrid_ner.pipeline import Pipeline
from hybrid_ner.routing import STRATEGIES, routers
from hybrid_ner.schemas import NAME_PATTERN, Schema, SchemaConflictError, SchemaError, SchemaStore
from hybrid_ner.service.auth import HEADER, KeyRing, Role
from hybrid_ner.service.batching import MicroBatcher
from hybrid_ner.service.cache import ResultCache
from hybrid_ner.service.metrics import Metrics
from kb.store import EntityIn
from linking.overrides import Override, OverrideIn

log = logging.getLogger("hybrid_ner.service")
STATIC = Path(__file__).resolve().parent / "static"
EXAMPLE_TEXT = "Angela Merkel met Emmanuel Macron in Paris to discuss the European Union budget."


# ---------------------------------------------------------------- request and response models


class ExtractRequest(BaseModel):
    """One text (``text``) or a batch (``texts``), with an optional schema, version and strategy."""

    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
        json_schema_extra={
            "oneOf": [
                {"required": ["text"], "properties": {"text": {"type": "string"}}},
                {"required": ["texts"], "properties": {"texts": {"type": "array"}}},
            ],
            "examples": [
                {"text": EXAMPLE_TEXT},
                {"texts": [EXAMPLE_TEXT, "Tim Cook runs Apple."], "strategy": "local"},
                {"text": "Sony released the PlayStation 5.", "schema": "shop", "strategy": "schema"},
            ],
        },
    )

    text: str | None = Field(default=None, description="A single text.")
    texts: list[str] | None = Field(default=None, description="A batch of texts; errors are reported per item.")
    schema_name: str | None = Field(default=None, alias="schema", description="Stored schema name (default schema).")
    schema_version: int | None = Field(default=None, ge=1, description="Schema version (default: latest).")
    strategy: str | None = Field(
        default=None,
        description=f"Router strategy: {', '.join(STRATEGIES)} (or a registered router.*.v1 name).",
        json_schema_extra={"enum": [*STRATEGIES, *routers.names()]},
    )

    @model_validator(mode="after")
    def _one_input(self) -> ExtractRequest:
        if (self.text is None) == (self.texts is None):
            raise ValueError("give exactly one of 'text' or 'texts'")
        return self


class EntityOut(BaseModel):
    start: int
    end: int
    text: str
    label: str
    score: float
    source: str
    decision: dict[str, Any]
    link: dict[str, Any] | None = None


class ExtractResponse(BaseModel):
    entities: list[EntityOut]
    degraded: bool
    degraded_reason: str | None = None
    llm: dict[str, Any] | None = None


class ItemError(BaseModel):
    code: str
    message: str


class ErrorItem(BaseModel):
    error: ItemError


class BatchResponse(BaseModel):
    results: list[ExtractResponse | ErrorItem]


class ErrorResponse(BaseModel):
    detail: str


class SchemaWrite(BaseModel):
    """A schema body plus the version the edit started from (``null`` to create)."""

    model_config = ConfigDict(extra="forbid")

    schema_body: Schema = Field(alias="schema")
    base_version: int | None = Field(default=None, ge=1)


class DryRunRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    schema_body: Schema = Field(alias="schema")
    text: str = Field(max_length=10_000)
    strategy: str | None = None


class SpanIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    start: int = Field(ge=0)
    end: int = Field(gt=0)
    label: str | None = Field(default=None, max_length=64)


class LinkItem(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str
    spans: list[SpanIn] = Field(max_length=500)


class LinkRequest(BaseModel):
    """One text with its spans, or a batch of them in ``items``."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "oneOf": [
                {"required": ["text"], "properties": {"text": {"type": "string"}}},
                {"required": ["items"], "properties": {"items": {"type": "array"}}},
            ],
            "examples": [{"text": "Paris is in France.", "spans": [{"start": 0, "end": 5, "label": "LOC"}]}],
        },
    )

    text: str | None = None
    spans: list[SpanIn] = Field(default_factory=list, max_length=500)
    items: list[LinkItem] | None = None

    @model_validator(mode="after")
    def _one_input(self) -> LinkRequest:
        if (self.text is None) == (self.items is None):
            raise ValueError("give exactly one of 'text' (with 'spans') or 'items'")
        return self


class LinkOut(BaseModel):
    start: int
    end: int
    kb_id: str | None
    score: float
    nil: bool
    candidates: list[dict[str, Any]]


class LinkResponse(BaseModel):
    links: list[LinkOut]


class LinkBatchResponse(BaseModel):
    results: list[LinkResponse | ErrorItem]


class ImportJob(BaseModel):
    id: str
    status: str
    loaded: int = 0
    skipped: int = 0
    errors: list[str] = Field(default_factory=list)


class SchemaSummary(BaseModel):
    name: str
    version: int
    labels: list[str]


SchemaName = Annotated[str, PathParam(min_length=1, max_length=128, pattern=NAME_PATTERN)]
RuleId = Annotated[int, PathParam(ge=1, le=2**31 - 1)]  # SQL integer range: larger ids cannot exist

ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorResponse, "description": "Missing or unknown API key"},
    403: {"model": ErrorResponse, "description": "The key may not use this endpoint"},
    413: {"model": ErrorResponse, "description": "Request body too large"},
    415: {"model": ErrorResponse, "description": "Content type is not application/json"},
}


# ---------------------------------------------------------------- middleware


class BodyLimit:
    """Reject bodies over ``limit`` bytes with 413, by Content-Length or while streaming."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        too_big = JSONResponse({"detail": f"request body is larger than {self.limit} bytes"}, status_code=413)
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await too_big(scope, receive, send)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise _BodyTooLarge
            return message

        try:
            await self.app(scope, counted, send)
        except _BodyTooLarge:
            await too_big(scope, receive, send)


class _BodyTooLarge(Exception):
    pass


class JsonLogFormatter(logging.Formatter):
    """One JSON object per line. Only fields put there on purpose: never request text."""

    def format(self, record: logging.LogRecord) -> str:
        out = {"ts": round(record.created, 3), "level": record.levelname, "logger": record.name, "event": record.msg}
        out.update(getattr(record, "fields", {}))
        return json.dumps(out, default=str)


def configure_logging() -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(JsonLogFormatter())
    root = logging.getLogger("hybrid_ner")
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    root.propagate = False


# ---------------------------------------------------------------- the app


class Service:
    """Everything the routes share: settings, pipeline, keys, caches, metrics."""

    def __init__(self, settings: Settings, pipeline: Pipeline | None) -> None:
        self.settings = settings
        self.pipeline = pipeline or Pipeline(settings=settings)
        self.keys = KeyRing(settings)
        self.cache = ResultCache(settings.cache_size, settings.cache_ttl_s)
        self.metrics = Metrics()
        self.batcher: MicroBatcher | None = None
        self.model_error: str | None = None
        self.jobs: dict[str, ImportJob] = {}

    def load_model(self) -> None:
        """Load the local model behind the micro-batcher; a failure leaves the service up but not ready."""
        try:
            extractor = self.pipeline.extractor
        except (HybridNERError, ImportError, OSError) as exc:
            self.model_error = f"{type(exc).__name__}: {exc}"
            log.error("model_load_failed", extra={"fields": {"error": type(exc).__name__}})
            return
        extractor.extract(["Warm-up sentence for Berlin."])  # first-call allocations happen now, not in a request
        self.batcher = MicroBatcher(
            extractor, self.settings.batch_window_ms, self.settings.max_batch, on_batch=self.metrics.batch_size.observe
        )
        self.pipeline.extractor = self.batcher

    @property
    def store(self) -> SchemaStore:
        return self.pipeline.store

    @property
    def model_version(self) -> str:
        return self.batcher.version if self.batcher else "unloaded"


def create_app(settings: Settings | None = None, pipeline: Pipeline | None = None) -> FastAPI:
    """Build the app. Tests pass their own settings and pipeline; ``hybrid-ner serve`` passes none."""
    svc = Service(settings or get_settings(), pipeline)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        svc.load_model()
        try:
            svc.store.get(svc.settings.schema_name)
        except (SchemaError, SQLAlchemyError) as exc:
            log.error("schema_store_unavailable", extra={"fields": {"error": type(exc).__name__}})
        yield
        if svc.batcher is not None:
            await svc.batcher.close()

    app = FastAPI(
        title="hybrid-ner",
        version="0.1.0",
        summary="Entity extraction with a local transformer, LLM escalation for what it is unsure of, and schemas "
        "you can edit without retraining.",
        lifespan=lifespan,
    )
    app.state.service = svc

    def openapi() -> dict[str, Any]:
        """The generated schema, with this deployment's configured limits written into it."""
        if app.openapi_schema is None:
            from fastapi.openapi.utils import get_openapi

            spec = get_openapi(title=app.title, version=app.version, summary=app.summary, routes=app.routes)
            props = spec["components"]["schemas"]["ExtractRequest"]["properties"]
            _limit(props["text"], maxLength=svc.settings.max_chars)
            _limit(props["texts"], maxItems=svc.settings.max_texts)
            app.openapi_schema = spec
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    app.add_middleware(BodyLimit, limit=svc.settings.max_body_bytes)

    @app.middleware("http")
    async def observe(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        started = time.perf_counter()
        request_id = request.headers.get("X-Request-ID") or uuid.uuid4().hex[:16]
        try:
            response = await call_next(request)
        except Exception as exc:  # never a stack trace to the client
            log.error("unhandled_error", extra={"fields": {"error": type(exc).__name__, "request_id": request_id}})
            response = JSONResponse({"detail": "internal error"}, status_code=500)
        route = request.scope.get("route")
        endpoint = getattr(route, "path", "unmatched")
        elapsed = time.perf_counter() - started
        svc.metrics.requests.labels(endpoint, str(response.status_code)).inc()
        svc.metrics.latency.labels(endpoint).observe(elapsed)
        response.headers["X-Request-ID"] = request_id
        fields = {
            "request_id": request_id,
            "method": request.method,
            "endpoint": endpoint,
            "status": response.status_code,
            "ms": round(elapsed * 1000, 2),
        }
        log.info("request", extra={"fields": fields})
        return response

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail
        if exc.status_code == 400 and detail == "There was an error parsing the body":
            detail = "the request body is not valid JSON in UTF-8"
        return JSONResponse({"detail": detail}, status_code=exc.status_code, headers=getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        # Pydantic echoes inputs in its errors; drop them so no request text is returned or logged.
        details = [{k: v for k, v in e.items() if k not in {"input", "ctx", "url"}} for e in exc.errors()]
        return JSONResponse({"detail": details}, status_code=422)

    def require_json(request: Request) -> None:
        if request.headers.get("content-type", "").split(";")[0].strip().lower() != "application/json":
            raise HTTPException(status.HTTP_415_UNSUPPORTED_MEDIA_TYPE, "use Content-Type: application/json")

    def reader(request: Request) -> None:
        svc.keys.check(request, Role.READ)

    def admin(request: Request) -> None:
        svc.keys.check(request, Role.ADMIN)

    Json = Depends(require_json)
    Read = Depends(reader)
    Admin = Depends(admin)

    async def run_extract(body: ExtractRequest, link: bool | None = None) -> ExtractResponse | BatchResponse:
        try:
            schema = svc.pipeline.resolve_schema(body.schema_name, body.schema_version)
        except SchemaError as exc:
            raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None
        strategy = body.strategy or svc.settings.strategy
        if strategy not in STRATEGIES and not strategy.startswith("router."):
            raise _unprocessable(("body", "strategy"), f"unknown strategy {strategy!r}; valid: {', '.join(STRATEGIES)}")
        texts = [body.text] if body.text is not None else list(body.texts or [])
        if len(texts) > svc.settings.max_texts:
            raise _unprocessable(
                ("body", "texts"), f"at most {svc.settings.max_texts} texts per request, got {len(texts)}"
            )
        if body.text is not None and len(body.text) > svc.settings.max_chars:
            raise HTTPException(413, f"text is longer than {svc.settings.max_chars} characters")
        outputs: list[ExtractResponse | ErrorItem | None] = [None] * len(texts)
        todo: list[int] = []
        keys: dict[int, str] = {}
        for i, t in enumerate(texts):
            if len(t) > svc.settings.max_chars:
                message = f"text is longer than {svc.settings.max_chars} characters"
                outputs[i] = ErrorItem(error=ItemError(code="text_too_long", message=message))
                continue
            keys[i] = ResultCache.key(
                t,
                schema.name,
                schema.content_hash(),
                strategy,
                svc.model_version,
                svc.settings.llm_model,
                svc.settings.granularity,
            )
            hit = svc.cache.get(keys[i]) if svc.settings.cache_size else None
            svc.metrics.cache.labels("hit" if hit is not None else "miss").inc()
            if hit is not None:
                outputs[i] = hit
            else:
                todo.append(i)
        if todo:
            try:
                results = await svc.pipeline.aextract(
                    [texts[i] for i in todo], schema=schema, strategy=strategy, link=link
                )
            except ValueError as exc:
                raise _unprocessable(("body",), str(exc)) from None
            for i, result in zip(todo, results, strict=True):
                svc.metrics.observe(result)
                out = _response(result)
                if not result.degraded:
                    svc.cache.put(keys[i], out)
                outputs[i] = out
        svc.metrics.info.labels(svc.model_version, schema.name, str(schema.version or 0)).set(1)
        if body.text is not None:
            single = outputs[0]
            assert isinstance(single, ExtractResponse)
            return single
        return BatchResponse(results=[o for o in outputs if o is not None])

    @app.post(
        "/v1/extract",
        response_model=ExtractResponse | BatchResponse,
        response_model_exclude_none=True,
        responses={**ERRORS, 404: {"model": ErrorResponse, "description": "Unknown schema"}},
        tags=["data"],
        dependencies=[Json, Read],
    )
    async def extract(body: ExtractRequest) -> ExtractResponse | BatchResponse:
        """Extract entities from one text or a batch, with the chosen schema and router strategy."""
        return await run_extract(body)

    @app.get("/v1/schemas", response_model=list[SchemaSummary], tags=["data"], dependencies=[Read], responses=ERRORS)
    def list_schemas() -> list[SchemaSummary]:
        """Stored schemas (latest versions) plus the built-in default."""
        names = sorted(set(svc.store.names()) | {svc.settings.schema_name})
        out = []
        for name in names:
            s = svc.store.get(name)
            out.append(SchemaSummary(name=name, version=s.version or 1, labels=s.labels))
        return out

    @app.post(
        "/v1/annotate",
        response_model=ExtractResponse | BatchResponse,
        response_model_exclude_none=True,
        responses={**ERRORS, 404: {"model": ErrorResponse, "description": "Unknown schema"}},
        tags=["data"],
        dependencies=[Json, Read],
    )
    async def annotate(body: ExtractRequest) -> ExtractResponse | BatchResponse:
        """Extract and link in one call: every entity gets ``link`` (``kb_id`` null for NIL)."""
        return await run_extract(body, link=True)

    @app.post(
        "/v1/link",
        response_model=LinkResponse | LinkBatchResponse,
        tags=["data"],
        dependencies=[Json, Read],
        responses=ERRORS,
    )
    async def link(body: LinkRequest) -> LinkResponse | LinkBatchResponse:
        """Link given spans to KB ids, with top candidates and scores; NIL when nothing fits."""
        items = [LinkItem(text=body.text, spans=body.spans)] if body.text is not None else list(body.items or [])
        if len(items) > svc.settings.max_texts:
            raise _unprocessable(("body", "items"), f"at most {svc.settings.max_texts} items per request")
        outputs: list[LinkResponse | ErrorItem | None] = [None] * len(items)
        good = []
        for i, item in enumerate(items):
            bad = [sp for sp in item.spans if not sp.start < sp.end <= len(item.text)]
            if len(item.text) > svc.settings.max_chars or bad:
                reason = "span outside the text" if bad else f"text is longer than {svc.settings.max_chars} characters"
                outputs[i] = ErrorItem(error=ItemError(code="invalid_item", message=reason))
            else:
                good.append(i)
        linked = await svc.pipeline.alink(
            [(items[i].text, [(sp.start, sp.end, sp.label) for sp in items[i].spans]) for i in good]
        )
        for i, links in zip(good, linked, strict=True):
            outputs[i] = LinkResponse(
                links=[
                    LinkOut(
                        start=sp.start,
                        end=sp.end,
                        kb_id=lk.kb_id,
                        score=lk.score,
                        nil=lk.nil,
                        candidates=[c.model_dump() for c in lk.candidates],
                    )
                    for sp, lk in zip(items[i].spans, links, strict=True)
                ]
            )
        if body.text is not None:
            if isinstance(outputs[0], ErrorItem):
                raise _unprocessable(("body",), outputs[0].error.message)
            assert isinstance(outputs[0], LinkResponse)
            return outputs[0]
        return LinkBatchResponse(results=[o for o in outputs if o is not None])

    # ------------------------------------------------------------ admin: KB, overrides, audit

    @app.put("/v1/admin/kb/entities", tags=["admin"], dependencies=[Json, Admin], responses=ERRORS)
    def upsert_entities(entities: Annotated[list[EntityIn], Body(max_length=1000)], request: Request) -> dict[str, int]:
        """Create or replace entities (audited); they are linkable on the next request."""
        n = svc.pipeline.kb.upsert(entities, source="api", actor=_who(request))
        return {"upserted": n, "kb_version": svc.pipeline.kb.version()}

    @app.get(
        "/v1/admin/kb/entities/{entity_id}",
        tags=["admin"],
        dependencies=[Admin],
        responses={**ERRORS, 404: {"model": ErrorResponse}},
    )
    def get_entity(entity_id: str) -> dict[str, Any]:
        found = svc.pipeline.kb.get([entity_id])
        if entity_id not in found:
            raise HTTPException(404, f"no entity {entity_id!r}")
        return vars(found[entity_id])

    @app.delete(
        "/v1/admin/kb/entities/{entity_id}",
        status_code=204,
        tags=["admin"],
        dependencies=[Admin],
        responses={**ERRORS, 404: {"model": ErrorResponse}},
    )
    def delete_entity(entity_id: str, request: Request) -> Response:
        if not svc.pipeline.kb.delete_entity(entity_id, actor=_who(request)):
            raise HTTPException(404, f"no entity {entity_id!r}")
        return Response(status_code=204)

    @app.post(
        "/v1/admin/kb/import",
        response_model=ImportJob,
        status_code=202,
        tags=["admin"],
        dependencies=[Admin],
        responses=ERRORS,
        openapi_extra={
            "requestBody": {"content": {"application/x-ndjson": {"schema": {"type": "string"}}}, "required": True}
        },
    )
    async def import_jsonl(request: Request) -> ImportJob:
        """Bulk JSONL import (lines as for ``hybrid-ner kb load``) as a background job; poll its status."""
        import asyncio

        from kb.loaders import load_rows, read_jsonl_lines

        body = await request.body()
        job = ImportJob(id=uuid.uuid4().hex[:12], status="running")
        svc.jobs[job.id] = job

        def work() -> None:
            try:
                report = load_rows(svc.pipeline.kb, read_jsonl_lines(body.splitlines()), "import", "api")
                job.loaded, job.skipped, job.errors, job.status = report.loaded, report.skipped, report.errors, "done"
            except Exception as exc:  # the job reports it; the server keeps running
                job.status, job.errors = "failed", [type(exc).__name__]

        asyncio.get_running_loop().run_in_executor(None, work)
        return job

    @app.get(
        "/v1/admin/kb/jobs/{job_id}",
        response_model=ImportJob,
        tags=["admin"],
        dependencies=[Admin],
        responses={**ERRORS, 404: {"model": ErrorResponse}},
    )
    def import_status(job_id: str) -> ImportJob:
        if job_id not in svc.jobs:
            raise HTTPException(404, f"no job {job_id!r}")
        return svc.jobs[job_id]

    @app.get(
        "/v1/admin/overrides", response_model=list[Override], tags=["admin"], dependencies=[Admin], responses=ERRORS
    )
    def list_overrides() -> list[Override]:
        return svc.pipeline.kb.overrides()

    @app.post(
        "/v1/admin/overrides",
        response_model=Override,
        status_code=201,
        tags=["admin"],
        dependencies=[Json, Admin],
        responses={**ERRORS, 404: {"model": ErrorResponse}},
    )
    def create_override(rule: OverrideIn, request: Request) -> Override:
        """Add a policy rule; it applies from the next request. An unknown ``kb_id`` is rejected (404)."""
        try:
            saved: Override = svc.pipeline.kb.save_override(rule, actor=_who(request))
        except LookupError as exc:
            raise HTTPException(404, str(exc)) from None
        svc.cache.clear()
        return saved

    @app.put(
        "/v1/admin/overrides/{rule_id}",
        response_model=Override,
        tags=["admin"],
        dependencies=[Json, Admin],
        responses={**ERRORS, 404: {"model": ErrorResponse}},
    )
    def update_override(rule_id: RuleId, rule: OverrideIn, request: Request) -> Override:
        try:
            saved: Override = svc.pipeline.kb.save_override(rule, actor=_who(request), rule_id=rule_id)
        except (LookupError, KeyError) as exc:
            raise HTTPException(404, str(exc).strip("'\"")) from None
        svc.cache.clear()
        return saved

    @app.delete(
        "/v1/admin/overrides/{rule_id}",
        status_code=204,
        tags=["admin"],
        dependencies=[Admin],
        responses={**ERRORS, 404: {"model": ErrorResponse}},
    )
    def delete_override(rule_id: RuleId, request: Request) -> Response:
        if not svc.pipeline.kb.delete_override(rule_id, actor=_who(request)):
            raise HTTPException(404, f"no override {rule_id}")
        svc.cache.clear()
        return Response(status_code=204)

    @app.get("/v1/admin/audit", tags=["admin"], dependencies=[Admin], responses=ERRORS)
    def audit(limit: Annotated[int, Query(ge=1, le=1000)] = 100, kind: str | None = None) -> list[dict[str, Any]]:
        """The audit log, newest first: who changed what, when, before and after."""
        return svc.pipeline.kb.audit_log(limit, kind)

    # ------------------------------------------------------------ admin: schemas

    @app.get(
        "/v1/admin/schemas/{name}",
        response_model=Schema,
        tags=["admin"],
        dependencies=[Admin],
        responses={**ERRORS, 404: {"model": ErrorResponse}},
    )
    def get_schema(name: SchemaName, version: int | None = None) -> Schema:
        try:
            return svc.store.get(name, version)
        except SchemaError as exc:
            raise HTTPException(404, str(exc)) from None

    @app.get("/v1/admin/schemas/{name}/versions", tags=["admin"], dependencies=[Admin], responses=ERRORS)
    def schema_versions(name: SchemaName) -> list[dict[str, Any]]:
        return svc.store.versions(name)

    @app.put(
        "/v1/admin/schemas/{name}",
        response_model=Schema,
        tags=["admin"],
        dependencies=[Json, Admin],
        responses={**ERRORS, 409: {"model": ErrorResponse, "description": "Stale base_version"}},
    )
    def put_schema(name: SchemaName, body: SchemaWrite, request: Request) -> Schema:
        """Create (``base_version: null``) or edit a schema; every edit is a new version, old ones stay readable.

        The path names the schema; the body's ``name`` is replaced by it.
        """
        schema = body.schema_body.model_copy(update={"name": name})
        try:
            return svc.store.put(schema, base_version=body.base_version, author=_who(request))
        except SchemaConflictError as exc:
            raise HTTPException(409, str(exc)) from None

    @app.delete("/v1/admin/schemas/{name}", status_code=204, tags=["admin"], dependencies=[Admin], responses=ERRORS)
    def delete_schema(name: SchemaName) -> Response:
        svc.store.delete(name)
        svc.cache.clear()
        return Response(status_code=204)

    @app.post(
        "/v1/admin/schemas/{name}/dry-run",
        response_model=ExtractResponse,
        response_model_exclude_none=True,
        tags=["admin"],
        dependencies=[Json, Admin],
        responses=ERRORS,
    )
    async def dry_run(name: SchemaName, body: DryRunRequest) -> ExtractResponse:
        """Preview a schema edit on a sample text without storing it."""
        try:
            result = (await svc.pipeline.aextract([body.text], schema=body.schema_body, strategy=body.strategy))[0]
        except ValueError as exc:
            raise _unprocessable(("body",), str(exc)) from None
        return _response(result)

    # ------------------------------------------------------------ operations

    @app.get("/healthz", tags=["ops"])
    def healthz() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["ops"], responses={503: {"model": ErrorResponse}})
    def readyz() -> JSONResponse:
        """Readiness: the local model is loaded and the database answers."""
        problems = []
        if svc.batcher is None:
            problems.append(f"model not loaded ({svc.model_error or 'loading'})")
        try:
            with svc.pipeline.sessions() as session:
                session.execute(sql_text("SELECT 1"))
        except SQLAlchemyError as exc:
            problems.append(f"database unreachable ({type(exc).__name__})")
        if problems:
            return JSONResponse({"detail": "; ".join(problems)}, status_code=503)
        return JSONResponse({"status": "ready", "model": svc.model_version})

    @app.get("/metrics", tags=["ops"], response_class=PlainTextResponse)
    def metrics() -> Response:
        """Prometheus metrics."""
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        return Response(generate_latest(svc.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/", include_in_schema=False)
    def playground() -> FileResponse:
        return FileResponse(STATIC / "index.html", media_type="text/html")

    return app


def _unprocessable(loc: tuple[str, ...], message: str) -> RequestValidationError:
    """A 422 in the same shape as FastAPI's validation errors, so every 422 matches the documented schema."""
    return RequestValidationError([{"type": "value_error", "loc": loc, "msg": message}])


def _limit(prop: dict[str, Any], **limits: int) -> None:
    """Put limits on the non-null branch of an optional property."""
    for branch in prop.get("anyOf", [prop]):
        if branch.get("type") != "null":
            branch.update(limits)


def _who(request: Request) -> str:
    """Audit name for a writer: a short fingerprint of its key (never the key)."""
    import hashlib

    key = request.headers.get(HEADER, "")
    return "key:" + hashlib.sha256(key.encode()).hexdigest()[:12] if key else "anonymous"


def _response(result: Result) -> ExtractResponse:
    return ExtractResponse.model_validate(result.to_output())
