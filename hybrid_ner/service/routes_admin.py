"""Admin routes (an admin API key each): KB entities and imports, the override list, the audit log, schemas.

Every write goes through a store that bumps the version it affects, so cached results and indexes built before
it are never served after it.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Body, HTTPException, Query, Request, Response

from hybrid_ner.model_registry import ModelNotFoundError
from hybrid_ner.schemas import Schema, SchemaConflictError, SchemaError
from hybrid_ner.service.deps import Admin, Json
from hybrid_ner.service.models import (
    ERRORS,
    NOT_FOUND,
    DryRunRequest,
    ErrorResponse,
    ExtractResponse,
    ImportJob,
    RuleId,
    SchemaName,
    SchemaWrite,
    Version,
)
from hybrid_ner.service.routes_data import response, unprocessable
from hybrid_ner.service.state import actor, service
from kb import audit
from kb.overrides import Override, OverrideIn
from kb.records import EntityIn
from kb.store import EntityInUseError

router = APIRouter(tags=["admin"], dependencies=[Admin])
EMPTY_BODY = {  # the shape of every 422 (FastAPI's validation error), documented for a body it does not parse
    "description": "The body is empty",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/HTTPValidationError"}}},
}
IN_USE: dict[int | str, dict[str, Any]] = {
    409: {"model": ErrorResponse, "description": "An override rule names the entity"}
}

# ---------------------------------------------------------------- KB


@router.put("/v1/admin/kb/entities", dependencies=[Json], responses=ERRORS)
def upsert_entities(entities: Annotated[list[EntityIn], Body(max_length=1000)], request: Request) -> dict[str, int]:
    """Create or replace entities (audited); they are linkable on the next request."""
    kb = service(request).components.kb
    n = kb.upsert(entities, source="api", actor=actor(request))
    return {"upserted": n, "kb_version": kb.version()}


@router.get("/v1/admin/kb/entities/{entity_id}", responses={**ERRORS, **NOT_FOUND})
def get_entity(entity_id: str, request: Request) -> dict[str, Any]:
    found = service(request).components.kb.get([entity_id])
    if entity_id not in found:
        raise HTTPException(404, f"no entity {entity_id!r}")
    return vars(found[entity_id])


@router.delete("/v1/admin/kb/entities/{entity_id}", status_code=204, responses={**ERRORS, **NOT_FOUND, **IN_USE})
def delete_entity(entity_id: str, request: Request) -> Response:
    """Delete an entity (audited). Refused with 409 while an override rule names it."""
    try:
        deleted = service(request).components.kb.delete_entity(entity_id, actor=actor(request))
    except EntityInUseError as exc:
        raise HTTPException(409, str(exc)) from None
    if not deleted:
        raise HTTPException(404, f"no entity {entity_id!r}")
    return Response(status_code=204)


@router.post(
    "/v1/admin/kb/import",
    response_model=ImportJob,
    status_code=202,
    responses={**ERRORS, 422: EMPTY_BODY},
    openapi_extra={
        "requestBody": {
            "content": {  # bytes on the wire: any JSON value sent is a line, so no type is claimed for it
                "application/x-ndjson": {
                    "schema": {"minLength": 1, "description": "JSON lines, one entity object per line."}
                }
            },
            "required": True,
        }
    },
)
async def import_jsonl(request: Request) -> ImportJob:
    """Bulk JSONL import (lines as for ``hybrid-ner kb load``) as a background job; every entity it writes is
    in the audit log. Poll ``/v1/admin/kb/jobs/{id}``."""
    body = await request.body()
    if not body:
        raise unprocessable(("body",), "the body is empty: send JSONL, one entity per line")
    jobs = service(request).components.jobs
    return ImportJob.model_validate(await asyncio.to_thread(jobs.start, body.splitlines(), actor(request)))


@router.get("/v1/admin/kb/jobs/{job_id}", response_model=ImportJob, responses={**ERRORS, **NOT_FOUND})
def import_status(job_id: str, request: Request) -> ImportJob:
    job = service(request).components.jobs.get(job_id)
    if job is None:
        raise HTTPException(404, f"no job {job_id!r}")
    return ImportJob.model_validate(job)


# ---------------------------------------------------------------- overrides and audit


@router.get("/v1/admin/overrides", response_model=list[Override], responses=ERRORS)
def list_overrides(request: Request) -> list[Override]:
    return service(request).components.overrides.all()


@router.post(
    "/v1/admin/overrides",
    response_model=Override,
    status_code=201,
    dependencies=[Json],
    responses={**ERRORS, **NOT_FOUND},
)
def create_override(rule: OverrideIn, request: Request) -> Override:
    """Add a policy rule; it applies from the next request. An unknown ``kb_id`` is rejected (404)."""
    try:
        return service(request).components.overrides.save(rule, actor=actor(request))
    except LookupError as exc:
        raise HTTPException(404, str(exc)) from None


@router.put(
    "/v1/admin/overrides/{rule_id}", response_model=Override, dependencies=[Json], responses={**ERRORS, **NOT_FOUND}
)
def update_override(rule_id: RuleId, rule: OverrideIn, request: Request) -> Override:
    try:
        return service(request).components.overrides.save(rule, actor=actor(request), rule_id=rule_id)
    except (LookupError, KeyError) as exc:
        raise HTTPException(404, str(exc).strip("'\"")) from None


@router.delete("/v1/admin/overrides/{rule_id}", status_code=204, responses={**ERRORS, **NOT_FOUND})
def delete_override(rule_id: RuleId, request: Request) -> Response:
    if not service(request).components.overrides.delete(rule_id, actor=actor(request)):
        raise HTTPException(404, f"no override {rule_id}")
    return Response(status_code=204)


@router.get("/v1/admin/audit", responses=ERRORS)
def audit_log(
    request: Request, limit: Annotated[int, Query(ge=1, le=1000)] = 100, kind: str | None = None
) -> list[dict[str, Any]]:
    """The audit log, newest first: who changed what, when, before and after."""
    return audit.read(service(request).components.sessions, limit, kind)


# ---------------------------------------------------------------- schemas


@router.get("/v1/admin/schemas/{name}", response_model=Schema, responses={**ERRORS, **NOT_FOUND})
def get_schema(name: SchemaName, request: Request, version: Version | None = None) -> Schema:
    try:
        return service(request).components.schemas.get(name, version)
    except SchemaError as exc:
        raise HTTPException(404, str(exc)) from None


@router.get("/v1/admin/schemas/{name}/versions", responses=ERRORS)
def schema_versions(name: SchemaName, request: Request) -> list[dict[str, Any]]:
    return service(request).components.schemas.versions(name)


@router.put(
    "/v1/admin/schemas/{name}",
    response_model=Schema,
    dependencies=[Json],
    responses={**ERRORS, 409: {"model": ErrorResponse, "description": "Stale base_version"}},
)
def put_schema(name: SchemaName, body: SchemaWrite, request: Request) -> Schema:
    """Create (``base_version: null``) or edit a schema; every edit is a new version, old ones stay readable.

    The path names the schema; the body's ``name`` is replaced by it.
    """
    schema = body.schema_body.model_copy(update={"name": name})
    pipeline = service(request).pipeline
    if schema.model is not None:
        try:
            pipeline.components.model_ref(schema.model, pipeline.components.state().model_version, directories=False)
        except ModelNotFoundError as exc:
            raise unprocessable(("body", "schema", "model"), str(exc)) from None
    try:
        return pipeline.components.schemas.put(schema, base_version=body.base_version, author=actor(request))
    except SchemaConflictError as exc:
        raise HTTPException(409, str(exc)) from None


@router.delete("/v1/admin/schemas/{name}", status_code=204, responses=ERRORS)
def delete_schema(name: SchemaName, request: Request) -> Response:
    service(request).components.schemas.delete(name)
    return Response(status_code=204)


@router.post(
    "/v1/admin/schemas/{name}/dry-run",
    response_model=ExtractResponse,
    response_model_exclude_unset=True,
    dependencies=[Json],
    responses=ERRORS,
)
async def dry_run(name: SchemaName, body: DryRunRequest, request: Request) -> ExtractResponse:
    """Preview a schema edit on a sample text without storing it."""
    try:
        result = (
            await service(request).pipeline.aextract([body.text], schema=body.schema_body, strategy=body.strategy)
        )[0]
    except ValueError as exc:
        raise unprocessable(("body",), str(exc)) from None
    return response(result)
