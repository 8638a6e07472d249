"""Stage 3: the router decides, per text, what the local model keeps and what to ask the LLM."""

from __future__ import annotations

from collections.abc import Sequence

from hybrid_ner.routing import RoutingPlan
from hybrid_ner.stages.doc import Doc, Request


def route(docs: Sequence[Doc], request: Request) -> None:
    for doc in docs:
        if doc.local_error is not None:  # no local model: everything falls back to the schema's rules
            doc.degraded.append(str(doc.local_error))
            doc.plan = RoutingPlan(use_rules=True, rules_reason="fallback: " + doc.local_error.code)
        else:
            doc.plan = request.router.route(doc.bounds, doc.local, request.schema, request.threshold)
