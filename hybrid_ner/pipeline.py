"""The Python API: ``Pipeline().extract(texts)``, shared by the CLI and the service."""

from __future__ import annotations

from collections.abc import Sequence

from hybrid_ner.config import Settings, get_settings
from hybrid_ner.datamodel import Result
from hybrid_ner.protocols import Extractor
from hybrid_ner.registry import extractors


def build_extractor(settings: Settings) -> Extractor:
    """Build the extractor named in settings from the registry."""
    import hybrid_ner.ner.extractor  # noqa: F401  (registers the local extractor)

    return extractors.get(settings.extractor)(settings)


class Pipeline:
    """Text in, :class:`Result` out; holds the loaded components so repeated calls are cheap."""

    def __init__(self, settings: Settings | None = None, extractor: Extractor | None = None) -> None:
        self.settings = settings or get_settings()
        self.extractor = extractor or build_extractor(self.settings)

    def extract(self, texts: str | Sequence[str]) -> list[Result]:
        """One :class:`Result` per text (a single string counts as a batch of one)."""
        batch = [texts] if isinstance(texts, str) else list(texts)
        for i, t in enumerate(batch):
            if not isinstance(t, str):
                raise TypeError(f"text {i} is {type(t).__name__}, expected str")
        return [Result(entities=ents) for ents in self.extractor.extract(batch)]
