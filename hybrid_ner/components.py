"""The pipeline's parts, each built from settings by its registered name, once, on first use.

Tests and the service can hand in their own parts (a fake LLM, the micro-batcher); everything else is built
lazily, so a CLI call that never links never loads the embedder.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session, sessionmaker

from hybrid_ner.config import Settings
from hybrid_ner.protocols import Extractor
from hybrid_ner.registry import Registry, extractors
from hybrid_ner.schemas import SchemaStore
from kb.jobs import ImportJobs
from kb.meta import KBState, read_state
from kb.overrides import OverrideStore
from kb.store import KBStore, SQLKBStore

if TYPE_CHECKING:
    from hybrid_ner.llm.extractor import LLMExtractor
    from linking.resolver import Resolver

# Factories take a session factory; ``HNER_KB_STORE`` names the one used.
kb_stores: Registry[KBStore] = Registry("KB store")
kb_stores.register(SQLKBStore.name)(SQLKBStore)


def build_extractor(settings: Settings) -> Extractor:
    """The local extractor named by ``HNER_EXTRACTOR``."""
    import hybrid_ner.ner.extractor  # noqa: F401  (registers the local extractor)

    return extractors.get(settings.extractor)(settings)


def build_llm(settings: Settings) -> LLMExtractor:
    """LLM extraction over the backend named by ``HNER_LLM_BACKEND``."""
    from hybrid_ner.llm.backend import llm_backends
    from hybrid_ner.llm.extractor import LLMExtractor

    return LLMExtractor(llm_backends.get(settings.llm_backend)(settings))


def build_resolver(settings: Settings, store: KBStore) -> Resolver:
    """The linker: the candidate generator and reranker named by ``HNER_CANDIDATES`` and ``HNER_RERANKER``, over a
    dense index kept under the data directory and keyed by the database's identity."""
    from linking.candidates import candidate_generators
    from linking.embedder import Embedder
    from linking.index import DenseIndex
    from linking.rerank import rerankers
    from linking.resolver import Resolver

    embedder = Embedder()
    index = DenseIndex(store, embedder, settings.data_dir / "index")
    generator = candidate_generators.get(settings.candidates)(store, index)
    return Resolver(store, embedder, index, generator, rerankers.get(settings.reranker)())


class Components:
    """Holds what the pipeline has built; thread-safe, since the service builds from worker threads."""

    def __init__(
        self,
        settings: Settings,
        *,
        extractor: Extractor | None = None,
        llm: LLMExtractor | None = None,
        schemas: SchemaStore | None = None,
        resolver: Resolver | None = None,
    ) -> None:
        self.settings = settings
        self._built: dict[str, Any] = {"extractor": extractor, "llm": llm, "schemas": schemas, "resolver": resolver}
        if resolver is not None:
            self._built["kb"] = resolver.store
        self._lock = threading.RLock()

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
        extractor: Extractor = self._get("extractor", lambda: build_extractor(self.settings))
        return extractor

    @extractor.setter
    def extractor(self, extractor: Extractor) -> None:
        """Swap the local extractor, e.g. for the service's micro-batcher wrapping it."""
        self._built["extractor"] = extractor

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
    def jobs(self) -> ImportJobs:
        jobs: ImportJobs = self._get("jobs", lambda: ImportJobs(self.sessions, self.kb))
        return jobs

    def state(self) -> KBState:
        """The database's identity and its KB and override versions (one query)."""
        return read_state(self.sessions)

    def resolver(self, state: KBState) -> Resolver | None:
        """The linker, once anything was ever written to the KB (``None`` before)."""
        if self._built.get("resolver") is None and state.kb_version == 0:
            return None
        resolver: Resolver = self._get("resolver", lambda: build_resolver(self.settings, self.kb))
        return resolver
