"""Shared by the commands: JSON lines out, JSONL lines in (with per-line errors), progress bars on a terminal."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import nullcontext
from pathlib import Path
from typing import IO, Any


def emit(obj: dict[str, Any], out: IO[str] = sys.stdout) -> None:
    out.write(json.dumps(obj, ensure_ascii=False) + "\n")
    out.flush()


def lines(path: Path) -> Iterator[tuple[int, bytes]]:
    with open(path, "rb") as fh:
        for lineno, raw in enumerate(fh, 1):
            if raw.strip():
                yield lineno, raw


def bar(label: str, total: int | None = None, only_tty: bool = False) -> Any:
    """A rich progress bar on stderr (``only_tty``: only when stderr is a terminal, else a no-op context)."""
    if only_tty and not sys.stderr.isatty():
        return nullcontext(None)
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    progress = Progress(
        TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), console=Console(stderr=True)
    )
    progress.add_task(label, total=total)
    return progress


def advance(progress: Any, n: int = 1) -> None:
    if progress is not None:
        progress.advance(progress.task_ids[0], n)
