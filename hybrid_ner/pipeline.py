"""The Python API: ``Pipeline(schema=..., strategy=...).extract(texts)``, shared by the CLI and the service."""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from hybrid_ner.config import Settings, get_settings
from hybrid_ner.datamodel import Decision, Entity, Link, Result, Source, Span
from hybrid_ner.errors import HybridNERError
from hybrid_ner.llm.extractor import LLMExtractor, Region, RegionResult
from hybrid_ner.protocols import Extractor
from hybrid_ner.registry import extractors
from hybrid_ner.routing import Granularity, RoutingPlan, get_router
from hybrid_ner.rules import RulesExtractor
from hybrid_ner.schemas import DEFAULT_SCHEMA, Schema, SchemaError, SchemaStore, default_schema
from hybrid_ner.text import split_sentences
from kb.store import KBStore

if TYPE_CHECKING:
    from linking.resolver import Resolver

log = logging.getLogger(__name__)
FUZZY_DISCOUNT = 0.75


def build_extractor(settings: Settings) -> Extractor:
    """Build the extractor named in settings from the registry."""
    import hybrid_ner.ner.extractor  # noqa: F401  (registers the local extractor)

    return extractors.get(settings.extractor)(settings)


def build_llm(settings: Settings) -> LLMExtractor:
    """The LLM extractor for ``HNER_LLM_MODEL``: the bundled local LLM, or any litellm model string."""
    from hybrid_ner.llm.client import LLMClient, ResponseCache

    common: dict[str, Any] = {
        "timeout_s": settings.llm_timeout_s,
        "retries": settings.llm_retries,
        "concurrency": settings.llm_concurrency,
        "max_tokens": settings.llm_max_tokens,
        "cache": ResponseCache(settings.data_dir / "llm_cache") if settings.llm_cache else None,
    }
    if settings.llm_model == "local":
        from hybrid_ner.llm.local_server import MODEL_ALIAS, shared_local_llm

        local = shared_local_llm(settings.threads)
        # SmolLM2 loops at temperature 0 without a repeat penalty (ENVIRONMENT.md).
        client = LLMClient(
            f"openai/{MODEL_ALIAS}",
            api_key="local",
            endpoint=local.base_url,
            extra_body={"repeat_penalty": 1.15},
            **common,
        )
    else:
        key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else None
        client = LLMClient(settings.llm_model, api_base=settings.llm_api_base, api_key=key, **common)
    return LLMExtractor(client)


@dataclass
class _Doc:
    """Per-text working state while a batch is processed."""

    text: str
    sentences: list[tuple[int, int]]
    local: list[Entity] = field(default_factory=list)
    plan: RoutingPlan = field(default_factory=RoutingPlan)
    degraded: list[str] = field(default_factory=list)


class Pipeline:
    """Text in, :class:`Result` out. Holds loaded components, so repeated calls are cheap.

    ``schema`` is a :class:`Schema`, the name of a stored schema, or ``None`` for the
    default; ``strategy`` is a router name (``local``, ``llm``, ``cascade``, ``schema``,
    ``rules`` or a registered ``router.*.v1``). Both can be overridden per call.
    """

    def __init__(
        self,
        schema: Schema | str | None = None,
        strategy: str | None = None,
        *,
        settings: Settings | None = None,
        extractor: Extractor | None = None,
        llm: LLMExtractor | None = None,
        store: SchemaStore | None = None,
        resolver: Resolver | None = None,
    ) -> None:
        self.settings = settings or get_settings()
        self.schema = schema
        self.strategy = strategy or self.settings.strategy
        get_router(self.strategy)  # fail now on an unknown strategy, listing the valid ones
        self._extractor = extractor
        self._llm = llm
        self._store = store
        self._sessions: sessionmaker[Session] | None = None
        self._resolver = resolver
        self._kb: KBStore | None = resolver.store if resolver else None

    @property
    def extractor(self) -> Extractor:
        if self._extractor is None:
            self._extractor = build_extractor(self.settings)
        return self._extractor

    @extractor.setter
    def extractor(self, extractor: Extractor) -> None:
        """Swap the local extractor, e.g. for the service's micro-batcher wrapping it."""
        self._extractor = extractor

    @property
    def llm(self) -> LLMExtractor:
        if self._llm is None:
            self._llm = build_llm(self.settings)
        return self._llm

    @property
    def sessions(self) -> sessionmaker[Session]:
        """Sessions on the configured database, migrated on first use."""
        if self._sessions is None:
            from kb.db import open_db

            _, self._sessions = open_db(self.settings.database_url)
        return self._sessions

    @property
    def store(self) -> SchemaStore:
        if self._store is None:
            self._store = SchemaStore(self.sessions)
        return self._store

    @property
    def kb(self) -> KBStore:
        if self._kb is None:
            self._kb = KBStore(self.sessions)
        return self._kb

    @property
    def resolver(self) -> Resolver | None:
        """The entity linker, once the KB has entities (``None`` before)."""
        if self._resolver is None and self.kb.count() > 0:
            from linking.resolver import Resolver

            self._resolver = Resolver.open(self.kb, self.settings.data_dir)
        return self._resolver

    async def alink(self, items: Sequence[tuple[str, Sequence[tuple[int, int, str | None]]]]) -> list[list[Link]]:
        """Links for given spans: one list per (text, spans) item; all NIL when no KB is loaded."""
        resolver = self.resolver
        if resolver is None:
            return [[Link() for _ in spans] for _, spans in items]
        return await asyncio.to_thread(resolver.link, items)

    async def _annotate(self, texts: Sequence[str], results: list[Result], link: bool | None) -> None:
        """Link entities (when a KB is loaded, or ``link`` asks), then apply the override list."""
        from linking.overrides import apply_overrides

        resolver = self.resolver if link is not False else None
        rules = await asyncio.to_thread(self.kb.overrides)
        for text, result in zip(texts, results, strict=True):
            entities = result.entities
            if resolver is not None and entities:
                spans = [(e.span.start, e.span.end, e.span.label) for e in entities]
                links = (await asyncio.to_thread(resolver.link, [(text, spans)]))[0]
                entities = [e.model_copy(update={"link": lk}) for e, lk in zip(entities, links, strict=True)]
            elif link:
                entities = [e.model_copy(update={"link": Link()}) for e in entities]
            result.entities = apply_overrides(rules, text, entities) if rules else entities

    def resolve_schema(self, schema: Schema | str | None = None, version: int | None = None) -> Schema:
        """The schema object for a request: given, stored by name (and version), or the default."""
        chosen = schema if schema is not None else self.schema
        if isinstance(chosen, Schema):
            return chosen
        name = chosen or self.settings.schema_name
        try:
            return self.store.get(name, version)
        except SQLAlchemyError as exc:
            if name == DEFAULT_SCHEMA and version is None:
                log.warning("schema store unavailable (%s); using the built-in default schema", type(exc).__name__)
                return default_schema()
            raise SchemaError(f"the schema store is unavailable: {type(exc).__name__}") from exc

    def extract(
        self,
        texts: str | Sequence[str],
        *,
        schema: Schema | str | None = None,
        strategy: str | None = None,
        link: bool | None = None,
    ) -> list[Result]:
        """One :class:`Result` per text (a single string counts as a batch of one)."""
        coro = self.aextract(texts, schema=schema, strategy=strategy, link=link)
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(coro)
        with concurrent.futures.ThreadPoolExecutor(1) as pool:  # called from inside an event loop
            return pool.submit(asyncio.run, coro).result()

    async def aextract(
        self,
        texts: str | Sequence[str],
        *,
        schema: Schema | str | None = None,
        strategy: str | None = None,
        schema_version: int | None = None,
        link: bool | None = None,
    ) -> list[Result]:
        """Extract, route, merge; then link (``link``: None = when a KB is loaded) and apply overrides."""
        batch = [texts] if isinstance(texts, str) else list(texts)
        for i, t in enumerate(batch):
            if not isinstance(t, str):
                raise TypeError(f"text {i} is {type(t).__name__}, expected str")
        the_schema = self.resolve_schema(schema, schema_version)
        router = get_router(strategy or self.strategy)
        docs = [_Doc(t, [(s[0].start, s[-1].end) for s in split_sentences(t)]) for t in batch]
        rules = RulesExtractor(the_schema)

        if router.needs_local(the_schema):
            try:
                batched = getattr(self.extractor, "aextract", None)  # the service's micro-batcher
                local = await batched(batch) if batched else await asyncio.to_thread(self.extractor.extract, batch)
            except (HybridNERError, ImportError, OSError) as exc:
                log.error("local NER unavailable: %s", type(exc).__name__)
                return self._rules_only(docs, rules, f"local_model_unavailable: {exc}")
            for doc, ents in zip(docs, local, strict=True):
                doc.local = ents
        for doc in docs:
            doc.plan = router.route(doc.sentences, doc.local, the_schema, self.settings.ner_threshold)

        regions = [r for i, doc in enumerate(docs) for r in _regions(i, doc.plan)]
        region_results = await self.llm.run(batch, regions, the_schema) if regions else []
        by_doc: dict[int, list[RegionResult]] = {}
        for res in region_results:
            by_doc.setdefault(res.region.text_index, []).append(res)
        results = [self._merge(doc, by_doc.get(i, []), the_schema, rules, router.name) for i, doc in enumerate(docs)]
        await self._annotate(batch, results, link)
        return results

    def _rules_only(self, docs: list[_Doc], rules: RulesExtractor, reason: str) -> list[Result]:
        found = rules.extract([d.text for d in docs], reason="fallback: " + reason.split(":")[0])
        return [Result(entities=ents, degraded=True, degraded_reason=reason) for ents in found]

    def _merge(
        self, doc: _Doc, results: list[RegionResult], schema: Schema, rules: RulesExtractor, strategy: str
    ) -> Result:
        plan = doc.plan
        if plan.use_rules:
            return Result(entities=rules.extract([doc.text])[0])
        granularity = Granularity(self.settings.granularity)
        kept = list(plan.keep)
        llm_entities: list[Entity] = []
        failed: list[RegionResult] = [r for r in results if r.error]
        merge_drops = {"local_conflict": 0, "outside_escalated_spans": 0}
        for res in results:
            for g in res.spans:
                span = Span.from_text(doc.text, g.start, g.end, g.label)
                if _overlaps(span, kept):
                    merge_drops["local_conflict"] += 1  # a confident local entity wins
                    continue
                hit = next((e for e in plan.escalated if _overlaps_one(span, e)), None)
                if g.label in plan.llm_only:
                    why = f"type {g.label} is routed to the LLM"
                elif hit is not None:
                    why = f"replaces escalated local {hit.span.label} (confidence {hit.score:.2f})"
                elif granularity == Granularity.SENTENCE:
                    why = "found by the LLM in an escalated sentence"
                else:
                    merge_drops["outside_escalated_spans"] += 1
                    continue
                score = self.settings.llm_score * (1.0 if g.method != "fuzzy" else FUZZY_DISCOUNT)
                llm_entities.append(
                    Entity(
                        span=span,
                        score=score,
                        source=Source.LLM,
                        decision=Decision(
                            routed="llm",
                            strategy=strategy.split(".")[1],
                            reason=why,
                            grounding=g.method,
                            model=self.llm.client.model,
                        ),
                    )
                )
        # Escalated local entities the LLM could not judge (it failed) stay, marked; those it judged are replaced.
        for e in plan.escalated:
            region_failed = any(r.error and r.region.start <= e.span.start < r.region.end for r in failed)
            if region_failed:
                decision = e.decision.model_copy(update={"routed": "local", "reason": "escalation failed; kept local"})
                kept.append(e.model_copy(update={"decision": decision}))
        entities = kept + [e for e in llm_entities if not _overlaps(e.span, kept)]
        degraded = [f"llm_{r.error}" for r in failed]
        sensitive_failed = {
            t for r in failed for t in r.region.labels if t in plan.llm_only and schema.get_type(t).sensitive
        }
        if sensitive_failed:  # keep policy-sensitive types working without the LLM
            for e in rules.extract([doc.text], only=sensitive_failed, reason="fallback: llm failed")[0]:
                if not _overlaps(e.span, entities):
                    entities.append(e)
        entities.sort(key=lambda e: (e.span.start, e.span.end))
        result = Result(
            entities=entities, degraded=bool(degraded), degraded_reason=", ".join(sorted(set(degraded))) or None
        )
        if results:
            result.llm = _llm_summary(results, len(plan.escalated), merge_drops)
        return result


def _regions(text_index: int, plan: RoutingPlan) -> list[Region]:
    """Consecutive sentences that ask for the same labels become one region (fewer, larger LLM calls)."""
    out: list[Region] = []
    for (start, end), labels in sorted(plan.ask.items()):
        key = tuple(sorted(labels))
        if out and out[-1].labels == key and out[-1].end <= start:
            out[-1] = Region(text_index, out[-1].start, end, key)
        else:
            out.append(Region(text_index, start, end, key))
    return out


def _overlaps_one(span: Span, e: Entity) -> bool:
    return span.start < e.span.end and e.span.start < span.end


def _overlaps(span: Span, entities: Sequence[Entity]) -> bool:
    return any(_overlaps_one(span, e) for e in entities)


def _llm_summary(results: list[RegionResult], escalated: int, merge_drops: dict[str, int]) -> dict[str, Any]:
    g = {k: sum(getattr(r.grounding, k) for r in results) for k in ("returned", "exact", "normalized", "fuzzy")}
    dropped = {k: sum(getattr(r.grounding, k) for r in results) for k in ("unknown_label", "ungrounded", "overlapping")}
    dropped.update(merge_drops)
    costs = [r.usage.cost_usd for r in results]
    return {
        "calls": sum(r.calls for r in results),
        "cache_hits": sum(r.cache_hits for r in results),
        "escalated_spans": escalated,
        "prompt_tokens": sum(r.usage.prompt_tokens for r in results),
        "completion_tokens": sum(r.usage.completion_tokens for r in results),
        "cost_usd": None if any(c is None for c in costs) else sum(c or 0.0 for c in costs),
        "grounding": g,
        "dropped": dropped,
        "errors": sorted({r.error for r in results if r.error}),
    }
