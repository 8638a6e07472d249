"""Sentence embeddings for mentions, contexts and KB entries (the packaged all-MiniLM-L6-v2).

``Embedder`` is the seam; implementations are registered by versioned name and chosen by ``HNER_LINK_ENCODER``:
``encoder.minilm_onnx_int8.v1`` (the default, ``linking.onnx_encoder``) or ``encoder.minilm_torch_int8.v1`` (torch's
dynamic int8, the earlier default). Each has its own ``name``, which keys the dense index built with it.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from hybrid_ner.packages import BASE_PACKAGE, base_encoder_path
from hybrid_ner.registry import Registry


class Embedder(Protocol):
    """Normalised vectors of texts. ``name`` keys every derived index, so a model change never mixes vectors."""

    name: str
    dim: int

    def encode(self, texts: Sequence[str]) -> np.ndarray: ...

    def encode_each(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors that do not depend on the other texts of the call (what a request's mentions need)."""
        ...

    def spec(self) -> tuple[str, dict[str, Any]]:
        """The registered name and arguments that build the same embedder in another process."""
        ...


embedders: Registry[Embedder] = Registry("link encoder")


class TorchEmbedder:
    """torch's dynamic int8 in sentence-transformers: batches while the index builds, one text per pass for
    requests."""

    registered = "encoder.minilm_torch_int8.v1"

    def __init__(self, cache_dir: Path | None = None, quantize: bool = True, batch_size: int = 64) -> None:
        self.quantize = quantize
        self.batch_size = batch_size
        self.name = f"{BASE_PACKAGE}{'+int8' if quantize else ''}"
        self.dim = 384

    def spec(self) -> tuple[str, dict[str, Any]]:
        return self.registered, {"quantize": self.quantize, "batch_size": self.batch_size}

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

    embedder.encode([""])  # anything derived (an exported graph) is built here once, not by every worker at once
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(processes, mp_context=context) as pool:
        pending: list[Future[np.ndarray]] = []
        for chunk in chunks:
            pending.append(pool.submit(_encode_in_worker, embedder.spec(), chunk))
            if len(pending) > 2 * processes:
                yield pending.pop(0).result()
        yield from (f.result() for f in pending)


def _encode_in_worker(spec: tuple[str, dict[str, Any]], texts: list[str]) -> np.ndarray:
    return _worker_embedder(spec[0], tuple(sorted(spec[1].items()))).encode(texts)


@lru_cache(maxsize=1)
def _worker_embedder(name: str, kwargs: tuple[tuple[str, Any], ...]) -> Embedder:
    import torch

    torch.set_num_threads(1)
    return embedders.get(name)(**dict(kwargs))


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


# Imported late: the ONNX encoder module needs nothing from here (and loads onnxruntime only when it encodes).
from linking.onnx_encoder import OnnxEmbedder  # noqa: E402

embedders.register(TorchEmbedder.registered)(TorchEmbedder)
embedders.register(OnnxEmbedder.registered)(OnnxEmbedder)
