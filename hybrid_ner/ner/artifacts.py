"""Model directories as content: their digest, and writing one whole or not at all.

A model is identified by the digest of the files that decide what it predicts (config, weights, the served
graph), never by its path or the files' sizes: a retrained model of the same shape is another model. The digest
is written beside the files when a directory is written (``digest.txt``) and checked when it is registered.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from hybrid_ner.errors import ModelArtifactError
from hybrid_ner.files import scratch_dir
from hybrid_ner.ner.model import CONFIG_FILE, DIGEST_FILE, WEIGHTS_FILE
from hybrid_ner.ner.seen import SEEN_FILE

ONNX_FILE = "ner.int8.onnx"
CARD_FILE = "README.md"
ARTIFACT_FILES = (CONFIG_FILE, WEIGHTS_FILE, ONNX_FILE, SEEN_FILE)  # what a model's predictions depend on
PROFILE_FILE = "profile.json"  # the reference input profile drift is measured against (``hybrid_ner.rollout.drift``)
MODEL_FILES = (*ARTIFACT_FILES, CARD_FILE, DIGEST_FILE, PROFILE_FILE)  # what a model directory holds


def content_digest(model_dir: Path) -> str:
    """SHA-256 over the names and bytes of the files that decide the model's output."""
    outer = hashlib.sha256()
    for name in ARTIFACT_FILES:
        path = Path(model_dir) / name
        if path.is_file():
            outer.update(name.encode() + b"\0" + hashlib.sha256(path.read_bytes()).digest())
    return outer.hexdigest()


def write_digest(model_dir: Path) -> str:
    digest = content_digest(model_dir)
    (Path(model_dir) / DIGEST_FILE).write_text(digest + "\n")
    return digest


def stored_digest(model_dir: Path) -> str | None:
    path = Path(model_dir) / DIGEST_FILE
    return path.read_text().strip() if path.is_file() else None


def verified_digest(model_dir: Path) -> str:
    """The content digest, refused when it differs from the one written with the files (they changed since)."""
    digest = content_digest(model_dir)
    stored = stored_digest(model_dir)
    if stored is not None and stored != digest:
        raise ModelArtifactError(
            f"{model_dir} changed after it was written (its files no longer match {DIGEST_FILE}); write it again "
            "with adapt, calibrate or export-ner"
        )
    return digest


def _partial_name(out: Path, pid: int) -> Path:
    return out.with_name(f".{out.name}.partial-{pid}")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _clear_stale(out: Path) -> None:
    """Partial directories that killed runs left behind (their process is gone)."""
    for path in out.parent.glob(f".{out.name}.partial-*"):
        pid = path.name.rsplit("-", 1)[-1]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(path, ignore_errors=True)


@contextmanager
def atomic_dir(out: Path, *, overwrite: bool = False) -> Iterator[Path]:
    """A scratch directory beside ``out`` that becomes ``out`` in one rename when the block succeeds; on any
    error (or a kill) ``out`` is untouched and nothing half-written is ever there."""
    out = Path(out).resolve()
    if out.exists() and (not out.is_dir() or any(out.iterdir())) and not overwrite:
        raise ModelArtifactError(f"{out} exists and is not empty: choose another --out (or remove it first)")
    out.parent.mkdir(parents=True, exist_ok=True)
    _clear_stale(out)
    with scratch_dir(_partial_name(out, os.getpid())) as tmp:
        yield tmp
    for path in [tmp, *tmp.iterdir()]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    old = out.with_name(f".{out.name}.old-{os.getpid()}")
    if out.exists():
        os.rename(out, old)
    os.rename(tmp, out)
    shutil.rmtree(old, ignore_errors=True)


def copy_model(src: Path, dst: Path) -> None:
    """The files of a model directory (nothing else that may lie there)."""
    for name in MODEL_FILES:
        if (Path(src) / name).is_file():
            shutil.copy2(Path(src) / name, Path(dst) / name)
