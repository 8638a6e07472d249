"""Entity records cached between link calls: served from memory until the KB changes, on a real SQLite store."""

from kb.db import open_db
from kb.record_cache import RecordCache
from kb.records import EntityIn
from kb.store import SQLKBStore


class CountingStore(SQLKBStore):
    """The real store, counting the ids each ``get`` reads from SQL."""

    def __init__(self, sessions):
        super().__init__(sessions)
        self.read: list[list[str]] = []

    def get(self, ids, aliases=True):
        ids = list(ids)
        self.read.append(ids)
        return super().get(ids, aliases)


def _store(tmp_path):
    _, sessions = open_db(f"sqlite:///{tmp_path / 'kb.sqlite3'}")
    store = CountingStore(sessions)
    store.upsert([EntityIn(id="Q90", name="Paris", types=["LOC"]), EntityIn(id="Q64", name="Berlin")])
    return store


def test_records_come_from_memory_until_a_write_changes_the_kb(tmp_path):
    store = _store(tmp_path)
    cache = RecordCache(store)
    assert cache.get(["Q90", "Q404"])["Q90"].name == "Paris"
    got = cache.get(["Q90", "Q404", "Q64"])  # Q90 and the absent Q404 are known: only Berlin is read
    assert store.read == [["Q90", "Q404"], ["Q64"]] and set(got) == {"Q90", "Q64"}
    store.upsert([EntityIn(id="Q90", name="Paris, France", types=["LOC"])])  # a write bumps the KB version
    assert cache.get(["Q90"])["Q90"].name == "Paris, France" and store.read[-1] == ["Q90"]


def test_the_cache_keeps_the_most_recently_used_records_within_its_size(tmp_path):
    store = _store(tmp_path)
    cache = RecordCache(store, size=1)
    cache.get(["Q90"])
    cache.get(["Q64"])  # Paris is dropped for Berlin
    cache.get(["Q64", "Q90"])
    assert store.read == [["Q90"], ["Q64"], ["Q90"]]
