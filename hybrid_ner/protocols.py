"""The narrow seams between components. Concrete classes are registered by name."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from hybrid_ner.datamodel import Entity


@runtime_checkable
class Extractor(Protocol):
    """Finds entities in texts; offsets index each original text."""

    name: str

    @property
    def labels(self) -> list[str]:
        """The entity labels this extractor can produce."""
        ...

    def extract(self, texts: Sequence[str]) -> list[list[Entity]]:
        """One list of entities per input text, in order."""
        ...
