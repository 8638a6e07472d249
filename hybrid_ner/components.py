"""The pipeline's parts, each built from settings by its registered name, once, on first use.

Tests and the service can hand in their own parts (a fake LLM, the micro-batcher); everything else is built
lazily, so a CLI call that never links never loads the embedder.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session, sessionmaker

from hybrid_ner.config import MODELS_DIR, Settings
from hybrid_ner.feedback import FeedbackStore
from hybrid_ner.model_registry import ModelRef, ModelStore, overview, resolve
from hybrid_ner.protocols import Extractor
from hybrid_ner.registry import Registry, extractors
from hybrid_ner.rollout.control import Rollouts
from hybrid_ner.rollout.deployments import Deployment, DeploymentStore
from hybrid_ner.rollout.gate import EvalSets
from hybrid_ner.schemas import SchemaStore
from kb.jobs import ImportJobs
from kb.meta import KBState, read_state
from kb.overrides import OverrideStore
from kb.store import KBStore, SQLKBStore

if TYPE_CHECKING:
    from hybrid_ner.llm.extractor import LLMExtractor
    from linking.adjudicate import Judge
    from linking.embedder import Embedder
    from linking.resolver import Resolver

# Factories take a session factory; ``HNER_KB_STORE`` names the one used.
kb_stores: Registry[KBStore] = Registry("KB store")
kb_stores.register(SQLKBStore.name)(SQLKBStore)


def build_extractor(settings: Settings, model: Path | None = None) -> Extractor:
    """The local extractor named by ``HNER_EXTRACTOR``, on ``model`` (default: ``HNER_NER_MODEL``)."""
    import hybrid_ner.ner.extractor  # noqa: F401  (registers the local extractor)

    if model is not None:
        settings = settings.model_copy(update={"ner_model": model})
    return extractors.get(settings.extractor)(settings)


def build_llm(settings: Settings) -> LLMExtractor:
    """LLM extraction over the backend named by ``HNER_LLM_BACKEND``."""
    from hybrid_ner.llm.backend import llm_backends
    from hybrid_ner.llm.extractor import LLMExtractor

    return LLMExtractor(llm_backends.get(settings.llm_backend)(settings))


def build_embedder(settings: Settings) -> Embedder:
    """The linker's encoder named by ``HNER_LINK_ENCODER``; what it derives (an ONNX graph) lives in the data
    directory."""
    from linking.embedder import embedders

    return embedders.get(settings.link_encoder)(cache_dir=settings.encoder_cache or settings.data_dir / "encoders")


def build_resolver(settings: Settings, store: KBStore) -> Resolver:
    """The linker: the candidate generator and reranker named by ``HNER_CANDIDATES`` and ``HNER_RERANKER``, over a
    dense index kept under the data directory and keyed by the database's identity."""
    from linking.candidates import candidate_generators
    from linking.index import DenseIndex
    from linking.rerank import rerankers
    from linking.resolver import Resolver

    embedder = build_embedder(settings)
    index = DenseIndex(store, embedder, settings.data_dir / "index", processes=settings.index_processes)
    generator = candidate_generators.get(settings.candidates)(store, index)
    reranker = rerankers.get(settings.reranker)()
    judges = build_judges(settings, reranker.nil_threshold)
    return Resolver(
        store, embedder, index, generator, reranker, judges=judges, nationalities=settings.link_nationalities
    )


def build_judges(settings: Settings, nil_threshold: float) -> list[Judge]:
    """The stages that settle close links, in order: the cross-encoder, then the LLM (each when switched on)."""
    judges: list[Judge] = []
    if settings.link_cross_encoder:
        from linking.adjudicate import CrossCheck
        from linking.cross_encoder import CrossEncoder

        encoder = CrossEncoder()
        encoder.digest  # noqa: B018  (a missing or altered model file fails here, at build, not per request)
        judges.append(
            CrossCheck(encoder, settings.link_cross_margin, settings.link_cross_top, settings.link_cross_weight)
        )
    if settings.link_llm:
        from hybrid_ner.llm.backend import llm_backends
        from hybrid_ner.llm.linking import LLMJudge

        backend = llm_backends.get(settings.llm_backend)(settings)
        judges.append(LLMJudge(backend, nil_threshold, settings.link_llm_margin, settings.link_llm_top))
    return judges


Wrap = Callable[[Extractor], Extractor]


class Components:
    """Holds what the pipeline has built; thread-safe, since the service builds from worker threads.

    Local models other than the default are built on first use and kept by content digest (``extractor_for``),
    so each is loaded once per process whatever name or path it was asked for by; ``wrap`` (the service's
    micro-batcher) is put around every one.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        extractor: Extractor | None = None,
        llm: LLMExtractor | None = None,
        schemas: SchemaStore | None = None,
        resolver: Resolver | None = None,
        wrap: Wrap | None = None,
    ) -> None:
        self.settings = settings
        self._built: dict[str, Any] = {"extractor": extractor, "llm": llm, "schemas": schemas, "resolver": resolver}
        if resolver is not None:
            self._built["kb"] = resolver.store
        self._lock = threading.RLock()
        self._wrap = wrap
        self._models: dict[str, Extractor] = {}  # content digest -> loaded (and wrapped) extractor
        self._refs: dict[tuple[str, int], ModelRef] = {}  # (name or path, model_version) -> what it means
        self._deployed: tuple[int, dict[str, Deployment]] = (-1, {})  # (model_version, schema -> deployment)

    def _get(self, name: str, build: Any) -> Any:
        if self._built.get(name) is None:
            with self._lock:
                if self._built.get(name) is None:
                    self._built[name] = build()
        return self._built[name]

    def built(self, name: str) -> Any:
        """A part if it was built or given, without building it (None otherwise)."""
        return self._built.get(name)

    @property
    def extractor(self) -> Extractor:
        """The default local model (``HNER_NER_MODEL``)."""
        extractor: Extractor = self._get("extractor", lambda: self._wrapped(build_extractor(self.settings)))
        return extractor

    def wrap_extractors(self, wrap: Wrap) -> None:
        """Put ``wrap`` around the local models, those built already and those to come (the service does this
        once, before it serves)."""
        with self._lock:
            self._wrap = wrap
            if self._built.get("extractor") is not None:
                self._built["extractor"] = wrap(self._built["extractor"])
            self._models = {digest: wrap(e) for digest, e in self._models.items()}

    def extractors(self) -> list[Extractor]:
        """Every local model built so far, the default first."""
        default = self._built.get("extractor")
        return [e for e in [default, *self._models.values()] if e is not None]

    def _wrapped(self, extractor: Extractor) -> Extractor:
        return self._wrap(extractor) if self._wrap is not None else extractor

    @property
    def models(self) -> ModelStore:
        """The model registry (names → content digests, files in SQL)."""
        store: ModelStore = self._get("models", lambda: ModelStore(self.sessions, self.settings.data_dir / "models"))
        return store

    def model_overview(self, default: Extractor | None) -> list[dict[str, Any]]:
        """Registered models and the default one (``default``: its loaded extractor, if it loaded), with the
        schemas each serves: what ``models list`` and ``GET /v1/admin/models`` show."""
        names = sorted(set(self.schemas.names()) | {self.settings.schema_name})
        schema_models = {n: self.schemas.get(n).model for n in names}
        about: dict[str, Any] = {"name": self.settings.ner_model.name, "digest": None, "labels": []}
        if default is not None:
            about |= {"digest": getattr(default, "digest", None), "labels": default.labels}
        rollouts = {d.schema: (d.served, d.candidate, d.mode.value, d.share) for d in self.deployments.all().values()}
        schema_models |= {name: None for name in rollouts if name not in schema_models}
        return overview(self.models.list(), schema_models, about, rollouts)

    def model_ref(self, value: str | Path, model_version: int, *, directories: bool = True) -> ModelRef:
        """A model by registered name, path or shipped name, remembered until the registry changes."""
        key = (str(value), model_version)
        if key not in self._refs:
            ref = resolve(value, self.models, directories=directories)
            with self._lock:
                self._refs = {k: v for k, v in self._refs.items() if k[1] == model_version}
                self._refs[key] = ref
        return self._refs[key]

    def extractor_for(self, ref: ModelRef | None) -> Extractor:
        """The local model ``ref`` names, loaded once per content digest (``None``: the default)."""
        default = self.extractor
        if ref is None or getattr(default, "digest", None) == ref.digest:
            return default
        if ref.digest not in self._models:
            with self._lock:
                if ref.digest not in self._models:
                    self._models[ref.digest] = self._wrapped(build_extractor(self.settings, ref.path))
        return self._models[ref.digest]

    @property
    def deployments(self) -> DeploymentStore:
        """Which model serves each schema, and the rollout beside it."""
        store: DeploymentStore = self._get("deployments", lambda: DeploymentStore(self.sessions))
        return store

    @property
    def rollouts(self) -> Rollouts:
        """Shadow, canary, promotion and rollback over this database."""
        rollouts: Rollouts = self._get(
            "rollouts", lambda: Rollouts(self.deployments, self.models, self.sessions, self.labels_of)
        )
        return rollouts

    @property
    def eval_sets(self) -> EvalSets:
        """The labelled sets each schema's promotion gate scores models on."""
        sets: EvalSets = self._get("eval_sets", lambda: EvalSets(self.sessions))
        return sets

    def labels_of(self, name: str | None) -> list[str]:
        """A model's entity labels without loading it: registered, shipped, or (``None``) the default."""
        from hybrid_ner.ner.model import load_config

        for entry in self.models.list() if name is not None else []:
            if entry["name"] == name:
                return list(entry["labels"])
        config = load_config(self.settings.ner_model if name is None else MODELS_DIR / name)
        return sorted({lab[2:] for lab in config.labels if lab != "O"})

    def deployment(self, schema: str, model_version: int) -> Deployment:
        """A schema's deployment, read once per ``model_version`` (every change bumps it)."""
        version, known = self._deployed
        if version != model_version:
            known = self.deployments.all()
            self._deployed = (model_version, known)
        return known.get(schema) or Deployment(schema=schema)

    @property
    def llm(self) -> LLMExtractor:
        llm: LLMExtractor = self._get("llm", lambda: build_llm(self.settings))
        return llm

    @property
    def sessions(self) -> sessionmaker[Session]:
        """Sessions on the configured database, migrated on first use."""

        def open_sessions() -> sessionmaker[Session]:
            from kb.db import open_db

            return open_db(self.settings.database_url)[1]

        sessions: sessionmaker[Session] = self._get("sessions", open_sessions)
        return sessions

    @property
    def schemas(self) -> SchemaStore:
        store: SchemaStore = self._get("schemas", lambda: SchemaStore(self.sessions))
        return store

    @property
    def kb(self) -> KBStore:
        store: KBStore = self._get("kb", lambda: kb_stores.get(self.settings.kb_store)(self.sessions))
        return store

    @property
    def overrides(self) -> OverrideStore:
        store: OverrideStore = self._get("overrides", lambda: OverrideStore(self.sessions))
        return store

    @property
    def feedback(self) -> FeedbackStore:
        """Users' corrections (training data), audited."""
        store: FeedbackStore = self._get("feedback", lambda: FeedbackStore(self.sessions, self.kb))
        return store

    @property
    def jobs(self) -> ImportJobs:
        jobs: ImportJobs = self._get("jobs", lambda: ImportJobs(self.sessions, self.kb))
        return jobs

    def state(self) -> KBState:
        """The database's identity and its KB and override versions (one query)."""
        return read_state(self.sessions)

    def warm_linker(self) -> None:
        """Start loading or building the dense index in the background (the service does this at start-up when
        the KB holds anything), so the first request links by name instead of waiting for the build."""
        if self.state().kb_version == 0:
            return
        resolver = self.resolver(self.state())
        if resolver is not None and not resolver.index.ready:
            resolver.index.warm_in_background()

    def resolver(self, state: KBState) -> Resolver | None:
        """The linker, once anything was ever written to the KB (``None`` before)."""
        if self._built.get("resolver") is None and state.kb_version == 0:
            return None
        resolver: Resolver = self._get("resolver", lambda: build_resolver(self.settings, self.kb))
        return resolver
