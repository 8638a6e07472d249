"""Sentence embeddings for mentions, contexts and KB entries (the packaged all-MiniLM-L6-v2)."""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from functools import cached_property, lru_cache
from typing import Any

import numpy as np

from hybrid_ner.packages import BASE_PACKAGE, base_encoder_path


class Embedder:
    """Normalised 384-d vectors; ``name`` keys every derived index, so a model change never mixes vectors."""

    def __init__(self, quantize: bool = True, batch_size: int = 64) -> None:
        self.quantize = quantize
        self.batch_size = batch_size
        self.name = f"{BASE_PACKAGE}{'+int8' if quantize else ''}"
        self.dim = 384

    @cached_property
    def model(self) -> Any:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
        model = SentenceTransformer(str(base_encoder_path()), device="cpu")
        if self.quantize:
            import warnings

            import torch
            from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                quantize_dynamic(  # type: ignore[no-untyped-call]
                    model[0].auto_model, {torch.nn.Linear: per_channel_dynamic_qconfig}, dtype=torch.qint8, inplace=True
                )
        return model

    def encode_each(self, texts: Sequence[str]) -> np.ndarray:
        """One pass per text: dynamic int8 scales activations over the whole batch, so only a text encoded alone
        has a vector that does not depend on the texts it came with (a link must not change with its batch).
        Short mentions and contexts lose little to it: there is no padding either."""
        rows = [self.encode([t]) for t in texts]
        return np.vstack(rows) if rows else np.zeros((0, self.dim), dtype=np.float32)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self.model.encode(
            list(texts), batch_size=self.batch_size, normalize_embeddings=True, show_progress_bar=False
        )
        return np.asarray(vectors, dtype=np.float32)


def encode_spread(embedder: Embedder, chunks: Iterable[list[str]], processes: int) -> Iterator[np.ndarray]:
    """The vectors of each chunk, in order. With ``processes`` > 1 the chunks are encoded by that many spawned
    processes at one thread each (a first index build is the one job that keeps every core busy for minutes);
    each holds its own copy of the same embedder."""
    if processes <= 1:
        yield from (embedder.encode(chunk) for chunk in chunks)
        return
    import multiprocessing
    from concurrent.futures import Future, ProcessPoolExecutor

    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(processes, mp_context=context) as pool:
        pending: list[Future[np.ndarray]] = []
        for chunk in chunks:
            pending.append(pool.submit(_encode_in_worker, embedder.quantize, embedder.batch_size, chunk))
            if len(pending) > 2 * processes:
                yield pending.pop(0).result()
        yield from (f.result() for f in pending)


@lru_cache(maxsize=1)
def _worker_embedder(quantize: bool, batch_size: int) -> Embedder:
    import torch

    torch.set_num_threads(1)
    return Embedder(quantize, batch_size)


def _encode_in_worker(quantize: bool, batch_size: int, texts: list[str]) -> np.ndarray:
    return _worker_embedder(quantize, batch_size).encode(texts)


class VectorCache:
    """Vectors of texts encoded before, least recently used dropped past ``size``. Keyed by the text itself, so an
    entity whose text changed is a new key: the cache can never answer with the vector of an older version."""

    def __init__(self, encode: Callable[[list[str]], np.ndarray], dim: int, size: int = 50_000) -> None:
        self._encode = encode
        self._dim = dim
        self._size = size
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        with self._lock:
            new = [t for t in dict.fromkeys(texts) if t not in self._vectors]
        fresh = self._encode(new) if new else np.zeros((0, self._dim), dtype=np.float32)
        with self._lock:
            self._vectors.update(zip(new, fresh, strict=True))
            for t in texts:
                self._vectors.move_to_end(t)
            while len(self._vectors) > self._size:
                self._vectors.popitem(last=False)
            rows = [self._vectors[t] for t in texts]
        return np.vstack(rows) if rows else np.zeros((0, self._dim), dtype=np.float32)
