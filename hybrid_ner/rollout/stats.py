"""Counts a rollout is judged by, kept per worker in memory, flushed to SQL, summed over workers.

A :class:`Counts` is mergeable (sums and a fixed-bucket latency histogram), so what one worker saw and what all
of them saw are computed the same way, and a p95 over every worker is exact to a bucket (12.5% wide).
"""

from __future__ import annotations

import bisect
import os
import socket
from dataclasses import asdict, dataclass, field
from typing import Any

from hybrid_ner.rollout.deployments import Deployment, Mode

EDGES_MS = [0.5 * 1.125**i for i in range(110)]  # 0.5 ms to ~210 s
MAX_FAILURES = 5
WORKER = f"{socket.gethostname()}:{os.getpid()}"


@dataclass
class Counts:
    requests: int = 0
    errors: int = 0
    entities: int = 0
    score_sum: float = 0.0
    agree_sum: float = 0.0
    agree_n: int = 0
    dropped: int = 0
    latency: list[int] = field(default_factory=lambda: [0] * (len(EDGES_MS) + 1))
    failures: list[str] = field(default_factory=list)

    def served(self, texts: int, seconds: float, errors: int, scores: list[float]) -> None:
        self.requests += texts
        self.errors += errors
        self.entities += len(scores)
        self.score_sum += sum(scores)
        self.latency[bisect.bisect_left(EDGES_MS, seconds * 1000.0)] += texts

    def failed(self, reason: str) -> None:
        if reason not in self.failures and len(self.failures) < MAX_FAILURES:
            self.failures.append(reason)

    def add(self, other: Counts) -> Counts:
        return Counts(
            requests=self.requests + other.requests,
            errors=self.errors + other.errors,
            entities=self.entities + other.entities,
            score_sum=self.score_sum + other.score_sum,
            agree_sum=self.agree_sum + other.agree_sum,
            agree_n=self.agree_n + other.agree_n,
            dropped=self.dropped + other.dropped,
            latency=[a + b for a, b in zip(self.latency, other.latency, strict=True)],
            failures=(self.failures + [f for f in other.failures if f not in self.failures])[:MAX_FAILURES],
        )

    def quantile_ms(self, q: float) -> float | None:
        total = sum(self.latency)
        if not total:
            return None
        rank, seen = q * total, 0
        for i, n in enumerate(self.latency):
            seen += n
            if seen >= rank and n:
                return EDGES_MS[min(i, len(EDGES_MS) - 1)]
        return EDGES_MS[-1]

    @property
    def error_rate(self) -> float:
        return self.errors / self.requests if self.requests else 0.0

    @property
    def agreement(self) -> float | None:
        return self.agree_sum / self.agree_n if self.agree_n else None

    def report(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "errors": self.errors,
            "error_rate": round(self.error_rate, 4),
            "entities_per_text": round(self.entities / self.requests, 3) if self.requests else None,
            "mean_score": round(self.score_sum / self.entities, 4) if self.entities else None,
            "agreement": None if self.agreement is None else round(self.agreement, 4),
            "compared": self.agree_n,
            "dropped": self.dropped,
            "p50_ms": self.quantile_ms(0.5),
            "p95_ms": self.quantile_ms(0.95),
            "failures": self.failures,
        }

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Counts:
        counts = cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})
        if len(counts.latency) != len(EDGES_MS) + 1:  # written under other buckets: keep the counts, not the times
            counts.latency = [0] * (len(EDGES_MS) + 1)
        return counts


@dataclass(frozen=True)
class Verdict:
    """What the counts say about a canary step: ``advance``, ``complete`` (held at 100%), ``rollback`` or
    ``wait``, and why."""

    action: str
    reason: str


def judge(deployment: Deployment, candidate: Counts) -> Verdict:
    """The canary's next move from its counts over every worker at this step."""
    if deployment.mode != Mode.CANARY:
        return Verdict("wait", "no canary")
    if candidate.failures:
        return Verdict("rollback", f"candidate failed on a worker: {candidate.failures[0]}")
    g, n = deployment.guards, deployment.min_requests
    if candidate.requests < n:
        return Verdict("wait", f"{candidate.requests} of {n} requests at {deployment.share:.0%}")
    if candidate.error_rate > g.max_error_rate:
        return Verdict("rollback", f"error rate {candidate.error_rate:.3f} > {g.max_error_rate}")
    p95 = candidate.quantile_ms(0.95)
    if g.max_p95_ms is not None and p95 is not None and p95 > g.max_p95_ms:
        return Verdict("rollback", f"p95 {p95:.1f} ms > {g.max_p95_ms} ms")
    if candidate.agree_n < min(n, 20):
        return Verdict("wait", f"agreement measured on {candidate.agree_n} texts, waiting for {min(n, 20)}")
    agreement = candidate.agreement or 0.0
    if agreement < g.min_agreement:
        return Verdict("rollback", f"agreement {agreement:.3f} < {g.min_agreement}")
    held = f"guards held over {candidate.requests} requests (agreement {agreement:.3f})"
    if deployment.last_step:
        return Verdict("complete", f"{held}; serving 100%, ready to promote")
    return Verdict("advance", f"{held} at {deployment.share:.0%}")
