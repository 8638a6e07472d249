"""What the routes share: settings, the pipeline (with its result cache), keys, metrics and the micro-batcher."""

from __future__ import annotations

import logging

from fastapi import Request

from hybrid_ner.cache import ResultCache
from hybrid_ner.config import Settings
from hybrid_ner.errors import HybridNERError
from hybrid_ner.pipeline import Pipeline
from hybrid_ner.protocols import Extractor
from hybrid_ner.service.auth import HEADER, KeyRing
from hybrid_ner.service.batching import MicroBatcher
from hybrid_ner.service.metrics import Metrics

log = logging.getLogger("hybrid_ner.service")


class Service:
    def __init__(self, settings: Settings, pipeline: Pipeline | None) -> None:
        self.settings = settings
        self.metrics = Metrics()
        self.pipeline = pipeline or Pipeline(settings=settings)
        if self.pipeline.cache is None and settings.cache_size:
            self.pipeline.cache = ResultCache(
                settings.cache_size,
                settings.cache_ttl_s,
                on_lookup=lambda hit: self.metrics.cache.labels("hit" if hit else "miss").inc(),
            )
        self.keys = KeyRing(settings)
        self.batcher: MicroBatcher | None = None
        self.model_error: str | None = None
        self.pipeline.components.wrap_extractors(self._batched)  # every local model, the default and adapted ones

    def _batched(self, extractor: Extractor) -> Extractor:
        if isinstance(extractor, MicroBatcher):
            return extractor
        return MicroBatcher(
            extractor, self.settings.batch_window_ms, self.settings.max_batch, on_batch=self.metrics.batch_size.observe
        )

    def load_model(self) -> None:
        """Load the default local model behind its micro-batcher; a failure leaves the service up but not ready."""
        try:
            extractor = self.pipeline.extractor
        except (HybridNERError, ImportError, OSError) as exc:
            self.model_error = f"{type(exc).__name__}: {exc}"
            log.error("model_load_failed", extra={"fields": {"error": type(exc).__name__}})
            return
        extractor.extract(["Warm-up sentence for Berlin."])  # first-call allocations happen now, not in a request
        assert isinstance(extractor, MicroBatcher)
        self.batcher = extractor

    async def close(self) -> None:
        for extractor in self.pipeline.components.extractors():
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
