"""What the routes share: settings, the pipeline (with its result cache), keys, metrics and the micro-batcher."""

from __future__ import annotations

import logging

from fastapi import Request
from sqlalchemy.exc import SQLAlchemyError

from hybrid_ner.cache import ResultCache
from hybrid_ner.config import Settings
from hybrid_ner.errors import HybridNERError
from hybrid_ner.pipeline import Pipeline
from hybrid_ner.protocols import Extractor
from hybrid_ner.service.auth import HEADER, KeyRing
from hybrid_ner.service.batching import MicroBatcher
from hybrid_ner.service.metrics import Metrics
from hybrid_ner.service.rollout import RolloutMonitor

log = logging.getLogger("hybrid_ner.service")


class Service:
    """What one worker serves with. The pipeline is built here with its cache and rollout monitor, never changed
    after: a pipeline handed in (tests) keeps its parts, and the service serves a new one over them."""

    def __init__(self, settings: Settings, pipeline: Pipeline | None) -> None:
        self.settings = settings
        self.metrics = Metrics()
        given = pipeline or Pipeline(settings=settings)
        cache = given.cache
        if cache is None and settings.cache_size:
            cache = ResultCache(
                settings.cache_size,
                settings.cache_ttl_s,
                on_lookup=lambda hit: self.metrics.cache.labels("hit" if hit else "miss").inc(),
            )
        self.components = components = given.components  # the one container this worker owns
        self.rollout = RolloutMonitor(settings, lambda: components.rollouts, given.alocal, self.metrics)
        self.pipeline = given.serving(cache=cache, observe=self.rollout.record)
        self.keys = KeyRing(settings)
        self.batcher: MicroBatcher | None = None
        self.model_error: str | None = None
        self.components.wrap_extractors(self._batched)  # every local model, the default and adapted ones

    def _batched(self, extractor: Extractor) -> Extractor:
        if isinstance(extractor, MicroBatcher):
            return extractor
        return MicroBatcher(
            extractor, self.settings.batch_window_ms, self.settings.max_batch, on_batch=self.metrics.batch_size.observe
        )

    def load_model(self) -> None:
        """Load the default local model behind its micro-batcher; a failure leaves the service up but not ready."""
        try:
            extractor = self.components.extractor
        except (HybridNERError, ImportError, OSError) as exc:
            self.model_error = f"{type(exc).__name__}: {exc}"
            log.error("model_load_failed", extra={"fields": {"error": type(exc).__name__}})
            return
        extractor.extract(["Warm-up sentence for Berlin."])  # first-call allocations happen now, not in a request
        assert isinstance(extractor, MicroBatcher)
        self.batcher = extractor

    def warm_linker(self) -> None:
        """With ``HNER_INDEX_BACKGROUND``, start the dense index's load or build now, in the background; a KB that
        cannot be read leaves linking to fail per request, with its reason."""
        if not self.settings.index_background:
            return
        try:
            self.components.warm_linker()
        except (SQLAlchemyError, OSError, ValueError) as exc:
            log.error("linker_warm_up_failed", extra={"fields": {"error": type(exc).__name__}})

    async def close(self) -> None:
        await self.rollout.stop()
        for extractor in self.components.extractors():
            if isinstance(extractor, MicroBatcher):
                await extractor.close()

    @property
    def model_version(self) -> str:
        return self.batcher.version if self.batcher else "unloaded"


def service(request: Request) -> Service:
    svc: Service = request.app.state.service
    return svc


def actor(request: Request) -> str:
    """Audit name for a writer: a short fingerprint of its key (never the key)."""
    import hashlib

    key = request.headers.get(HEADER, "")
    return "key:" + hashlib.sha256(key.encode()).hexdigest()[:12] if key else "anonymous"
