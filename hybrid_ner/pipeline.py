"""The Python API: ``Pipeline(schema=..., strategy=...).extract(texts)``, shared by the CLI, the service and the
batch jobs. ``aextract`` reads as the request's path; the stages live in ``hybrid_ner.stages``."""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import time
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy.exc import SQLAlchemyError

from hybrid_ner import stages
from hybrid_ner.cache import ResultCache
from hybrid_ner.components import Components, Wrap
from hybrid_ner.config import Settings, get_settings
from hybrid_ner.datamodel import Decision, Entity, Result, Source, Span
from hybrid_ner.errors import HybridNERError
from hybrid_ner.llm.prompting import prompt_version
from hybrid_ner.model_registry import ModelRef
from hybrid_ner.protocols import Extractor, Unavailable
from hybrid_ner.rollout.deployments import Deployment
from hybrid_ner.rollout.observation import Observation
from hybrid_ner.routing import Granularity, Router, get_router
from hybrid_ner.schemas import Schema, SchemaStore, default_schema, resolve_schema
from hybrid_ner.stages.link import LINK_FAILURES
from kb.meta import KBState

if TYPE_CHECKING:
    from hybrid_ner.llm.extractor import LLMExtractor
    from linking.resolver import Resolver

T = TypeVar("T")
SpanIn = tuple[int, int, str | None]  # (start, end, label or None)
ModelChoice = str | Path | None  # a registered or shipped model's name, a model directory, or None (the default)


class Pipeline:
    """Text in, :class:`Result` out. Holds loaded components, so repeated calls are cheap.

    ``schema`` is a :class:`Schema`, the name of a stored schema, or ``None`` for the
    default; ``strategy`` is a router name (``local``, ``llm``, ``cascade``, ``schema``,
    ``rules`` or a registered ``router.*.v1``); ``model`` picks the local model (a registered or shipped
    name, or a model directory) over the one the schema names and the default. All can be overridden per call.
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
        cache: ResultCache | None = None,
        model: ModelChoice = None,
        wrap: Wrap | None = None,
        observe: Callable[[Observation], None] | None = None,
        components: Components | None = None,
    ) -> None:
        self.settings = settings or get_settings()
        self.schema = schema
        self.strategy = strategy or self.settings.strategy
        self.model = model
        get_router(self.strategy)  # fail now on an unknown strategy, listing the valid ones
        self.components = components or Components(
            self.settings, extractor=extractor, llm=llm, schemas=store, resolver=resolver, wrap=wrap
        )
        parts = self.components
        self.policy = stages.Policy(lambda: parts.overrides, lambda: parts.kb)
        self.stages = stages.build(lambda: parts.llm, self._llm_model, parts.resolver, self.policy.apply)
        self.cache = cache
        self.observe = observe

    def serving(self, *, cache: ResultCache | None, observe: Callable[[Observation], None] | None) -> Pipeline:
        """A pipeline over the same parts with a result cache and a rollout monitor (what the service serves
        with): built new, so nothing is changed under a caller who holds this one."""
        return Pipeline(self.schema, self.strategy, settings=self.settings, model=self.model, cache=cache,
                        observe=observe, components=self.components)  # fmt: skip

    def resolve_schema(self, schema: Schema | str | None = None, version: int | None = None) -> Schema:
        """The schema object for a request: given, stored by name (and version), or the default."""
        chosen = schema if schema is not None else self.schema
        return resolve_schema(lambda: self.components.schemas, chosen, self.settings.schema_name, version)

    # ---------------------------------------------------------------- the request's path

    def extract(
        self,
        texts: str | Sequence[str],
        *,
        schema: Schema | str | None = None,
        strategy: str | None = None,
        schema_version: int | None = None,
        link: bool | None = None,
        model: ModelChoice = None,
    ) -> list[Result]:
        """One :class:`Result` per text (a single string counts as a batch of one)."""
        return run_sync(
            self.aextract(
                texts, schema=schema, strategy=strategy, schema_version=schema_version, link=link, model=model
            )
        )

    async def aextract(
        self,
        texts: str | Sequence[str],
        *,
        schema: Schema | str | None = None,
        strategy: str | None = None,
        schema_version: int | None = None,
        link: bool | None = None,
        model: ModelChoice = None,
    ) -> list[Result]:
        """Extract, route, merge; then link (``link``: None = when a KB is loaded) and apply the override list."""
        batch = _texts(texts)
        request = await self._request(schema, schema_version, strategy, link, model)
        if self.observe is None or model is not None or request.deployment is None:
            return await self._serve(batch, request)
        return await self._rolled_out(batch, request, request.deployment)

    async def _serve(self, texts: Sequence[str], request: stages.Request) -> list[Result]:
        if self.cache is None or request.state is None:
            return await self._run(texts, request)
        return await self.cache.through(texts, self._cache_parts(request), lambda todo: self._run(todo, request))

    async def _rolled_out(self, batch: list[str], request: stages.Request, deployment: Deployment) -> list[Result]:
        """The deployment's candidate takes the texts its canary share holds (sticky by text digest); the served
        model the rest. Each group is reported to the rollout monitor with its time."""
        picks = [deployment.takes(t) for t in batch]
        candidate, failure = (None, None)
        if any(picks):
            candidate, failure = await asyncio.to_thread(self._candidate_request, request, deployment)
        observe = self.observe
        assert observe is not None

        async def group(role: str, idx: list[int]) -> tuple[list[int], list[Result]]:
            chosen = candidate if role == "candidate" and candidate is not None else request
            texts = [batch[i] for i in idx]
            started = time.perf_counter()
            out = await self._serve(texts, chosen)
            seconds = time.perf_counter() - started
            lost = failure if role == "candidate" else None
            observe(Observation(request.schema, deployment, role, texts, out, seconds, chosen.extractor, lost))
            return idx, out

        served = [i for i, p in enumerate(picks) if not p]
        taken = [i for i, p in enumerate(picks) if p]
        parts = await asyncio.gather(*(group(r, idx) for r, idx in (("served", served), ("candidate", taken)) if idx))
        results: list[Result] = [Result()] * len(batch)
        for idx, out in parts:
            for i, r in zip(idx, out, strict=True):
                results[i] = r
        return results

    def _candidate_request(
        self, request: stages.Request, deployment: Deployment
    ) -> tuple[stages.Request | None, str | None]:
        """The request as the candidate serves it, or why the candidate cannot be loaded here."""
        assert deployment.candidate is not None
        try:
            extractor = self.resolve_model(deployment.candidate, request.schema, request.state)
        except (HybridNERError, ImportError, OSError, SQLAlchemyError) as exc:
            return None, f"{type(exc).__name__}: {exc}"
        schema = request.schema.for_model(list(getattr(extractor, "type_labels", [])))
        return dataclasses.replace(request, extractor=extractor, schema=schema), None

    async def alocal(self, texts: Sequence[str], schema: Schema, model: str | None) -> list[Result]:
        """The local model's entities alone (``model``: a registered name, or None for what serves ``schema``):
        what a rollout compares two models on, off the request path. No cache, no LLM, no links."""
        request = await self._request(schema, None, "local", False, model)
        return await self._run(texts, request)

    async def _run(self, texts: Sequence[str], request: stages.Request) -> list[Result]:
        path, docs = self.stages, stages.chunk(texts)
        await path.local(docs, request)
        path.route(docs, request)
        await path.llm(docs, request)
        path.merge(docs, request)
        await path.link(docs, request)
        path.policy(docs, request)
        return [doc.result() for doc in docs]

    async def alink(self, items: Sequence[tuple[str, Sequence[SpanIn]]]) -> list[list[Entity]]:
        """Given spans, linked and passed through the override list: one entity list per (text, spans) item.
        A span the override list drops is left out; each entity keeps its offsets."""
        # Given spans need no schema: the built-in one fills the request without a read of the schema store.
        request = await self._request(default_schema(), None, "rules", True)  # given spans need no local model
        request = dataclasses.replace(request, spans_given=True)
        docs = [
            stages.Doc(text, [], entities=[_given(text, s, e, lab) for s, e, lab in spans]) for text, spans in items
        ]
        await self.stages.link(docs, request)
        self.stages.policy(docs, request)
        return [doc.entities for doc in docs]

    async def _request(
        self,
        schema: Schema | str | None,
        version: int | None,
        strategy: str | None,
        link: bool | None,
        model: ModelChoice = None,
    ) -> stages.Request:
        """Everything the stages need, resolved in one trip to a worker thread (the reads block on the database)."""
        router = get_router(strategy or self.strategy)
        return await asyncio.to_thread(self._resolve, schema, version, router, link, model)

    def _resolve(
        self, schema: Schema | str | None, version: int | None, router: Router, link: bool | None, model: ModelChoice
    ) -> stages.Request:
        the_schema = self.resolve_schema(schema, version)
        state = self._state()
        deployment = self._deployment(the_schema.name, state)
        served = deployment.served if deployment is not None else None
        extractor = self._local_model(router, the_schema, model or served, state)
        return stages.Request(
            schema=the_schema.for_model(list(getattr(extractor, "type_labels", []))),
            router=router,
            link=link,
            threshold=self.settings.ner_threshold,
            granularity=Granularity(self.settings.granularity),
            llm_score=self.settings.llm_score,
            state=state,
            extractor=extractor,
            deployment=deployment,
        )

    def _deployment(self, schema: str, state: KBState | None) -> Deployment | None:
        """The schema's rollout state at this model version (read once per version and worker)."""
        if state is None:
            return None
        try:
            return self.components.deployment(schema, state.model_version)
        except SQLAlchemyError:
            return None

    def resolve_model(
        self, model: ModelChoice = None, schema: Schema | None = None, state: KBState | None = None
    ) -> Extractor:
        """The local model a call uses: ``model``, else the pipeline's, else the one the schema names, else the
        default. An unknown name raises :class:`~hybrid_ner.model_registry.ModelNotFoundError`."""
        state = state or self._state()
        chosen = model or self.model
        version = state.model_version if state else 0
        if chosen is not None:
            return self.components.extractor_for(self.components.model_ref(chosen, version))
        if schema is not None and schema.model is not None:
            ref = self.components.model_ref(schema.model, version, directories=False)
            return self.components.extractor_for(ref)
        return self.components.extractor

    def model_ref(self, schema: Schema) -> ModelRef | None:
        """What serves ``schema`` without loading it: the pipeline's model, the deployment's served model, the
        schema's own, or ``None`` for the default."""
        state = self._state()
        deployment = self._deployment(schema.name, state)
        chosen = self.model or (deployment.served if deployment is not None else None)
        version = state.model_version if state else 0
        if chosen is not None:
            return self.components.model_ref(chosen, version)
        if schema.model is not None:
            return self.components.model_ref(schema.model, version, directories=False)
        return None

    def _local_model(self, router: Router, schema: Schema, model: ModelChoice, state: KBState | None) -> Extractor:
        """The request's local model; one that cannot be loaded degrades the request to the rules fallback."""
        if not router.needs_local(schema):
            return Unavailable("not needed")
        try:
            return self.resolve_model(model, schema, state)
        except (HybridNERError, ImportError, OSError, SQLAlchemyError) as exc:
            return Unavailable(str(exc))

    def _state(self) -> KBState | None:
        try:
            return self.components.state()
        except SQLAlchemyError:
            return None  # the stages degrade: no links, and the last override list read (if any)

    def _cache_parts(self, request: stages.Request) -> list[str]:
        """Everything but the text that a result depends on (see ``hybrid_ner.cache``)."""
        state = request.state
        assert state is not None
        extractor = request.extractor
        return [
            request.schema.name,
            request.schema.content_hash(),
            request.router.name,
            str(getattr(extractor, "version", extractor.name)),
            self.settings.llm_model,
            prompt_version(),
            request.granularity.value,
            str(request.threshold),
            str(request.link),
            state.database_id,
            str(state.kb_version if request.link is not False else "-"),
            self._linker_version(state) if request.link is not False else "-",
            str(state.override_version),
        ]

    def _linker_version(self, state: KBState) -> str:
        """The linker's settings and readiness; a linker that cannot be built degrades the result, which is not
        cached, so any string does there."""
        try:
            linker = self.components.resolver(state)
        except LINK_FAILURES:
            return "unavailable"
        return linker.version() if linker is not None else "no_kb"

    def _llm_model(self) -> str | None:
        llm = self.components.built("llm")
        return llm.client.model if llm is not None else None


def _texts(texts: str | Sequence[str]) -> list[str]:
    batch = [texts] if isinstance(texts, str) else list(texts)
    for i, t in enumerate(batch):
        if not isinstance(t, str):
            raise TypeError(f"text {i} is {type(t).__name__}, expected str")
    return batch


def _given(text: str, start: int, end: int, label: str | None) -> Entity:
    """A caller's span as an entity, so linking and the override list treat it like an extracted one."""
    return Entity(
        span=Span.from_text(text, start, end, label or ""),
        score=1.0,
        source=Source.GIVEN,
        decision=Decision(routed="given", reason="span given by the caller"),
    )


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine from synchronous code, also when the caller is itself inside an event loop.

    The result comes back in a box, not as the main task's result: on its way out ``asyncio.run`` looks up its
    SIGINT handler, and Python formats that handler, its main task and so the task's whole result for an error
    message it then drops (about 3 ms for one news article's linked entities)."""
    box: list[T] = []

    async def main() -> None:
        box.append(await coro)

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(main())
    else:
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            pool.submit(asyncio.run, main()).result()
    return box[0]
