"""The result cache: LRU + TTL, keyed by everything a result depends on.

The key holds the text's hash, the schema's content, the strategy, the model, the LLM and its prompts, whether
the request links, the linker's version (encoder, fitted reranker, judges and their settings, whether dense
retrieval runs yet), and the database's identity with its KB and override versions (``kb.meta``). Every write to
the KB, the override list or a schema changes one of these, so a stale entry can never be served, in this
process or any other; ``/v1/extract`` and ``/v1/annotate`` differ in the link flag, so they never share entries.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence

from hybrid_ner.datamodel import Result


def cache_key(text: str, parts: Sequence[str]) -> str:
    return hashlib.sha256("\x1f".join([text, *parts]).encode("utf-8", "surrogatepass")).hexdigest()


class ResultCache:
    """At most ``size`` entries, each valid for ``ttl_s`` seconds; least recently used goes first.

    ``on_lookup(hit)`` is called for every lookup (the service counts hits and misses with it).
    """

    def __init__(self, size: int, ttl_s: float, on_lookup: Callable[[bool], None] | None = None) -> None:
        self.size = size
        self.ttl_s = ttl_s
        self.on_lookup = on_lookup
        self._data: OrderedDict[str, tuple[float, Result]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> Result | None:
        with self._lock:
            item = self._data.get(key)
            if item is not None and item[0] < time.monotonic():
                del self._data[key]
                item = None
            if item is not None:
                self._data.move_to_end(key)
        if self.on_lookup is not None:
            self.on_lookup(item is not None)
        return item[1] if item is not None else None

    def put(self, key: str, value: Result) -> None:
        if self.size <= 0:
            return
        with self._lock:
            self._data[key] = (time.monotonic() + self.ttl_s, value)
            self._data.move_to_end(key)
            while len(self._data) > self.size:
                self._data.popitem(last=False)

    async def through(
        self, texts: Sequence[str], parts: Sequence[str], compute: Callable[[list[str]], Awaitable[list[Result]]]
    ) -> list[Result]:
        """Results for ``texts``: hits from the cache, the rest computed in one call; degraded results are not
        kept, so a recovered LLM or linker is used on the next request."""
        keys = [cache_key(t, parts) for t in texts]
        out: list[Result | None] = [self.get(k) for k in keys]
        todo = [i for i, r in enumerate(out) if r is None]
        if todo:
            for i, result in zip(todo, await compute([texts[i] for i in todo]), strict=True):
                out[i] = result
                if not result.degraded:
                    self.put(keys[i], result)
        return [r for r in out if r is not None]
