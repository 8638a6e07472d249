"""Stage 6: link every entity of the batch to the KB in one call (when asked, or when a KB is loaded)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from sqlalchemy.exc import SQLAlchemyError

from hybrid_ner.datamodel import Link, LinkDecision
from hybrid_ner.errors import HybridNERError
from hybrid_ner.stages.doc import Doc, Request
from kb.meta import KBState

if TYPE_CHECKING:
    from linking.resolver import Resolver

log = logging.getLogger(__name__)
# What a linker that cannot run raises: the database, the index files, the embedder package, FAISS.
LINK_FAILURES = (SQLAlchemyError, OSError, ImportError, RuntimeError, ValueError, HybridNERError)


async def link(docs: Sequence[Doc], request: Request, resolver: Callable[[KBState], Resolver | None]) -> None:
    """Set ``entity.link``. ``request.link`` True: every entity gets one (NIL when nothing fits or no KB is
    loaded); None: only when a KB is loaded; False: none. A linker that fails leaves NIL links and says why."""
    if request.link is False or not any(d.entities for d in docs):
        return
    items = [(d.text, [(e.span.start, e.span.end, e.span.label) for e in d.entities]) for d in docs]
    reason = "no_kb"
    try:
        linker = resolver(request.state) if request.state is not None else None
        detected = not request.spans_given  # spans the NER found: NIL by the reranker's threshold for those
        links = await asyncio.to_thread(linker.link, items, detected) if linker is not None else None
    except LINK_FAILURES as exc:
        log.error("linking unavailable: %s", type(exc).__name__)
        reason = "linking_unavailable"
        for doc in docs:
            doc.degraded.append(f"linking_unavailable: {type(exc).__name__}")
        links = None
    if links is None and not request.link:
        return
    why = LinkDecision(stage="none", reason=reason)
    for i, doc in enumerate(docs):
        found = links[i] if links is not None else [Link(decision=why) for _ in doc.entities]
        doc.entities = [e.model_copy(update={"link": lk}) for e, lk in zip(doc.entities, found, strict=True)]
