"""Stage 1: split each text into sentences once; every later stage reuses them."""

from __future__ import annotations

from collections.abc import Sequence

from hybrid_ner.stages.doc import Doc
from hybrid_ner.text import split_sentences


def chunk(texts: Sequence[str]) -> list[Doc]:
    return [Doc(text, split_sentences(text)) for text in texts]
