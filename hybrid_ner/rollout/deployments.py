"""Which model serves each schema, and the rollout beside it (shadow or canary), as versioned, audited SQL state.

Every change is a compare-and-set on the row's ``version`` and bumps ``model_version``, which every request reads
with the KB state: all workers on all machines follow a change at their next request, without a restart. Of
several workers that decide the same transition (a canary step, a rollback), exactly one makes it.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from hybrid_ner.errors import HybridNERError


class Problem(StrEnum):
    """Why a rollout request was refused; the service maps each to its status code."""

    NOT_FOUND = "not_found"  # 404: an unknown model
    CONFLICT = "conflict"  # 409: a rollout is running, or nothing to roll back to
    INVALID = "invalid"  # 422: guards that make no sense, labels that do not cover the schema


class RolloutError(HybridNERError):
    """A refused rollout change; nothing was written."""

    def __init__(self, problem: Problem, message: str) -> None:
        super().__init__(message)
        self.problem = problem


class Mode(StrEnum):
    STEADY = ""
    SHADOW = "shadow"
    CANARY = "canary"
    READY = "ready"  # the canary held at every step; the candidate serves everything until promoted


@dataclass(frozen=True)
class Guards:
    """What a canary must hold at every step: errors, p95 latency of the local path, agreement with the served
    model (span-and-label F1 of the candidate's entities against the served model's on the same texts)."""

    max_error_rate: float = 0.02
    max_p95_ms: float | None = None
    min_agreement: float = 0.8

    def __post_init__(self) -> None:
        if not 0.0 <= self.max_error_rate <= 1.0:
            raise RolloutError(Problem.INVALID, f"max_error_rate must be within [0, 1], not {self.max_error_rate}")
        if self.max_p95_ms is not None and self.max_p95_ms <= 0:
            raise RolloutError(Problem.INVALID, f"max_p95_ms must be positive, not {self.max_p95_ms}")
        if not 0.0 <= self.min_agreement <= 1.0:
            raise RolloutError(Problem.INVALID, f"min_agreement must be within [0, 1], not {self.min_agreement}")


@dataclass(frozen=True)
class Deployment:
    """One schema's serving state. ``served`` None means the model the schema names, else the default."""

    schema: str
    served: str | None = None
    candidate: str | None = None
    mode: Mode = Mode.STEADY
    sample: float = 0.0
    steps: tuple[float, ...] = ()
    step: int = 0
    min_requests: int = 0
    guards: Guards = field(default_factory=Guards)
    history: tuple[str | None, ...] = ()
    reason: str = ""
    version: int = 0

    @property
    def share(self) -> float:
        """The candidate's share of live requests (0 in shadow: it only sees copies)."""
        if self.mode == Mode.READY:
            return 1.0
        return self.steps[self.step] / 100.0 if self.mode == Mode.CANARY else 0.0

    @property
    def last_step(self) -> bool:
        return self.mode == Mode.CANARY and self.step == len(self.steps) - 1

    def takes(self, text: str) -> bool:
        """Sticky assignment: a text goes to the candidate when its digest falls within the share."""
        return self.share > 0 and sticky_point(text) < self.share

    def samples(self, text: str) -> bool:
        """Whether a shadow copy of ``text`` runs (also sticky: the same texts are compared at every step)."""
        return self.sample > 0 and sticky_point(text, b"shadow") < self.sample

    def view(self) -> dict[str, Any]:
        return {
            "schema": self.schema,
            "served": self.served,
            "candidate": self.candidate,
            "mode": self.mode.value or "steady",
            "share": self.share,
            "sample": self.sample,
            "steps": list(self.steps),
            "step": self.step,
            "min_requests": self.min_requests,
            "guards": self.guards.__dict__,
            "previous": self.history[-1] if self.history else None,
            "reason": self.reason,
            "version": self.version,
        }


def sticky_point(text: str, salt: bytes = b"") -> float:
    """A text's fixed point in [0, 1): the same text always lands on the same side of a share."""
    return int.from_bytes(hashlib.sha256(salt + text.encode("utf-8", "surrogatepass")).digest()[:8]) / 2**64


def check_steps(steps: list[float]) -> tuple[float, ...]:
    if not steps:
        raise RolloutError(Problem.INVALID, "steps must name at least one share, e.g. [1, 5, 25, 100]")
    if any(not 0 < s <= 100 for s in steps) or any(b <= a for a, b in itertools.pairwise(steps)):
        raise RolloutError(Problem.INVALID, f"steps must rise within (0, 100]: {steps}")
    if steps[-1] != 100:
        raise RolloutError(Problem.INVALID, f"the last step must be 100 (the whole traffic), not {steps[-1]}")
    return tuple(float(s) for s in steps)


def _from_row(row: Any) -> Deployment:
    return Deployment(
        schema=row.schema_name,
        served=row.served,
        candidate=row.candidate,
        mode=Mode(row.mode),
        sample=row.sample,
        steps=tuple(row.steps or ()),
        step=row.step,
        min_requests=row.min_requests,
        guards=Guards(**(row.guards or {})),
        history=tuple(row.history or ()),
        reason=row.reason,
        version=row.version,
    )


class DeploymentStore:
    """Reads and compare-and-set writes of deployments; each write is audited with its reason."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def all(self) -> dict[str, Deployment]:
        from sqlalchemy import select

        from kb.models import DeploymentRow

        with self._sessions() as s:
            return {r.schema_name: _from_row(r) for r in s.scalars(select(DeploymentRow))}

    def get(self, schema: str) -> Deployment:
        return self.all().get(schema) or Deployment(schema=schema)

    def change(
        self,
        schema: str,
        actor: str,
        action: str,
        edit: Callable[[Deployment], Deployment],
        *,
        expect: int | None = None,
    ) -> Deployment | None:
        """Apply ``edit`` to the schema's deployment in one transaction (audited, ``model_version`` bumped).
        With ``expect``, only when the row is still at that version: ``None`` when another worker got there first."""
        from kb import audit
        from kb.meta import MODEL_VERSION, bump
        from kb.models import DeploymentRow, utcnow

        with self._sessions.begin() as s:
            row = s.get(DeploymentRow, schema, with_for_update=True)
            before = _from_row(row) if row is not None else Deployment(schema=schema)
            if expect is not None and before.version != expect:
                return None
            after = replace(edit(before), version=before.version + 1)
            values = _values(after)
            if row is None:
                s.add(DeploymentRow(schema_name=schema, updated_at=utcnow(), **values))
            else:
                done = s.execute(
                    update(DeploymentRow)
                    .where(DeploymentRow.schema_name == schema, DeploymentRow.version == before.version)
                    .values(updated_at=utcnow(), **values)
                )
                if getattr(done, "rowcount", 1) != 1:
                    return None
            bump(s, MODEL_VERSION)
            audit.record(s, actor, action, "deployment", schema, before.view(), after.view())
        return after


def _values(d: Deployment) -> dict[str, Any]:
    return {
        "served": d.served,
        "candidate": d.candidate,
        "mode": d.mode.value,
        "sample": d.sample,
        "steps": list(d.steps),
        "step": d.step,
        "min_requests": d.min_requests,
        "guards": dict(d.guards.__dict__),
        "history": list(d.history),
        "reason": d.reason,
        "version": d.version,
    }
