"""LLM extraction over regions of a text: chunk, prompt, call concurrently, ground, and account."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field

from hybrid_ner.llm.backend import LLMBackend
from hybrid_ner.llm.client import LLMError, ResponseCache, Usage
from hybrid_ner.llm.grounding import Grounded, GroundingStats, ground
from hybrid_ner.llm.prompting import build_messages, prompt_version, response_model
from hybrid_ner.schemas import Schema

CHUNK_CHARS = 1500


@dataclass
class Region:
    """A character range of one text to send to the LLM, for some labels."""

    text_index: int
    start: int
    end: int
    labels: tuple[str, ...]


@dataclass
class RegionResult:
    """What the LLM gave for one region, with its own accounting."""

    region: Region
    spans: list[Grounded] = field(default_factory=list)
    error: str | None = None  # a short reason code when the LLM failed for (part of) this region
    grounding: GroundingStats = field(default_factory=GroundingStats)
    usage: Usage = field(default_factory=lambda: Usage(cost_usd=0.0))
    calls: int = 0
    cache_hits: int = 0

    def account(self, stats: GroundingStats, usage: Usage, cached: bool) -> None:
        self.grounding.add(stats)
        self.calls += 0 if cached else 1
        self.cache_hits += 1 if cached else 0
        self.usage.prompt_tokens += usage.prompt_tokens
        self.usage.completion_tokens += usage.completion_tokens
        if cached:
            return
        if usage.cost_usd is None or self.usage.cost_usd is None:
            self.usage.cost_usd = None  # at least one call had no known price
        else:
            self.usage.cost_usd += usage.cost_usd


def chunk(text: str, start: int, end: int, size: int = CHUNK_CHARS) -> list[tuple[int, int]]:
    """Split ``text[start:end]`` into pieces of at most ``size`` chars at sentence ends or spaces."""
    pieces: list[tuple[int, int]] = []
    while end - start > size:
        window = text[start : start + size]
        cut = max(window.rfind(". "), window.rfind("\n"))
        if cut < size // 3:
            cut = window.rfind(" ")
        cut = cut + 1 if cut > 0 else size
        pieces.append((start, start + cut))
        start += cut
    if end > start:
        pieces.append((start, end))
    return pieces


class LLMExtractor:
    """Finds entities of the requested schema types in text regions with a structured-output LLM."""

    name = "extractor.llm.v1"

    def __init__(self, client: LLMBackend) -> None:
        self.client = client

    async def run(self, texts: Sequence[str], regions: Sequence[Region], schema: Schema) -> list[RegionResult]:
        """One result per region; chunks of all regions are called concurrently (bounded by the client)."""
        results = [RegionResult(r) for r in regions]
        jobs = [
            (res, s, e)
            for res in results
            for s, e in chunk(texts[res.region.text_index], res.region.start, res.region.end)
            if texts[res.region.text_index][s:e].strip()
        ]
        outcomes = await asyncio.gather(
            *(self._chunk(texts[res.region.text_index], res.region, s, e, schema) for res, s, e in jobs)
        )
        for (res, _, _), (spans, stats, usage, cached, error) in zip(jobs, outcomes, strict=True):
            res.spans.extend(spans)
            res.error = res.error or error
            res.account(stats, usage, cached)
        return results

    async def _chunk(
        self, text: str, region: Region, start: int, end: int, schema: Schema
    ) -> tuple[list[Grounded], GroundingStats, Usage, bool, str | None]:
        piece = text[start:end]
        labels = sorted(region.labels)
        key = ResponseCache.key(self.client.model, prompt_version(), schema.content_hash(), ",".join(labels), piece)
        try:
            result = await self.client.complete(
                build_messages(schema, piece, labels), response_model(tuple(labels)), cache_key=key
            )
        except LLMError as exc:
            return [], GroundingStats(), Usage(), False, exc.reason
        items = [(m.text, m.label) for m in result.parsed.entities]  # type: ignore[attr-defined]
        spans, stats = ground(piece, items, set(labels))
        shifted = [Grounded(g.start + start, g.end + start, g.label, g.method) for g in spans]
        return shifted, stats, result.usage, result.cached, None
