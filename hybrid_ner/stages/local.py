"""Stage 2: the local model over all texts of the batch, awaited through the micro-batcher when there is one."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from hybrid_ner.errors import HybridNERError
from hybrid_ner.protocols import AsyncExtractor
from hybrid_ner.stages.doc import Doc, Request, StageFailure

log = logging.getLogger(__name__)


async def local(docs: Sequence[Doc], request: Request) -> None:
    """Fill ``doc.local`` with the request's local model; when it cannot run, record why and leave the rest to the
    fallback."""
    if not docs or not request.router.needs_local(request.schema):
        return
    extractor = request.extractor
    texts = [d.text for d in docs]
    sentences = [d.sentences for d in docs]  # split once, in the chunk stage
    try:
        if isinstance(extractor, AsyncExtractor):
            found = await extractor.aextract(texts, sentences)
        else:
            found = await asyncio.to_thread(extractor.extract, texts, sentences)
    except (HybridNERError, ImportError, OSError) as exc:
        log.error("local NER unavailable: %s", type(exc).__name__)
        failure = StageFailure("local", "local_model_unavailable", str(exc))
        for doc in docs:
            doc.local_error = failure
        return
    for doc, entities in zip(docs, found, strict=True):
        doc.local = entities
