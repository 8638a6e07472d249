"""Entity records kept between link calls, for as long as the KB does not change.

Every link call reads the records of all its candidates, and across a corpus the same popular entities are
candidates again and again: reading them from SQL each time was a tenth of the time a news article takes to link.
The cache is keyed by the KB's version (bumped by every write), so a write empties it before the next read, and
it is bounded, dropping the least recently used record first.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable
from typing import Protocol

from kb.records import EntityRecord


class _Records(Protocol):
    def version(self) -> int: ...

    def get(self, ids: Iterable[str], aliases: bool = True) -> dict[str, EntityRecord]: ...


class RecordCache:
    """``get`` as the store answers it, from memory when the KB version is the one the records were read at. A
    named entity's record holds no aliases (``KBStore.get`` with ``aliases`` off): links never read them."""

    def __init__(self, store: _Records, size: int = 50_000) -> None:
        self._store = store
        self._size = size
        self._lock = threading.Lock()  # link calls run on worker threads
        self._version: int | None = None
        self._records: OrderedDict[str, EntityRecord | None] = OrderedDict()  # None: the KB has no such id

    def get(self, ids: Iterable[str]) -> dict[str, EntityRecord]:
        wanted = list(dict.fromkeys(ids))
        version = self._store.version()
        with self._lock:
            if version != self._version:
                self._records.clear()
                self._version = version
            known = {i: self._records[i] for i in wanted if i in self._records}
            for i in known:
                self._records.move_to_end(i)
        missing = [i for i in wanted if i not in known]
        fetched = self._store.get(missing, aliases=False) if missing else {}
        with self._lock:
            if version == self._version:  # a write since the read above: keep nothing read at the old version
                for i in missing:
                    self._records[i] = fetched.get(i)
                while len(self._records) > self._size:
                    self._records.popitem(last=False)
        out = {i: r for i, r in known.items() if r is not None}
        out.update(fetched)
        return out
