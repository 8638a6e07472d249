"""The learning loop over REST: users' corrections (a feedback or an admin key), and the admin's view of them and
of the registered models."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request, Response
from fastapi import Path as PathParam
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from hybrid_ner.errors import HybridNERError
from hybrid_ner.feedback import Correction, FeedbackError
from hybrid_ner.learn.formats import Format, lines
from hybrid_ner.schemas import NAME_PATTERN, SchemaError
from hybrid_ner.service.deps import Admin, Feedback, Json
from hybrid_ner.service.models import ERRORS, NOT_FOUND
from hybrid_ner.service.routes_data import unprocessable
from hybrid_ner.service.state import actor, service

router = APIRouter(tags=["learning"])
FeedbackId = Annotated[int, PathParam(ge=1, le=2**31 - 1)]


class FeedbackCreated(BaseModel):
    id: int
    entities: int
    links: int
    aliases_added: int


class ModelIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=128, pattern=NAME_PATTERN)
    path: str = Field(min_length=1, max_length=4096, description="A model directory on the server (adapt's --out).")


class ModelList(BaseModel):
    models: list[dict[str, Any]]


@router.post(
    "/v1/feedback", status_code=201, response_model=FeedbackCreated, dependencies=[Json, Feedback], responses=ERRORS
)
async def send_feedback(body: Correction, request: Request) -> FeedbackCreated:
    """A corrected text: its right entities (types of the named schema, ``default`` when absent) and, optionally,
    links. Stored as training data (audited); a corrected link makes the mention an alias of its entity from the
    next request on. It never changes a served model by itself."""
    svc = service(request)
    if len(body.text) > svc.settings.max_chars:
        raise unprocessable(("body", "text"), f"text is longer than {svc.settings.max_chars} characters")
    try:
        schema = await asyncio.to_thread(svc.pipeline.resolve_schema, body.schema_name or svc.settings.schema_name)
        added = await asyncio.to_thread(svc.components.feedback.add, body, schema, actor(request))
    except SchemaError as exc:
        raise unprocessable(("body", "schema"), str(exc)) from None
    except FeedbackError as exc:
        raise unprocessable(("body", *map(str, exc.field)), str(exc)) from None
    return FeedbackCreated.model_validate(added)


@router.get("/v1/admin/feedback", dependencies=[Admin], responses=ERRORS)
def list_feedback(
    request: Request,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
    schema: Annotated[str | None, Query(max_length=128)] = None,
) -> list[dict[str, Any]]:
    """Stored corrections, newest first, texts included."""
    return service(request).components.feedback.recent(limit, offset, schema)


@router.get(
    "/v1/admin/feedback/export",
    dependencies=[Admin],
    responses={**ERRORS, 200: {"content": {"text/plain": {}, "application/x-ndjson": {}}}},
)
def export_feedback(
    request: Request,
    format: Annotated[str, Query(pattern="^(conll|jsonl)$")] = "jsonl",
    schema: Annotated[str | None, Query(max_length=128)] = None,
) -> StreamingResponse:
    """Every stored correction (of one schema, or all) as ``adapt --train`` reads it: CoNLL or JSONL."""
    fmt = Format(format)
    rows = service(request).components.feedback.rows(schema)
    media = "text/plain; charset=utf-8" if fmt == Format.CONLL else "application/x-ndjson"
    return StreamingResponse(lines(rows, fmt), media_type=media)


@router.delete(
    "/v1/admin/feedback/{feedback_id:int}", status_code=204, dependencies=[Admin], responses={**ERRORS, **NOT_FOUND}
)
def delete_feedback(feedback_id: FeedbackId, request: Request) -> Response:
    """Delete one correction (audited)."""
    if not service(request).components.feedback.delete([feedback_id], actor(request)):
        raise HTTPException(404, f"no feedback {feedback_id}")
    return Response(status_code=204)


@router.delete("/v1/admin/feedback", dependencies=[Admin], responses=ERRORS)
def purge_feedback(request: Request, older_than_days: Annotated[float, Query(ge=0, le=36500)]) -> dict[str, int]:
    """Delete every correction older than ``older_than_days`` (audited)."""
    return {"deleted": service(request).components.feedback.purge_older_than(older_than_days, actor(request))}


@router.get("/v1/admin/models", response_model=ModelList, dependencies=[Admin], responses=ERRORS)
def list_models(request: Request) -> ModelList:
    """The models this service can serve: registered ones and the default, with the schemas each serves."""
    svc = service(request)
    return ModelList(models=svc.components.model_overview(svc.batcher))


@router.post("/v1/admin/models", status_code=201, dependencies=[Admin, Json], responses=ERRORS)
async def add_model(body: ModelIn, request: Request) -> dict[str, Any]:
    """Register a model directory (``adapt`` or ``calibrate`` output) under a name: its files are copied into the
    database, so every worker can serve it; a schema names it with ``"model": NAME``. Audited."""
    from pathlib import Path

    models = service(request).components.models
    try:
        return await asyncio.to_thread(models.add, body.name, Path(body.path), actor(request))
    except (HybridNERError, ValueError, OSError) as exc:
        raise unprocessable(("body", "path"), str(exc)) from None
