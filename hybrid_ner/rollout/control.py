"""Rollout commands (shadow, canary, promote, rollback) and the automatic canary moves, shared by the REST routes
and the CLI. Each checks everything before it writes; a refused command writes nothing."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from hybrid_ner.model_registry import ModelStore, shipped_names
from hybrid_ner.rollout.deployments import (
    Deployment,
    DeploymentStore,
    Guards,
    Mode,
    Problem,
    RolloutError,
    check_steps,
)
from hybrid_ner.rollout.gate import GateReport
from hybrid_ner.rollout.stats import Counts, Verdict
from hybrid_ner.schemas import RoutingMode, Schema

MAX_MIN_REQUESTS = 10_000_000


@dataclass(frozen=True)
class CanaryPlan:
    steps: list[float]
    min_requests: int
    guards: Guards
    sample: float = 1.0  # share of the candidate's texts whose agreement with the served model is measured


class Rollouts:
    """Commands over one database. ``labels_of`` answers a model's entity labels (``None``: the default one)."""

    def __init__(
        self,
        deployments: DeploymentStore,
        models: ModelStore,
        sessions: sessionmaker[Session],
        labels_of: Callable[[str | None], list[str]],
    ) -> None:
        self.deployments = deployments
        self.models = models
        self._sessions = sessions
        self._labels_of = labels_of

    # ---------------------------------------------------------------- checks

    def check_model(self, name: str, schema: Schema) -> None:
        """Refuse an unknown model, or one whose labels leave a local type of the schema without a label."""
        self._known(name)
        labels = self._labels_of(name)
        mapped = schema.for_model(labels)
        missing = [
            t.name
            for t in mapped.types
            if t.mode != RoutingMode.LLM and t.local_labels and not set(t.local_labels) & set(labels)
        ]
        if missing:
            raise RolloutError(
                Problem.INVALID,
                f"model {name!r} labels {', '.join(labels) or 'nothing'}; schema {schema.name!r} needs a local "
                f"label for {', '.join(missing)}",
            )

    def _known(self, name: str) -> None:
        known = {e["name"] for e in self.models.list()} | set(shipped_names())
        if name not in known:
            raise RolloutError(Problem.NOT_FOUND, f"no model named {name!r}; models: {', '.join(sorted(known))}")

    def _idle(self, d: Deployment, name: str) -> None:
        if d.mode != Mode.STEADY and not (d.mode == Mode.SHADOW and d.candidate == name):
            raise RolloutError(
                Problem.CONFLICT,
                f"schema {d.schema!r} already has a {d.mode.value} of {d.candidate!r}; roll it back or promote it",
            )
        if d.served == name:
            raise RolloutError(Problem.INVALID, f"{name!r} already serves schema {d.schema!r}")

    # ---------------------------------------------------------------- commands

    def shadow(self, name: str, schema: Schema, sample: float, actor: str) -> Deployment:
        if not 0.0 < sample <= 1.0:
            raise RolloutError(Problem.INVALID, f"sample must be within (0, 1], not {sample}")
        self.check_model(name, schema)
        d = self.deployments.get(schema.name)
        self._idle(d, name)
        edit = lambda d: replace(  # noqa: E731
            d, candidate=name, mode=Mode.SHADOW, sample=sample, steps=(), step=0, reason=f"shadow at {sample:.0%}"
        )
        return self._write(schema.name, actor, "shadow", edit, d.version)

    def canary(self, name: str, schema: Schema, plan: CanaryPlan, actor: str) -> Deployment:
        steps = check_steps(plan.steps)
        if not 1 <= plan.min_requests <= MAX_MIN_REQUESTS:
            raise RolloutError(Problem.INVALID, f"min_requests must be within [1, {MAX_MIN_REQUESTS}]")
        if not 0.0 < plan.sample <= 1.0:
            raise RolloutError(Problem.INVALID, f"sample must be within (0, 1], not {plan.sample}")
        self.check_model(name, schema)
        d = self.deployments.get(schema.name)
        self._idle(d, name)
        reason = f"canary at {steps[0]:g}%"

        def edit(d: Deployment) -> Deployment:
            return replace(
                d, candidate=name, mode=Mode.CANARY, steps=steps, step=0, min_requests=plan.min_requests,
                guards=plan.guards, sample=plan.sample, reason=reason,
            )  # fmt: skip

        return self._write(schema.name, actor, "canary", edit, d.version)

    def promote(self, name: str, schema: Schema, report: GateReport | None, actor: str) -> Deployment:
        """Make ``name`` the served model (``report``: the gate's verdict; ``None`` when forced)."""
        self.check_model(name, schema)
        d = self.deployments.get(schema.name)
        if d.mode != Mode.STEADY and d.candidate != name:
            raise RolloutError(Problem.CONFLICT, f"schema {schema.name!r} is rolling out {d.candidate!r}, not {name!r}")
        if d.served == name and d.mode == Mode.STEADY:
            raise RolloutError(Problem.INVALID, f"{name!r} already serves schema {schema.name!r}")
        if report is not None and not report.passed:
            raise RolloutError(Problem.CONFLICT, f"the evaluation gate refused {name!r}: {report.reason}")
        why = "promoted without the gate (force)" if report is None else f"promoted: {report.reason}"

        def edit(d: Deployment) -> Deployment:
            return Deployment(schema=d.schema, served=name, history=(*d.history, d.served)[-20:], reason=why)

        return self._write(schema.name, actor, "promote", edit, d.version)

    def rollback(self, schema: str, actor: str, reason: str = "rolled back by an operator") -> Deployment:
        """Stop a rollout (the served model keeps serving), or return to the model served before."""
        d = self.deployments.get(schema)
        if d.mode == Mode.STEADY and not d.history:
            raise RolloutError(Problem.CONFLICT, f"schema {schema!r} has no rollout and no earlier model to return to")
        return self._write(schema, actor, "rollback", lambda d: _rolled_back(d, reason), d.version)

    def apply(self, d: Deployment, verdict: Verdict) -> Deployment | None:
        """A canary's automatic move, made by whichever worker gets there first (``None``: another did)."""
        if verdict.action == "advance":
            edit: Callable[[Deployment], Deployment] = lambda d: replace(  # noqa: E731
                d, step=d.step + 1, reason=f"{verdict.reason}; now {d.steps[d.step + 1]:g}%"
            )
        elif verdict.action == "complete":
            edit = lambda d: replace(d, mode=Mode.READY, reason=verdict.reason)  # noqa: E731
        elif verdict.action == "rollback":
            edit = lambda d: _rolled_back(d, f"automatic rollback: {verdict.reason}")  # noqa: E731
        else:
            return None
        return self.deployments.change(d.schema, "rollout", verdict.action, edit, expect=d.version)

    def _write(
        self, schema: str, actor: str, action: str, edit: Callable[[Deployment], Deployment], v: int
    ) -> Deployment:
        done = self.deployments.change(schema, actor, action, edit, expect=v)
        if done is None:
            raise RolloutError(Problem.CONFLICT, f"schema {schema!r}'s deployment changed meanwhile; try again")
        return done

    # ---------------------------------------------------------------- counts

    def flush(self, schema: str, version: int, worker: str, counts: dict[str, Counts]) -> None:
        """Write this worker's counts for one deployment version (replacing what it wrote before)."""
        from kb.models import RolloutStatsRow, utcnow

        with self._sessions.begin() as s:
            for role, c in counts.items():
                s.merge(RolloutStatsRow(schema_name=schema, version=version, worker=worker, role=role,
                                        counts=c.to_json(), updated_at=utcnow()))  # fmt: skip

    def totals(self, schema: str, version: int) -> dict[str, Counts]:
        """Every worker's counts for one deployment version, summed per role."""
        from kb.models import RolloutStatsRow

        out: dict[str, Counts] = {}
        with self._sessions() as s:
            q = select(RolloutStatsRow).where(RolloutStatsRow.schema_name == schema, RolloutStatsRow.version == version)
            for row in s.scalars(q):
                out[row.role] = out.get(row.role, Counts()).add(Counts.from_json(row.counts))
        return out

    def forget(self, schema: str, keep_from: int) -> None:
        """Drop counts of deployment versions before ``keep_from`` (what they judged is decided and audited)."""
        from kb.models import RolloutStatsRow

        with self._sessions.begin() as s:
            s.execute(
                delete(RolloutStatsRow).where(
                    RolloutStatsRow.schema_name == schema, RolloutStatsRow.version < keep_from
                )
            )

    def report(self, name: str) -> dict[str, Any]:
        """The rollouts that involve ``name``, with the counts of their current step."""
        self._known(name)
        out = []
        for d in self.deployments.all().values():
            if name not in (d.candidate, d.served):
                continue
            counts = self.totals(d.schema, d.version)
            out.append({**d.view(), "counts": {role: c.report() for role, c in counts.items()}})
        return {"name": name, "deployments": out}


def _rolled_back(d: Deployment, reason: str) -> Deployment:
    if d.mode != Mode.STEADY:
        return Deployment(schema=d.schema, served=d.served, history=d.history, reason=reason)
    return Deployment(schema=d.schema, served=d.history[-1], history=d.history[:-1], reason=reason)
