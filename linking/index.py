"""Dense retrieval over KB entries with FAISS: derived data, cached on disk, updated incrementally.

The index lives under ``<directory>/<database id>/<embedder>/``: it is keyed by the identity of the database it
was built from (see ``kb.meta``), by the embedder and by the KB version. An index whose recorded database or
version does not fit the database it is opened on is rebuilt, with a warning that says why. A base index (flat
for small KBs, HNSW for large ones) holds the entries as of its build; entities written since then are embedded
into a small flat *delta* index on the next query, and their stale base vectors are masked. So an entity added
through the API is linkable on the next request, without a full rebuild. A KB rewritten by a fifth or more
(``REBUILD_SHARE``: loaded or imported again) gets a new index instead, whether the change is found at a start or
under a running service.

A service does not wait for a missing index: ``warm_in_background`` loads or builds it on a thread while
``search`` returns nothing, so linking runs on name candidates meanwhile. The builder writes its progress to
``build.json`` beside the index, so a worker waiting on another process's build reports that build's progress.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from hybrid_ner.files import write_whole
from kb.store import KBStore
from linking.embedder import Embedder, encode_spread

log = logging.getLogger(__name__)
# Entries; below this an exact flat index is fast enough. A flat search over the 68k bundled KB takes ~5 ms of a
# 25 ms linking budget on one thread, HNSW well under 1 ms with the same candidates in practice.
HNSW_ABOVE = 20_000
HNSW_LINKS = 32  # neighbours per node (faiss's M)
# How hard the HNSW build looks for each node's neighbours. On the 135k bundled KB, faiss's default (40) made a
# graph that, searched with a breadth of 256, found 95.8 % of the exact top 30 and 96.2 % of the top 10 for
# news-fair's gold mentions; built with 160 and searched with a breadth of 128 it finds 95.9 % and 95.4 % in 58 %
# of the time. The build takes about 45 s more on one core (``eval/reports/link_index.md``).
EF_CONSTRUCTION = 160
EF_SEARCH = 128  # HNSW search breadth
# A KB that changed this much since its index was built gets a new index, not a delta in every process.
REBUILD_SHARE = 0.2
# Entities a service embeds as its delta while requests wait (about 6 s at one thread); a larger batch of edits
# (an import under way) gets a new index built in the background instead, as a rewrite does.
DELTA_AT_ONCE = 2000
CHUNK = 500  # entities per encoder call while building
SPREAD_ABOVE = 20_000  # entities; below this a build encodes in-process (starting encoder processes costs ~10 s)
PROGRESS = "build.json"  # {"phase", "done", "total", "pid", "started"} while a build runs; removed when it ends
# A build's phases: embedding the entities (``done`` of ``total``), then linking the graph (all done, not yet ready).
EMBEDDING, GRAPH = "embedding", "graph"


def graph_recipe(size: int) -> str:
    """How the base index over ``size`` entries is built; its description on disk names it, so an index built
    under another recipe (another size rule, other HNSW parameters) is rebuilt rather than used."""
    return f"hnsw-m{HNSW_LINKS}-efc{EF_CONSTRUCTION}" if size >= HNSW_ABOVE else "flat"


@contextmanager
def _exclusive(directory: Path) -> Iterator[None]:
    """Serialise index reads and writes across processes (service workers, batch actors) on one directory, so
    none reads files another is half-way through writing, and the second of two cold starts loads the first's."""
    directory.mkdir(parents=True, exist_ok=True)
    with (directory / ".lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class DenseIndex:
    def __init__(
        self, store: KBStore, embedder: Embedder, directory: Path, build_batch: int = 5000, processes: int = 1
    ) -> None:
        self.store = store
        self.build_batch = build_batch  # entities read from the KB at a time
        self.processes = processes  # encoder processes for a full build (``HNER_INDEX_PROCESSES``)
        self.embedder = embedder
        self.database_id = store.identity()
        if not self.database_id:
            raise ValueError("the database has no identity (kb_meta.database_id): run its migrations first")
        self.directory = directory
        self._lock = threading.RLock()
        self._background = False  # set once by ``warm_in_background``: never build on the request path after
        self._warm: dict[str, Any] = {"state": "cold"}  # what the warming thread is doing, for ``status``
        self.base: Any = None
        self.base_ids: list[str] = []
        self.base_version = -1
        self.delta_ids: list[str] = []
        self.delta_vectors = np.zeros((0, embedder.dim), dtype=np.float32)
        self.delta_version = -1
        self.stale: set[int] = set()
        self._skip: tuple[Any, ...] | None = None  # (key, search parameters, the selectors they point at)
        self.base_vectors: np.ndarray = np.zeros((0, embedder.dim), dtype=np.float16)
        self.positions: dict[str, int] = {}

    @property
    def path(self) -> Path:
        return self.directory / self.database_id / self.embedder.name.replace("/", "_")

    def size(self) -> int:
        return len(self.base_ids) + len(self.delta_ids)

    @property
    def ready(self) -> bool:
        """Whether dense retrieval runs (a base index is loaded)."""
        return self.base is not None

    def warm_in_background(self, at_least: int = -1) -> threading.Thread:
        """Load or build the base index on a daemon thread; until it is there, ``search`` finds nothing and never
        blocks. Of several processes, one builds and the others wait for it on the directory's lock, then load.
        An index on disk built before KB version ``at_least`` is not loaded (see ``_renew``)."""
        self._background = True
        self._warm = {"state": "waiting"}  # before the thread runs: a status asked now never reads the last state
        thread = threading.Thread(target=self._warm_up, args=(at_least,), name="dense-index-warm-up", daemon=True)
        thread.start()
        return thread

    def _warm_up(self, at_least: int = -1) -> None:
        try:
            with _exclusive(self.path):
                if not self.load(at_least):
                    self._warm = {"state": "building"}
                    self._build()
            self.refresh()
        except Exception as exc:  # any failure leaves name-only linking, reported in status, never raised
            log.error("dense index warm-up failed: %s", type(exc).__name__)
            self._warm = {"state": "failed", "error": type(exc).__name__}
            return
        if self.ready:  # else the refresh met edits made during the build and began the next warm-up, which reports
            self._warm = {"state": "ready"}

    def status(self) -> dict[str, Any]:
        """What ``/readyz`` reports: ready (entries), building here or waiting for another process's build (the
        build's phase and progress, from ``build.json`` either way), cold (never asked) or failed (why)."""
        if self.ready:
            return {"state": "ready", "entries": self.size()}
        status = dict(self._warm)
        if status["state"] in ("building", "waiting"):
            try:
                note = json.loads((self.path / PROGRESS).read_text())
                status.update(phase=str(note["phase"]), done=int(note["done"]), total=int(note["total"]))
            except (OSError, ValueError, KeyError, TypeError):
                pass  # no build running yet, or its file is being replaced
        return status

    def build(self, progress: Callable[[int], None] | None = None) -> None:
        """Embed every entity and write a fresh base index to disk."""
        with _exclusive(self.path):
            self._build(progress)

    def _build(self, progress: Callable[[int], None] | None = None) -> None:
        import faiss

        version = self.store.version()
        ids: list[str] = []
        chunks: list[np.ndarray] = []
        total, started = self.store.count(indexed=True), time.time()
        processes = self.processes if total >= SPREAD_ABOVE else 1
        try:
            self._note_progress(EMBEDDING, 0, total, started)
            for vectors in encode_spread(self.embedder, self._texts(ids), processes):
                chunks.append(vectors)
                self._note_progress(EMBEDDING, sum(len(c) for c in chunks), total, started)
                if progress:
                    progress(len(vectors))
            vectors = np.vstack(chunks) if chunks else np.zeros((0, self.embedder.dim), dtype=np.float32)
            self._note_progress(GRAPH, len(vectors), total, started)
            index = self._new_index(vectors)  # a large KB's HNSW graph takes a while after the last vector
        finally:
            (self.path / PROGRESS).unlink(missing_ok=True)
        meta = {
            "database_id": self.database_id,
            "embedder": self.embedder.name,
            "version": version,
            "graph": graph_recipe(len(vectors)),
            "ids": ids,
        }
        # Each file is written beside its final name and renamed, the metadata last: a build killed half-way
        # leaves the previous index whole (or none), never files of two builds under one description.
        faiss.write_index(index, str(self.path / "base.faiss.tmp"))
        with (self.path / "base_vectors.npy.tmp").open("wb") as handle:
            np.save(handle, vectors.astype(np.float16))
        (self.path / "base.json.tmp").write_text(json.dumps(meta))
        (self.path / "base.json").unlink(missing_ok=True)
        for name in ("base.faiss", "base_vectors.npy", "base.json"):
            (self.path / f"{name}.tmp").replace(self.path / name)
        self._set_base(index, ids, version, np.load(self.path / "base_vectors.npy", mmap_mode="r"))

    def _texts(self, ids: list[str]) -> Iterator[list[str]]:
        """Every indexed entity's text in chunks of ``CHUNK``, appending each id to ``ids`` in the same order."""
        for batch in self.store.changed_since(-1, self.build_batch, indexed=True):
            ids += [e.id for e in batch]
            texts = [e.text() for e in batch]
            yield from (texts[i : i + CHUNK] for i in range(0, len(texts), CHUNK))

    def _note_progress(self, phase: str, done: int, total: int, started: float) -> None:
        """Tell other processes how far this build is (written whole, then renamed: never read half-written)."""
        note = {"phase": phase, "done": done, "total": total, "pid": os.getpid(), "started": started}
        write_whole(self.path / PROGRESS, json.dumps(note))

    def _new_index(self, vectors: np.ndarray) -> Any:
        """Flat for small KBs, HNSW for large ones, holding ``vectors``."""
        import faiss

        index: Any = faiss.IndexFlatIP(self.embedder.dim)
        if len(vectors) >= HNSW_ABOVE:
            index = faiss.IndexHNSWFlat(self.embedder.dim, HNSW_LINKS, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = EF_CONSTRUCTION
        if len(vectors):
            index.add(np.ascontiguousarray(vectors, dtype=np.float32))
        return index

    def _set_base(self, index: Any, ids: list[str], version: int, vectors: np.ndarray) -> None:
        if hasattr(index, "hnsw"):
            index.hnsw.efSearch = EF_SEARCH
        with self._lock:
            self.positions = {eid: i for i, eid in enumerate(ids)}
            self.delta_ids, self.delta_vectors, self.delta_version = [], self.delta_vectors[:0], version
            self.stale = set()
            self.base_ids, self.base_version, self.base_vectors = ids, version, vectors
            self.base = index  # last: a reader that sees the base sees everything that goes with it

    def load(self, at_least: int = -1) -> bool:
        """Load the cached base index if one exists for this database and embedder, still fits them, and was built
        at KB version ``at_least`` or later."""
        import faiss

        meta = self.path / "base.json"
        if not meta.is_file():
            return False
        data = json.loads(meta.read_text())
        problem = self._mismatch(data)
        if not problem and int(data.get("version", -1)) < at_least:
            problem = f"built at KB version {data.get('version')}, before the edits at {at_least}"
        if problem:
            log.warning("dense index at %s not used: %s; rebuilding it", self.path, problem)
            return False
        vectors = np.load(self.path / "base_vectors.npy", mmap_mode="r")  # memory-mapped: RSS only for what is read
        recipe = graph_recipe(len(vectors))
        if data.get("graph") == recipe:
            index = faiss.read_index(str(self.path / "base.faiss"))
        else:  # built under another recipe: the graph again from the stored vectors, which stay valid
            log.warning("dense index at %s: rebuilding its graph as %s", self.path, recipe)
            index = self._new_index(vectors)
            faiss.write_index(index, str(self.path / "base.faiss.tmp"))
            (self.path / "base.faiss.tmp").replace(self.path / "base.faiss")  # then its description, whole
            write_whole(meta, json.dumps({**data, "graph": recipe}))
        self._set_base(index, data["ids"], int(data["version"]), vectors)
        return True

    def persist(self) -> None:
        """Make the index on disk current with the KB (a full build when anything changed since it was built), so
        other processes that load it, such as batch workers, need no delta of their own."""
        self.refresh()
        if self.base_version != self.store.version():
            self.build()

    def _mismatch(self, meta: dict[str, Any]) -> str | None:
        """Why an index on disk does not describe this database (None when it does)."""
        if meta.get("database_id") != self.database_id:
            return f"built from database {meta.get('database_id')!r}, not {self.database_id!r}"
        if meta.get("embedder") != self.embedder.name:
            return f"built with embedder {meta.get('embedder')!r}, not {self.embedder.name!r}"
        if int(meta.get("version", -1)) > self.store.version():
            return f"built at KB version {meta['version']}, newer than the database's {self.store.version()}"
        return self._outgrown(int(meta.get("version", -1)))

    def _outgrown(self, built: int) -> str | None:
        """Why an index built at KB version ``built`` is not worth a delta: a KB loaded or imported again would
        have every process embed all of it as its own delta, holding the index while it does. One new index is
        cheaper."""
        written, indexed = self.store.count(indexed=True, since=built), self.store.count(indexed=True)
        if written and written >= REBUILD_SHARE * indexed:
            return f"{written} of the KB's {indexed} indexed entities were written since it was built"
        return None

    def refresh(self) -> None:
        """Bring the delta up to the KB's current version (cheap when nothing changed)."""
        version = self.store.version()
        if self._background and self.base is None:
            return  # the warming thread builds it; requests link by name meanwhile
        with self._lock:
            if self.base is None:
                with _exclusive(self.path):  # a second cold process waits here, then loads what the first built
                    if not self.load():
                        log.warning(
                            "building the dense index for database %s (first use; `hybrid-ner kb index` does this "
                            "ahead of time)",
                            self.database_id,
                        )
                        self._build()
                        return
            if version == self.delta_version:
                return
            if problem := self._outgrown(self.base_version) or self._too_many_to_wait_for():
                self._renew(problem)
                return
            # Every entity written since is stale in the base and the delta; those the index holds get new vectors
            # (one that became name-only just leaves it).
            written = {i for batch in self.store.written_since(self.delta_version) for i in batch}
            changed = [e for batch in self.store.changed_since(self.delta_version, indexed=True) for e in batch]
            self.stale |= {self.positions[i] for i in written if i in self.positions}
            keep = [i for i, eid in enumerate(self.delta_ids) if eid not in written]
            vectors = self.embedder.encode([e.text() for e in changed]) if changed else self.delta_vectors[:0]
            self.delta_ids = [self.delta_ids[i] for i in keep] + [e.id for e in changed]
            self.delta_vectors = np.vstack([self.delta_vectors[keep], vectors])
            self.delta_version = version

    def _too_many_to_wait_for(self) -> str | None:
        """Why a service should not embed the pending delta while requests wait: more than ``DELTA_AT_ONCE``
        indexed entities written since it was last brought up to date (None for a command, which waits anyway)."""
        if not self._background:
            return None
        pending = self.store.count(indexed=True, since=self.delta_version)
        return f"{pending} entities written at once" if pending > DELTA_AT_ONCE else None

    def _renew(self, problem: str) -> None:
        """The KB was rewritten under an open index: a new index, as at a first start. A service drops dense
        retrieval and builds it on the warm-up thread (requests link by name meanwhile, never waiting); a command
        builds it here. An index on disk older than the KB now is not loaded in its place: one that only missed a
        batch of edits would pass every other check and be renewed again at once. Called holding ``_lock``."""
        log.warning("dense index at %s replaced: %s", self.path, problem)
        at_least = self.store.version()
        if not self._background:
            with _exclusive(self.path):
                if not self.load(at_least):  # another process may have built it since
                    self._build()
            return
        self._set_base(None, [], self.base_version, self.base_vectors[:0])  # no base: search finds nothing
        self.warm_in_background(at_least)

    def _skip_stale(self) -> Any:
        """Search parameters that leave out stale base vectors inside FAISS. Asking for ``k`` + their number and
        dropping them afterwards made every query fetch thousands of results after a large KB edit."""
        import faiss as _faiss

        faiss: Any = _faiss  # the search-parameter classes are missing from its type stubs
        with self._lock:
            stale, base = frozenset(self.stale), self.base
        if self._skip is not None and self._skip[0] == (stale, id(base)):
            return self._skip[1]
        selectors: tuple[Any, ...] = ()
        if stale:
            inner = faiss.IDSelectorBatch(np.fromiter(stale, dtype=np.int64, count=len(stale)))
            selectors = (inner, faiss.IDSelectorNot(inner))  # the second points at the first: both kept alive
        chosen = {"sel": selectors[1]} if selectors else {}
        if hasattr(base, "hnsw"):  # parameters replace the index's own efSearch, so it is given again
            params = faiss.SearchParametersHNSW(efSearch=EF_SEARCH, **chosen)
        else:
            params = faiss.SearchParameters(**chosen) if chosen else None
        self._skip = ((stale, id(base)), params, selectors)
        return params

    def vectors(self, ids: list[str]) -> dict[str, np.ndarray]:
        """Stored vectors of these entities (fresh delta vectors win over stale base ones)."""
        out: dict[str, np.ndarray] = {}
        delta = {eid: i for i, eid in enumerate(self.delta_ids)}
        for eid in ids:
            if eid in delta:
                out[eid] = self.delta_vectors[delta[eid]]
            elif eid in self.positions and self.positions[eid] not in self.stale:
                out[eid] = np.asarray(self.base_vectors[self.positions[eid]], dtype=np.float32)
        return out

    def search(self, queries: np.ndarray, k: int) -> list[list[tuple[str, float]]]:
        """Top-``k`` (entity id, cosine) per query row, over base and delta. Equal rows are searched once: a
        document names the same entity many times, and a row's answer does not depend on the others."""
        self.refresh()
        out: list[list[tuple[str, float]]] = [[] for _ in range(len(queries))]
        if len(queries) == 0:
            return out
        # Rows keyed by their bytes: numpy's unique over rows sorts a structured view, slower than the search.
        first: dict[bytes, int] = {}
        for i, row in enumerate(queries):
            first.setdefault(row.tobytes(), i)
        if len(first) < len(queries):
            rows = sorted(first.values())
            found = dict(zip(rows, self.search(np.ascontiguousarray(queries[rows]), k), strict=True))
            return [list(found[first[row.tobytes()]]) for row in queries]
        if self.base is not None and self.base_ids:
            scores, idx = self.base.search(queries, k, params=self._skip_stale())
            for row, (row_scores, row_ids) in enumerate(zip(scores.tolist(), idx.tolist(), strict=True)):
                out[row] = [(self.base_ids[j], s) for s, j in zip(row_scores, row_ids, strict=True) if j >= 0]
        if self.delta_ids:
            for row, query in enumerate(queries):  # row by row: a matrix product's sums depend on its shape
                sims = self.delta_vectors @ query
                top = np.argsort(-sims)[:k]
                merged = out[row] + [(self.delta_ids[j], float(sims[j])) for j in top]
                out[row] = sorted(merged, key=lambda x: -x[1])[:k]
        return out
