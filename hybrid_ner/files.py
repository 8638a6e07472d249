"""Files written whole or not at all.

Every writer of derived data (caches, shards, index progress, CLI output) must leave either the old file or the
new one, never a torn one, even when the process is killed half-way or another process writes the same name.
One helper does it: write beside the target under a name private to this process and thread, then rename.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def replacing(target: Path) -> Iterator[Path]:
    """A temporary path beside ``target``, renamed onto it when the block ends cleanly and removed when it fails.

    The name is hidden and private to this process and thread, so concurrent writers never share one.
    """
    tmp = target.with_name(f".{target.name}.{os.getpid()}-{threading.get_ident()}.tmp")
    try:
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
