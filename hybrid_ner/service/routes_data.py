"""Data routes: extract, annotate, link, and the list of schemas. Thin: the pipeline does the work."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any, TypeVar

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel

from hybrid_ner.datamodel import Result
from hybrid_ner.routing import get_router
from hybrid_ner.schemas import SchemaError
from hybrid_ner.service.deps import Json, Read
from hybrid_ner.service.models import (
    ERRORS,
    BatchResponse,
    ErrorItem,
    ErrorResponse,
    ExtractRequest,
    ExtractResponse,
    ItemError,
    LinkBatchResponse,
    LinkedSpan,
    LinkItem,
    LinkRequest,
    LinkResponse,
    SchemaSummary,
)
from hybrid_ner.service.state import Service, service
from hybrid_ner.spans import link_output, span_error

router = APIRouter(tags=["data"])
One = TypeVar("One", bound=BaseModel)
Many = TypeVar("Many", bound=BaseModel)
UNKNOWN_SCHEMA = {**ERRORS, 404: {"model": ErrorResponse, "description": "Unknown schema"}}


def unprocessable(loc: tuple[str, ...], message: str) -> RequestValidationError:
    """A 422 in the same shape as FastAPI's validation errors, so every 422 matches the documented schema."""
    return RequestValidationError([{"type": "value_error", "loc": loc, "msg": message}])


def envelope(single: bool, outputs: Sequence[Any], one: type[One], many: type[Many]) -> One | Many:
    """A request for one item gets its answer itself (an item's error was raised as a 4xx before); a batch gets
    every item's answer or error in ``results``, in order."""
    if single:
        first = outputs[0]
        assert isinstance(first, one)
        return first
    return many(results=list(outputs))


def response(result: Result) -> ExtractResponse:
    return ExtractResponse.model_validate(result.to_output())


async def run_extract(svc: Service, body: ExtractRequest, link: bool | None) -> ExtractResponse | BatchResponse:
    """Validate the request, run the pipeline on the texts that pass, and report the rest per item."""
    limit = svc.settings.max_chars
    try:
        router_name = get_router(body.strategy or svc.settings.strategy).name
        schema = await asyncio.to_thread(svc.pipeline.resolve_schema, body.schema_name, body.schema_version)
    except SchemaError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None
    except ValueError as exc:
        raise unprocessable(("body", "strategy"), str(exc)) from None
    texts = [body.text] if body.text is not None else list(body.texts or [])
    if len(texts) > svc.settings.max_texts:
        raise unprocessable(("body", "texts"), f"at most {svc.settings.max_texts} texts per request, got {len(texts)}")
    if body.text is not None and len(body.text) > limit:  # a field over its declared maxLength: 422, like any field
        raise unprocessable(("body", "text"), f"text is longer than {limit} characters")
    good = [i for i, t in enumerate(texts) if len(t) <= limit]
    results = await svc.pipeline.aextract([texts[i] for i in good], schema=schema, strategy=router_name, link=link)
    outputs: list[ExtractResponse | ErrorItem] = [
        ErrorItem(error=ItemError(code="text_too_long", message=f"text is longer than {limit} characters"))
    ] * len(texts)
    for i, result in zip(good, results, strict=True):
        svc.metrics.observe(result)
        outputs[i] = response(result)
    svc.metrics.info.labels(svc.model_version, schema.name, str(schema.version or 0)).set(1)
    return envelope(body.text is not None, outputs, ExtractResponse, BatchResponse)


@router.post(
    "/v1/extract",
    response_model=ExtractResponse | BatchResponse,
    response_model_exclude_unset=True,
    responses=UNKNOWN_SCHEMA,
    dependencies=[Json, Read],
)
async def extract(body: ExtractRequest, request: Request) -> ExtractResponse | BatchResponse:
    """Extract entities from one text or a batch, with the chosen schema and router strategy; entities are
    linked too when a KB is loaded."""
    return await run_extract(service(request), body, link=None)


@router.post(
    "/v1/annotate",
    response_model=ExtractResponse | BatchResponse,
    response_model_exclude_unset=True,
    responses=UNKNOWN_SCHEMA,
    dependencies=[Json, Read],
)
async def annotate(body: ExtractRequest, request: Request) -> ExtractResponse | BatchResponse:
    """Extract and link in one call: every entity gets ``link`` (``kb_id`` null for NIL)."""
    return await run_extract(service(request), body, link=True)


@router.post(
    "/v1/link",
    response_model=LinkResponse | LinkBatchResponse,
    response_model_exclude_unset=True,
    dependencies=[Json, Read],
    responses=ERRORS,
)
async def link(body: LinkRequest, request: Request) -> LinkResponse | LinkBatchResponse:
    """Link given spans to KB ids, with top candidates and scores (NIL when nothing fits); the override list
    applies as everywhere else."""
    svc = service(request)
    items = [LinkItem(text=body.text, spans=body.spans)] if body.text is not None else list(body.items or [])
    if len(items) > svc.settings.max_texts:
        raise unprocessable(("body", "items"), f"at most {svc.settings.max_texts} items per request")
    problems = [
        f"text is longer than {svc.settings.max_chars} characters"
        if len(item.text) > svc.settings.max_chars
        else span_error(item.text, item.spans)
        for item in items
    ]
    if body.text is not None and problems[0]:
        raise unprocessable(("body",), problems[0])
    good = [i for i, p in enumerate(problems) if p is None]
    linked = await svc.pipeline.alink(
        [(items[i].text, [(sp.start, sp.end, sp.label) for sp in items[i].spans]) for i in good]
    )
    outputs: list[LinkResponse | ErrorItem] = [
        ErrorItem(error=ItemError(code="invalid_item", message=p or "")) for p in problems
    ]
    for i, entities in zip(good, linked, strict=True):
        outputs[i] = LinkResponse(links=[LinkedSpan.model_validate(link_output(e)) for e in entities])
    return envelope(body.text is not None, outputs, LinkResponse, LinkBatchResponse)


@router.get("/v1/schemas", response_model=list[SchemaSummary], dependencies=[Read], responses=ERRORS)
def list_schemas(request: Request) -> list[SchemaSummary]:
    """Stored schemas (latest versions) plus the built-in default."""
    svc = service(request)
    names = sorted(set(svc.components.schemas.names()) | {svc.settings.schema_name})
    out = []
    for name in names:
        s = svc.components.schemas.get(name)
        out.append(SchemaSummary(name=name, version=s.version or 1, labels=s.labels))
    return out
