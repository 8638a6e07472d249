"""The dense index warmed in the background: search never blocks on a build, progress is reported (also from
another process's build), and what was built is reused. Real SQLite and FAISS; the embedder is a named fake
that can hold a build half-way."""

import time

import numpy as np
import pytest

from kb.db import open_db
from kb.records import NAME_ONLY, EntityIn
from kb.store import SQLKBStore
from linking.index import PROGRESS, DenseIndex, graph_recipe
from tests.fakes import FakeGatedEmbedder


@pytest.fixture()
def store(tmp_path):
    engine, sessions = open_db(f"sqlite:///{tmp_path / 'kb.sqlite3'}")
    kb = SQLKBStore(sessions)
    kb.upsert([EntityIn(id=f"e{i}", name=f"Entity {i}", types=["thing"]) for i in range(5)])
    yield kb
    engine.dispose()


def _until(check, what: str, limit: float = 30.0):
    """Poll ``check`` until it returns something truthy (a condition, never a timing assertion)."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.02)
    raise AssertionError(f"never happened: {what}")


def test_search_finds_nothing_while_the_index_builds_then_everything(store, tmp_path):
    embedder = FakeGatedEmbedder(free_calls=1)  # the first batch of two passes, the second waits
    index = DenseIndex(store, embedder, tmp_path / "index", build_batch=2)
    thread = index.warm_in_background()
    status = _until(lambda: index.status() if index.status().get("done") == 2 else None, "first batch embedded")
    assert status == {"state": "building", "phase": "embedding", "done": 2, "total": 5}
    assert not index.ready
    assert index.search(np.ones((1, embedder.dim), dtype=np.float32), 3) == [[]]  # answers at once, empty
    assert index.vectors(["e0"]) == {}
    embedder.gate.set()
    thread.join(timeout=60)
    assert index.ready and index.status() == {"state": "ready", "entries": 5}
    assert not (index.path / PROGRESS).exists()  # the progress file goes with the build
    hits = index.search(embedder.encode(["Entity 3 (thing)"]), 1)
    assert hits[0][0][0] == "e3" and hits[0][0][1] == pytest.approx(1.0, abs=1e-3)


def test_a_second_process_waits_for_the_first_build_and_reports_its_progress(store, tmp_path):
    builder_embedder = FakeGatedEmbedder(free_calls=1)
    builder = DenseIndex(store, builder_embedder, tmp_path / "index", build_batch=2)
    builder_thread = builder.warm_in_background()
    _until(lambda: builder.status().get("done") == 2, "the builder embedded its first batch")
    other_embedder = FakeGatedEmbedder(free_calls=10**6)  # never waits; must never be asked to build either
    other = DenseIndex(store, other_embedder, tmp_path / "index", build_batch=2)
    other_thread = other.warm_in_background()
    status = _until(lambda: other.status() if other.status()["state"] == "waiting" else None, "waiting")
    assert (status["phase"], status["done"], status["total"]) == ("embedding", 2, 5)  # from the builder's file
    builder_embedder.gate.set()
    builder_thread.join(timeout=60)
    other_thread.join(timeout=60)
    assert other.ready and other.status()["entries"] == 5
    assert other_embedder.calls == 0  # it loaded what the builder wrote, it did not embed anything itself


class FakeSlowGraphIndex(DenseIndex):
    """A fake for the graph phase: its graph waits for ``gate``, as a large KB's HNSW build takes a while after the
    last vector is embedded."""

    def __init__(self, *args, **kwargs):
        import threading

        super().__init__(*args, **kwargs)
        self.gate = threading.Event()

    def _new_index(self, vectors):
        self.gate.wait(timeout=60)
        return super()._new_index(vectors)


def test_the_graph_phase_is_reported_after_the_last_vector_here_and_to_a_waiting_process(store, tmp_path):
    builder = FakeSlowGraphIndex(store, FakeGatedEmbedder(free_calls=10**6), tmp_path / "index", build_batch=2)
    builder_thread = builder.warm_in_background()
    status = _until(lambda: builder.status() if builder.status().get("phase") == "graph" else None, "graph phase")
    assert status == {"state": "building", "phase": "graph", "done": 5, "total": 5} and not builder.ready
    other = DenseIndex(store, FakeGatedEmbedder(free_calls=10**6), tmp_path / "index", build_batch=2)
    other_thread = other.warm_in_background()
    waiting = _until(lambda: other.status() if other.status().get("phase") else None, "the builder's phase")
    assert waiting == {"state": "waiting", "phase": "graph", "done": 5, "total": 5}
    builder.gate.set()
    builder_thread.join(timeout=60)
    other_thread.join(timeout=60)
    assert builder.status() == other.status() == {"state": "ready", "entries": 5}
    assert not (builder.path / PROGRESS).exists()


def test_a_restart_reuses_the_built_index_and_a_write_is_searchable_next(store, tmp_path):
    embedder = FakeGatedEmbedder(free_calls=10**6)
    first = DenseIndex(store, embedder, tmp_path / "index")
    first.warm_in_background().join(timeout=60)
    calls = embedder.calls
    again = DenseIndex(store, embedder, tmp_path / "index")
    again.warm_in_background().join(timeout=60)
    assert again.ready and embedder.calls == calls  # loaded from disk, keyed by the database and embedder
    store.upsert([EntityIn(id="e9", name="Entity 9", types=["thing"])])
    hits = again.search(embedder.encode(["Entity 9 (thing)"]), 1)
    assert hits[0][0][0] == "e9"


def test_a_kb_reloaded_since_its_index_was_built_gets_a_new_index_once_not_a_delta_at_every_start(store, tmp_path):
    import json

    embedder = FakeGatedEmbedder(free_calls=10**6)
    DenseIndex(store, embedder, tmp_path / "index").warm_in_background().join(timeout=60)
    meta = tmp_path / "index"
    built = json.loads(next(meta.rglob("base.json")).read_text())["version"]
    store.upsert([EntityIn(id="e5", name="Entity 5", types=["thing"])])  # one of six: a delta in each process
    edited = DenseIndex(store, embedder, tmp_path / "index")
    edited.warm_in_background().join(timeout=60)
    assert edited.delta_ids == ["e5"] and edited.base_version == built
    # Every entity written again (a KB loaded a second time, with every prior changed; an unchanged entity is not
    # written): the next start builds and writes a new index...
    store.upsert([EntityIn(id=f"e{i}", name=f"Entity {i}", types=["thing"], prior=1.0) for i in range(6)])
    assert not DenseIndex(store, embedder, tmp_path / "index").load()  # what `kb index` asks before it builds
    reloaded = DenseIndex(store, embedder, tmp_path / "index")
    reloaded.warm_in_background().join(timeout=60)
    assert reloaded.ready and reloaded.delta_ids == [] and reloaded.base_version == store.version()
    assert json.loads(next(meta.rglob("base.json")).read_text())["version"] == store.version()
    # ...which every later start loads as it is, embedding nothing.
    calls = embedder.calls
    later = DenseIndex(store, embedder, tmp_path / "index")
    later.warm_in_background().join(timeout=60)
    assert later.ready and later.size() == 6 and later.delta_ids == [] and embedder.calls == calls
    hits = later.search(embedder.encode(["Entity 5 (thing)"]), 1)
    assert hits[0][0][0] == "e5"
    # The same where a command searches in the foreground (no warm-up thread): a batch job, ``link --file``.
    store.upsert([EntityIn(id=f"e{i}", name=f"Entity {i}", types=["thing"], prior=2.0) for i in range(6)])
    foreground = DenseIndex(store, embedder, tmp_path / "index")
    foreground.refresh()
    assert foreground.delta_ids == [] and foreground.base_version == store.version()
    store.upsert([EntityIn(id=f"e{i}", name=f"Entity {i}", types=["thing"], prior=3.0) for i in range(6)])  # while open
    foreground.refresh()
    assert foreground.delta_ids == [] and foreground.base_version == store.version() and foreground.ready


def test_a_kb_reloaded_under_a_running_service_is_reindexed_in_the_background_while_search_answers(store, tmp_path):
    """The same rewrite while a service runs: the next request does not embed the KB as a delta holding the index
    (every worker did, requests waiting minutes); it drops to name candidates at once and a new index is built on
    the warm-up thread, then searched."""
    embedder = FakeGatedEmbedder(free_calls=1)  # the first build passes; the next waits for the gate
    index = DenseIndex(store, embedder, tmp_path / "index")
    index.warm_in_background().join(timeout=60)
    assert index.ready
    store.upsert([EntityIn(id=f"e{i}", name=f"Entity {i} renamed", types=["thing"]) for i in range(5)])
    query = embedder.encode_each(["Entity 3 renamed (thing)"])
    assert index.search(query, 1) == [[]]  # answered at once, by no stale vector, while the build waits
    # "building" comes a moment before the build's first progress note: wait for the note, not only the state
    status = _until(
        lambda: s if (s := index.status()).get("state") == "building" and "total" in s else None, "rebuilding"
    )
    assert status["total"] == 5 and index.vectors(["e3"]) == {}
    embedder.gate.set()
    _until(lambda: index.ready, "the new index is in")
    assert index.base_version == store.version() and index.delta_ids == []
    assert index.search(query, 1)[0][0][0] == "e3"
    store.upsert([EntityIn(id="e9", name="Entity 9", types=["thing"])])  # one of six: still a delta, at once
    assert index.search(embedder.encode_each(["Entity 9 (thing)"]), 1)[0][0][0] == "e9" and index.ready


def test_a_service_builds_a_new_index_rather_than_wait_on_a_large_batch_of_edits(store, tmp_path, monkeypatch):
    """An import under way writes entities batch by batch: a share too small for a rewrite can still be far too
    many to embed while requests wait. Above ``DELTA_AT_ONCE`` a service builds anew in the background; a
    command (no warm-up thread) takes it as a delta."""
    import linking.index

    monkeypatch.setattr(linking.index, "DELTA_AT_ONCE", 1)
    monkeypatch.setattr(linking.index, "REBUILD_SHARE", 2.0)  # never a rewrite by share here
    embedder = FakeGatedEmbedder(free_calls=1)
    index = DenseIndex(store, embedder, tmp_path / "index")
    index.warm_in_background().join(timeout=60)
    store.upsert([EntityIn(id=f"n{i}", name=f"New {i}", types=["thing"]) for i in range(2)])
    query = embedder.encode_each(["New 1 (thing)"])
    assert index.search(query, 1) == [[]] and not index.ready  # at once, while the new build waits
    embedder.gate.set()
    _until(lambda: index.ready, "the new index is in")
    assert index.search(query, 1)[0][0][0] == "n1" and index.delta_ids == []
    store.upsert([EntityIn(id=f"m{i}", name=f"More {i}", types=["thing"]) for i in range(2)])
    command = DenseIndex(store, FakeGatedEmbedder(free_calls=10**6), tmp_path / "index")
    command.refresh()
    assert sorted(command.delta_ids) == ["m0", "m1"]


def test_edits_made_while_the_index_builds_start_the_next_build_and_status_never_says_ready_meanwhile(store, tmp_path):
    """A KB rewritten while the first build runs (a service started during an import): the warm-up's own refresh
    meets the rewrite and starts the next build. The first warm-up ends without calling the index ready."""
    embedder = FakeGatedEmbedder(free_calls=1)  # the first build passes, the next waits for the gate
    index = DenseIndex(store, embedder, tmp_path / "index")
    build = index._build

    def build_then_rewrite(*args, **kwargs):
        build(*args, **kwargs)
        index._build = build  # once
        store.upsert([EntityIn(id=f"e{i}", name=f"Entity {i} again", types=["thing"]) for i in range(5)])

    index._build = build_then_rewrite  # edits land after the first build read the KB
    first = index.warm_in_background()
    first.join(timeout=60)
    assert not index.ready and index.status()["state"] in ("waiting", "building")  # the next build reports
    embedder.gate.set()
    _until(lambda: index.ready, "the second build is in")
    assert index.status() == {"state": "ready", "entries": 5}


def test_a_failed_build_is_reported_and_search_still_answers(store, tmp_path):
    class Broken(FakeGatedEmbedder):
        def encode(self, texts):
            raise RuntimeError("no model")

    index = DenseIndex(store, Broken(), tmp_path / "index")
    index.warm_in_background().join(timeout=60)
    assert index.status() == {"state": "failed", "error": "RuntimeError"}
    assert index.search(np.ones((1, 8), dtype=np.float32), 3) == [[]]


@pytest.mark.integration
@pytest.mark.parametrize("encoder", ["encoder.minilm_onnx_int8.v1", "encoder.minilm_torch_int8.v1"])
def test_encoder_processes_give_the_vectors_of_one_process_in_order(encoder, tmp_path):
    from linking.embedder import embedders, encode_spread

    embedder = embedders.get(encoder)(cache_dir=tmp_path)
    chunks = [["Paris (city)", "Siemens"], ["Angela Merkel"], ["Springfield, Illinois", "NYSE", "Toyota"]]
    spread = list(encode_spread(embedder, iter(chunks), processes=2))
    alone = [embedder.encode(chunk) for chunk in chunks]
    assert [len(v) for v in spread] == [2, 1, 3]
    for a, b in zip(spread, alone, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-5)


@pytest.mark.integration
def test_a_result_cached_while_the_index_builds_is_not_served_once_it_is_ready(store, tmp_path, local_ner):
    from hybrid_ner.cache import ResultCache
    from hybrid_ner.config import Settings
    from hybrid_ner.pipeline import Pipeline
    from linking.candidates import UnionCandidates
    from linking.rerank import LogisticReranker
    from linking.resolver import Resolver

    store.upsert([EntityIn(id="city:paris", name="Paris", types=["city"], prior=1000)])
    embedder = FakeGatedEmbedder(free_calls=1)
    index = DenseIndex(store, embedder, tmp_path / "index", build_batch=2)
    resolver = Resolver(store, embedder, index, UnionCandidates(store, index), LogisticReranker.load())
    lookups: list[bool] = []
    cache = ResultCache(size=10, ttl_s=600, on_lookup=lookups.append)
    settings = Settings(data_dir=tmp_path, db_url=f"sqlite:///{tmp_path / 'kb.sqlite3'}")
    pipeline = Pipeline(settings=settings, extractor=local_ner, resolver=resolver, cache=cache)
    thread = index.warm_in_background()
    _until(lambda: index.status().get("done") == 2, "first batch embedded")
    text = "Angela Merkel flew to Paris."
    building = resolver.version()
    assert "dense=False" in building
    first = pipeline.extract(text, link=True)[0]
    assert pipeline.extract(text, link=True)[0] == first and lookups == [False, True]  # a hit while it builds
    embedder.gate.set()
    thread.join(timeout=60)
    assert resolver.version() != building
    after = pipeline.extract(text, link=True)[0]
    assert lookups == [False, True, False]  # the entry from before the index was ready is not served
    paris = next(e for e in after.entities if e.span.text == "Paris")
    assert paris.link is not None and paris.link.kb_id == "city:paris"


def _built(tmp_path, monkeypatch, hnsw: bool, entities: int):
    """A store of ``entities`` things and its index, built flat or as HNSW, with a fake embedder that never waits.
    Any share of the KB rewritten stays a delta here (these tests are about the delta and its stale vectors)."""
    import linking.index

    monkeypatch.setattr(linking.index, "HNSW_ABOVE", 1 if hnsw else 10**9)
    monkeypatch.setattr(linking.index, "REBUILD_SHARE", 2.0)
    _, sessions = open_db(f"sqlite:///{tmp_path / 'many.sqlite3'}")
    kb = SQLKBStore(sessions)
    kb.upsert([EntityIn(id=f"e{i}", name=f"Entity {i}", types=["thing"]) for i in range(entities)])
    embedder = FakeGatedEmbedder(free_calls=10**6)
    index = DenseIndex(kb, embedder, tmp_path / "index")
    index.refresh()
    assert hasattr(index.base, "hnsw") == hnsw
    return kb, embedder, index


@pytest.mark.parametrize("hnsw", [False, True])
def test_search_leaves_stale_vectors_out_inside_faiss_and_still_returns_k(tmp_path, monkeypatch, hnsw):
    kb, embedder, index = _built(tmp_path, monkeypatch, hnsw, 200)
    kb.upsert([EntityIn(id=f"e{i}", name=f"Renamed {i}", types=["thing"]) for i in range(0, 200, 2)])  # half changed
    old_texts = [f"Entity {i} (thing)" for i in range(0, 200, 2)]  # what the stale base vectors embed
    found = index.search(embedder.encode_each(old_texts), 5)
    assert len(index.stale) == 100
    for row in found:
        assert len(row) == 5  # k answers, although the nearest base vector of each query is stale
        assert len({eid for eid, _ in row}) == 5  # no entity twice (its stale base vector and its delta vector)
        assert max(score for _, score in row) < 0.999  # the old text's own vector never answers
    kb.upsert([EntityIn(id="e1", name="Entity 1 again", types=["thing"])])
    (row,) = index.search(embedder.encode_each(["Entity 1 (thing)"]), 3)
    assert len(index.stale) == 101  # an edit after the first search reaches the parameters of the next
    assert len(row) == 3 and max(score for _, score in row) < 0.999


@pytest.mark.parametrize("hnsw", [False, True])
def test_equal_query_rows_are_searched_once_and_answered_as_alone(tmp_path, monkeypatch, hnsw):
    kb, embedder, index = _built(tmp_path, monkeypatch, hnsw, 100)
    kb.upsert([EntityIn(id="e7", name="Entity 7 renamed", types=["thing"])])  # a delta vector takes part too
    texts = ["Entity 3 (thing)", "Entity 7 renamed (thing)", "Entity 3 (thing)", "Entity 50 (thing)"]
    queries = embedder.encode_each(texts)
    searched: list[int] = []
    base_search = index.base.search
    monkeypatch.setattr(index.base, "search", lambda q, k, **kw: searched.append(len(q)) or base_search(q, k, **kw))
    together = index.search(queries, 4)
    assert searched == [3]  # the repeated row once
    alone = [index.search(queries[i : i + 1], 4)[0] for i in range(len(texts))]
    assert together == alone and together[0] == together[2] and together[0] is not together[2]
    assert together[1][0][0] == "e7"


def test_an_index_built_under_another_graph_recipe_gets_its_graph_again_from_its_stored_vectors(tmp_path, monkeypatch):
    """HNSW parameters are part of what an index on disk is: another recipe's graph is rebuilt on load, without
    embedding a single entity again, and the rebuilt graph is written back with its new description."""
    import json

    import linking.index

    kb, embedder, index = _built(tmp_path, monkeypatch, True, 60)
    meta = index.path / "base.json"
    assert json.loads(meta.read_text())["graph"] == graph_recipe(60) == f"hnsw-m32-efc{linking.index.EF_CONSTRUCTION}"
    queries = embedder.encode_each(["Entity 3 (thing)", "Entity 41 (thing)"])
    before = index.search(queries, 3)
    monkeypatch.setattr(linking.index, "EF_CONSTRUCTION", 24)
    calls = embedder.calls
    again = DenseIndex(kb, embedder, tmp_path / "index")
    assert again.load() and embedder.calls == calls  # nothing embedded again
    assert again.base.hnsw.efConstruction == 24 and json.loads(meta.read_text())["graph"] == "hnsw-m32-efc24"
    assert [row[0][0] for row in again.search(queries, 3)] == [row[0][0] for row in before] == ["e3", "e41"]
    monkeypatch.setattr(DenseIndex, "_new_index", lambda *_: pytest.fail("the graph was rebuilt a second time"))
    third = DenseIndex(kb, embedder, tmp_path / "index")
    assert third.load() and third.base.hnsw.efConstruction == 24  # read as written


def test_name_only_entities_stay_out_of_the_index_and_one_that_becomes_name_only_leaves_it(store, tmp_path):
    store.upsert([EntityIn(id="t0", name="Tail 0", types=["thing"], attributes={NAME_ONLY: True})])
    assert store.count() == 6 and store.count(indexed=True) == 5
    embedder = FakeGatedEmbedder(free_calls=10**6)
    index = DenseIndex(store, embedder, tmp_path / "index")
    index.warm_in_background().join(timeout=60)
    assert index.status() == {"state": "ready", "entries": 5} and "t0" not in index.base_ids
    assert index.vectors(["t0"]) == {}  # the resolver embeds such a candidate itself when a name finds it
    store.upsert([EntityIn(id="e9", name="Entity 9", types=["thing"])])
    index.refresh()
    assert index.delta_ids == ["e9"]
    store.upsert([EntityIn(id=i, name=f"Now {i}", attributes={NAME_ONLY: True}) for i in ("e3", "e9")])
    (row,) = index.search(embedder.encode(["Entity 3 (thing)"]), 6)
    assert {"e3", "e9", "t0"}.isdisjoint(eid for eid, _ in row) and len(row) == 4
    assert index.vectors(["e3", "e9"]) == {} and index.delta_ids == []


def test_equal_query_rows_are_searched_once_and_answered_as_if_alone(store, tmp_path):
    """A document repeats its names: equal rows reach FAISS once, and every row gets the answer it gets alone, in
    the order asked."""
    embedder = FakeGatedEmbedder(free_calls=10**6)
    index = DenseIndex(store, embedder, tmp_path / "index")
    index.build()
    a, b = embedder.encode(["Entity 1 (thing)"]), embedder.encode(["Entity 4 (thing)"])
    alone = [index.search(a, 2)[0], index.search(b, 2)[0]]
    seen: list[int] = []
    real = index.base.search

    def counting(queries, k, params=None):  # a named fake around the real FAISS call: counts the rows it sees
        seen.append(len(queries))
        return real(queries, k, params=params)

    index.base.search = counting
    assert index.search(np.vstack([a, b, a, a, b]), 2) == [alone[0], alone[1], alone[0], alone[0], alone[1]]
    assert seen == [2]
    assert index.search(np.vstack([b, a]), 2) == [alone[1], alone[0]] and seen == [2, 2]


def test_equal_query_rows_are_answered_as_each_row_alone(store, tmp_path):
    """A document names an entity many times: its equal rows are searched once, and every row, in any order,
    gets what it gets alone."""
    embedder = FakeGatedEmbedder(free_calls=10**6)
    index = DenseIndex(store, embedder, tmp_path / "index")
    index.warm_in_background().join(timeout=60)
    a, b = embedder.encode(["Entity 3 (thing)", "Entity 1 (thing)"])
    rows = np.vstack([b, a, b, b, a])
    alone = {name: index.search(v[None, :], 2)[0] for name, v in (("a", a), ("b", b))}
    assert index.search(rows, 2) == [alone[n] for n in "babba"]
    assert alone["a"][0][0] == "e3" and alone["b"][0][0] == "e1"
