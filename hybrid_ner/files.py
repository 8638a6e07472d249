"""Files written whole or not at all.

Every writer of derived data (caches, shards, index progress, CLI output) must leave either the old file or the
new one, never a torn one, even when the process is killed half-way or another process writes the same name.
One helper does it: write beside the target under a name private to this process and thread, then rename.
While a block runs, its temporary path is registered as this process's unfinished output, so a process that must
end without unwinding (a SIGTERM whose exception Python dropped) can still remove it first.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_UNFINISHED: set[Path] = set()
_UNFINISHED_LOCK = threading.Lock()


@contextmanager
def unfinished(path: Path) -> Iterator[Path]:
    """Register ``path`` as unfinished output while the block runs (see :func:`remove_unfinished`)."""
    with _UNFINISHED_LOCK:
        _UNFINISHED.add(path)
    try:
        yield path
    finally:
        with _UNFINISHED_LOCK:
            _UNFINISHED.discard(path)


def remove_unfinished() -> None:
    """Delete every output this process has not finished: the last step of an exit that skips unwinding."""
    with _UNFINISHED_LOCK:
        paths = list(_UNFINISHED)
    for path in paths:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


@contextmanager
def scratch_dir(path: Path) -> Iterator[Path]:
    """A fresh, empty directory at ``path``, registered as unfinished while the block runs and removed when the
    block fails; the caller renames it into place after the block."""
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    try:
        with unfinished(path):
            yield path
    except BaseException:
        shutil.rmtree(path, ignore_errors=True)
        raise


@contextmanager
def replacing(target: Path) -> Iterator[Path]:
    """A temporary path beside ``target``, renamed onto it when the block ends cleanly and removed when it fails.

    The name is hidden and private to this process and thread, so concurrent writers never share one.
    """
    tmp = target.with_name(f".{target.name}.{os.getpid()}-{threading.get_ident()}.tmp")
    try:
        with unfinished(tmp):
            yield tmp
            os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def write_whole(target: Path, data: bytes | str) -> None:
    """``data`` into ``target`` through :func:`replacing` (text as UTF-8)."""
    with replacing(target) as tmp:
        if isinstance(data, str):
            tmp.write_text(data, encoding="utf-8")
        else:
            tmp.write_bytes(data)
