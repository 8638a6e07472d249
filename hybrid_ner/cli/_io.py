"""Shared by the commands: JSON lines out, JSONL lines in (with per-line errors), progress bars on a terminal."""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import IO, Any, NoReturn

import typer

from hybrid_ner.errors import HybridNERError
from hybrid_ner.files import remove_unfinished, replacing
from hybrid_ner.schemas import SchemaError


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


def fail(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code=2)


# How long a SIGTERM'd command may take to unwind before it is ended without (its unfinished output removed).
TERM_GRACE_S = 10.0


def _exit_after(seconds: float, code: int) -> NoReturn:
    time.sleep(seconds)
    remove_unfinished()
    os._exit(code)


def _terminate(signum: int, frame: Any) -> NoReturn:
    """A SIGTERM unwinds like Ctrl-C, so partial output is removed on the way out. Python drops an exception
    raised while it runs a garbage-collection or weakref callback (it prints "Exception ignored"), and the command
    would go on; so a deadline thread also ends the process after ``TERM_GRACE_S``, removing unfinished output
    first. A second SIGTERM ends it at once the same way."""
    if any(t.name == "sigterm-deadline" for t in threading.enumerate()):
        _exit_after(0, 128 + signum)
    deadline = threading.Thread(
        target=_exit_after, args=(TERM_GRACE_S, 128 + signum), name="sigterm-deadline", daemon=True
    )
    deadline.start()
    raise SystemExit(128 + signum)


@contextmanager
def cli_errors() -> Iterator[None]:
    """Deliberate errors (bad data, schema, model, an occupied --out) as one ``error:`` line and exit code 2; a
    SIGTERM ends the command with its partial output removed (:func:`_terminate`)."""
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        yield
    except KeyError as exc:  # its message is the repr of its argument
        fail(str(exc.args[0]) if exc.args else "not found")
    except (HybridNERError, SchemaError, ValueError, LookupError) as exc:
        fail(str(exc))
    finally:
        signal.signal(signal.SIGTERM, previous)


def write_out(out: Path | None, chunks: Iterator[str]) -> None:
    """To standard output, or to ``out`` through a temporary file renamed into place (whole or not at all)."""
    if out is None:
        for chunk in chunks:
            sys.stdout.write(chunk)
        return
    with replacing(out) as tmp, open(tmp, "w", encoding="utf-8") as fh:
        for chunk in chunks:
            fh.write(chunk)
