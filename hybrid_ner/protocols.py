"""The narrow seams between components. Concrete classes are registered by versioned name and chosen by settings.

Other seams live beside their implementations: ``Router`` (``hybrid_ner.routing``), ``LLMBackend``
(``hybrid_ner.llm.backend``), ``CandidateGenerator`` and ``Reranker`` (``linking``), ``KBStore`` (``kb.store``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from hybrid_ner.datamodel import Entity
from hybrid_ner.errors import ModelUnavailableError
from hybrid_ner.text import Sentence


@runtime_checkable
class Extractor(Protocol):
    """Finds entities in texts; offsets index each original text."""

    name: str

    @property
    def labels(self) -> list[str]:
        """The entity labels this extractor can produce."""
        ...

    def extract(self, texts: Sequence[str], sentences: Sequence[list[Sentence]] | None = None) -> list[list[Entity]]:
        """One list of entities per input text, in order. ``sentences``, when given, are the texts already split
        (the pipeline splits once, in its first stage); an extractor that works on sentences uses them."""
        ...


@runtime_checkable
class AsyncExtractor(Extractor, Protocol):
    """An extractor that can also be awaited, e.g. the service's micro-batcher, which gathers concurrent
    requests into one model call. The pipeline's local stage awaits it instead of using a worker thread."""

    async def aextract(
        self, texts: Sequence[str], sentences: Sequence[list[Sentence]] | None = None
    ) -> list[list[Entity]]: ...


class Unavailable:
    """Stands in for a local model that could not be loaded (or is not needed): calling it raises the reason as a
    typed error, which the local stage turns into a degraded result with the rules fallback."""

    name = "extractor.unavailable"
    version = "none"
    labels: list[str] = []  # noqa: RUF012  (read-only, like a model's labels)

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def extract(self, texts: Sequence[str], sentences: Sequence[list[Sentence]] | None = None) -> list[list[Entity]]:
        raise ModelUnavailableError(self.reason)
