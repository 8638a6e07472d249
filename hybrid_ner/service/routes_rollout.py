"""Rollout routes (an admin key each): shadow, canary, promotion through the evaluation gate, rollback, the
per-model report, evaluation sets and input drift. Every change is audited with its reason."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi import Path as PathParam
from pydantic import BaseModel, ConfigDict, Field, Strict, StrictBool, StrictFloat, StrictInt

from hybrid_ner.errors import HybridNERError
from hybrid_ner.rollout.control import CanaryPlan
from hybrid_ner.rollout.deployments import Guards, Problem, RolloutError
from hybrid_ner.rollout.gate import gate
from hybrid_ner.schemas import NAME_PATTERN, Schema, SchemaError
from hybrid_ner.service.deps import Admin, Json
from hybrid_ner.service.models import ERRORS, ErrorResponse
from hybrid_ner.service.routes_data import unprocessable
from hybrid_ner.service.state import Service, actor, service

router = APIRouter(tags=["rollout"], dependencies=[Admin])
ModelName = Annotated[str, PathParam(min_length=1, max_length=128, pattern=NAME_PATTERN)]
Number = StrictFloat | StrictInt
# Bounded numbers: the bounds sit inside the type so the OpenAPI schema states them (exclusiveMinimum, maximum)
# even in an optional field; ints are taken as floats, strings and booleans refused.
Share = Annotated[float, Strict(), Field(gt=0, le=1)]
Rate = Annotated[float, Strict(), Field(ge=0, le=1)]
Millis = Annotated[float, Strict(), Field(gt=0, le=3_600_000)]
REFUSED: dict[int | str, dict[str, Any]] = {
    **ERRORS,
    404: {"model": ErrorResponse, "description": "Unknown model or schema"},
    409: {"model": ErrorResponse, "description": "Another rollout runs, the gate refused, or nothing to roll back"},
}
STATUS = {Problem.NOT_FOUND: 404, Problem.CONFLICT: 409}


class Target(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    schema_name: str | None = Field(default=None, alias="schema", max_length=128, pattern=NAME_PATTERN,
                                    description="The schema whose traffic it is (default: the service's).")  # fmt: skip


class ShadowIn(Target):
    sample: Share = Field(default=0.2, description="Share of live texts the candidate also runs on.")


class GuardsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    max_error_rate: Rate = 0.02
    max_p95_ms: Millis | None = None
    min_agreement: Rate = 0.8


class CanaryIn(Target):
    steps: list[Number] = Field(default=[1, 5, 25, 100], min_length=1, max_length=20,
                                description="Rising shares in percent; the last is 100.")  # fmt: skip
    min_requests: StrictInt = Field(default=200, ge=1, le=10_000_000, description="Texts per step before it is judged.")
    guards: GuardsIn = Field(default_factory=GuardsIn)
    sample: Share = Field(default=1.0, description="Share of the candidate's texts compared.")


class PromoteIn(Target):
    force: StrictBool = Field(default=False, description="Promote even when the evaluation gate refuses.")
    tolerance: Rate = Field(default=0.005, description="F1 the candidate may lose per set.")


class EvalSetIn(Target):
    name: str = Field(min_length=1, max_length=128, pattern=NAME_PATTERN)
    path: str = Field(min_length=1, max_length=4096, description="A labelled file on the server (CoNLL or JSONL).")


def _refused(exc: RolloutError) -> HTTPException | Exception:
    if exc.problem == Problem.INVALID:
        return unprocessable(("body",), str(exc))
    return HTTPException(STATUS[exc.problem], str(exc))


async def _schema(svc: Service, body: Target) -> Schema:
    try:
        return await asyncio.to_thread(svc.pipeline.resolve_schema, body.schema_name or svc.settings.schema_name)
    except SchemaError as exc:
        raise HTTPException(404, str(exc)) from None


@router.post("/v1/admin/models/{name}/shadow", dependencies=[Json], responses=REFUSED)
async def shadow(name: ModelName, body: ShadowIn, request: Request) -> dict[str, Any]:
    """Run ``name`` beside the served model on a sampled share of live texts, after each response is sent, and
    compare them (see the report). Nobody is served by it."""
    svc = service(request)
    schema = await _schema(svc, body)
    try:
        d = await asyncio.to_thread(svc.components.rollouts.shadow, name, schema, body.sample, actor(request))
    except RolloutError as exc:
        raise _refused(exc) from None
    return d.view()


@router.post("/v1/admin/models/{name}/canary", dependencies=[Json], responses=REFUSED)
async def canary(name: ModelName, body: CanaryIn, request: Request) -> dict[str, Any]:
    """Serve ``name`` to a rising share of texts (sticky by text digest). Each step advances when its guards
    hold over ``min_requests`` texts and rolls back by itself when one fails; every move is audited."""
    svc = service(request)
    schema = await _schema(svc, body)
    try:
        g = body.guards
        guards = Guards(float(g.max_error_rate), None if g.max_p95_ms is None else float(g.max_p95_ms),
                        float(g.min_agreement))  # fmt: skip
        plan = CanaryPlan([float(s) for s in body.steps], body.min_requests, guards, float(body.sample))
        d = await asyncio.to_thread(svc.components.rollouts.canary, name, schema, plan, actor(request))
    except RolloutError as exc:
        raise _refused(exc) from None
    return d.view()


@router.post("/v1/admin/models/{name}/promote", dependencies=[Json], responses=REFUSED)
async def promote(name: ModelName, body: PromoteIn, request: Request) -> dict[str, Any]:
    """Make ``name`` the schema's served model once the evaluation gate finds no regression against the served
    one on the schema's evaluation sets (``force`` skips the gate; audited either way)."""
    svc = service(request)
    schema = await _schema(svc, body)
    components = svc.pipeline.components
    try:
        await asyncio.to_thread(components.rollouts.check_model, name, schema)
        report = None
        if not body.force:
            sets = await asyncio.to_thread(components.eval_sets.load, schema)
            served = (await asyncio.to_thread(components.deployments.get, schema.name)).served
            report = await gate(svc.pipeline.alocal, schema, sets, served, name, float(body.tolerance))
        d = await asyncio.to_thread(components.rollouts.promote, name, schema, report, actor(request))
    except RolloutError as exc:
        raise _refused(exc) from None
    return {**d.view(), "gate": None if report is None else {"passed": report.passed, "sets": report.sets}}


@router.post("/v1/admin/models/rollback", responses=REFUSED)
async def rollback(request: Request, body: Target | None = None) -> dict[str, Any]:
    """Stop the schema's rollout (the served model keeps serving), or return to the model served before."""
    svc = service(request)
    schema = await _schema(svc, body or Target())
    try:
        d = await asyncio.to_thread(svc.components.rollouts.rollback, schema.name, actor(request))
    except RolloutError as exc:
        raise _refused(exc) from None
    return d.view()


@router.get("/v1/admin/models/{name}/report", responses=REFUSED)
async def report(name: ModelName, request: Request) -> dict[str, Any]:
    """The rollouts ``name`` takes part in, with every worker's counts at the current step: requests, errors,
    p50/p95 of the local path, scores, agreement with the served model and dropped comparisons."""
    svc = service(request)
    try:
        return await asyncio.to_thread(svc.components.rollouts.report, name)
    except RolloutError as exc:
        raise _refused(exc) from None


@router.post("/v1/admin/evalsets", status_code=201, dependencies=[Json], responses=REFUSED)
async def add_eval_set(body: EvalSetIn, request: Request) -> dict[str, Any]:
    """Register a labelled file (read as ``adapt --train`` reads it) as an evaluation set of the schema: the
    promotion gate scores models on it."""
    svc = service(request)
    schema = await _schema(svc, body)
    try:
        add = svc.components.eval_sets.add
        return await asyncio.to_thread(add, schema, body.name, Path(body.path), actor(request))
    except (HybridNERError, ValueError, OSError) as exc:
        raise unprocessable(("body", "path"), str(exc)) from None


class DriftFigure(BaseModel):
    name: str
    psi: float
    threshold: float
    alarm: bool


class DriftReport(BaseModel):
    alarm: bool
    window: int
    figures: list[DriftFigure]
    reason: str | None = None


@router.get("/v1/admin/drift", response_model=DriftReport, response_model_exclude_none=True, responses=ERRORS)
def drift(
    request: Request, schema: Annotated[str | None, Query(max_length=128, pattern=NAME_PATTERN)] = None
) -> DriftReport:
    """This worker's window of live texts against the served model's reference profile: the population
    stability index per figure, and whether any is over its threshold (after ``HNER_DRIFT_MIN`` texts)."""
    svc = service(request)
    return DriftReport.model_validate(svc.rollout.drift(schema or svc.settings.schema_name))
