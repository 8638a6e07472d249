"""The ``hybrid-ner`` command line (typer)."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import nullcontext
from pathlib import Path
from typing import IO, Annotated, Any

import typer

from hybrid_ner.config import get_settings

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Find entities in text and link them to a KB.")

FILE_BATCH = 32


def _emit(obj: dict[str, Any], out: IO[str]) -> None:
    out.write(json.dumps(obj, ensure_ascii=False) + "\n")
    out.flush()


def _parse_line(raw: bytes, lineno: int) -> tuple[Any, str | None, str | None]:
    """``(id, text, error)`` for one JSONL line; exactly one of text and error is set."""
    try:
        row = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        return None, None, f"line {lineno}: not valid UTF-8 ({exc.reason} at byte {exc.start})"
    except json.JSONDecodeError as exc:
        return None, None, f"line {lineno}: invalid JSON ({exc.msg})"
    if not isinstance(row, dict):
        return None, None, f"line {lineno}: expected a JSON object"
    rid = row.get("id")
    text = row.get("text")
    if not isinstance(text, str):
        return rid, None, f"line {lineno}: 'text' must be a string"
    return rid, text, None


def _lines(path: Path) -> Iterator[tuple[int, bytes]]:
    with open(path, "rb") as fh:
        for lineno, raw in enumerate(fh, 1):
            if raw.strip():
                yield lineno, raw


def _progress(total: int | None) -> Any:
    """A rich progress bar on stderr when it is a terminal, else nothing."""
    if not sys.stderr.isatty():
        return nullcontext(None)
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    progress = Progress(
        TextColumn("extracting"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), console=Console(stderr=True)
    )
    progress.add_task("extract", total=total)
    return progress


@app.command()
def extract(
    text: Annotated[str | None, typer.Argument(help="Text to analyse ('-' reads standard input).")] = None,
    file: Annotated[Path | None, typer.Option("--file", "-f", help='JSONL of {"id", "text"} lines.')] = None,
) -> None:
    """Extract entities and print JSON (one object, or one line per input line with --file)."""
    from hybrid_ner.pipeline import Pipeline

    if (text is None) == (file is None):
        raise typer.BadParameter("give either TEXT or --file, not both")
    if file is not None and not file.is_file():
        raise typer.BadParameter(f"{file} is not a file", param_hint="--file")
    pipeline = Pipeline(settings=get_settings())
    if text is not None:
        if text == "-":
            text = sys.stdin.read()
        _emit(pipeline.extract(text)[0].to_output(), sys.stdout)
        return
    assert file is not None
    failed = 0
    total = sum(1 for _ in _lines(file)) if sys.stderr.isatty() else None
    pending: list[tuple[Any, str]] = []

    def flush(bar: Any) -> None:
        for (rid, _), result in zip(pending, pipeline.extract([t for _, t in pending]), strict=True):
            _emit({"id": rid, **result.to_output()}, sys.stdout)
        if bar is not None:
            bar.advance(bar.task_ids[0], len(pending))
        pending.clear()

    with _progress(total) as bar:
        for lineno, raw in _lines(file):
            rid, body, error = _parse_line(raw, lineno)
            if error is not None:
                flush(bar)  # keep output in input order
                failed += 1
                _emit({"id": rid, "error": error}, sys.stdout)
                typer.echo(f"{file}:{error}", err=True)
                if bar is not None:
                    bar.advance(bar.task_ids[0])
                continue
            assert body is not None
            pending.append((rid, body))
            if len(pending) >= FILE_BATCH:
                flush(bar)
        flush(bar)
    if failed:
        typer.echo(f"{failed} line(s) failed", err=True)
        raise typer.Exit(code=1)


@app.command("train-ner")
def train_ner_cmd(
    train: Annotated[Path, typer.Option(help="Training data: CoNLL BIO file or JSONL spans.", exists=True)],
    dev: Annotated[Path, typer.Option(help="Dev data for model selection and calibration.", exists=True)],
    out: Annotated[Path, typer.Option(help="Output model directory.")],
    epochs: int = 4,
    lr: float = 1.5e-4,
    batch_size: int = 32,
    shape: Annotated[bool, typer.Option(help="Use word-shape (case) features.")] = True,
    limit: Annotated[int | None, typer.Option(help="Use only the first N sentences (quick runs).")] = None,
    threads: Annotated[int, typer.Option(help="Torch threads for training.")] = 2,
) -> None:
    """Fine-tune the local NER model from the packaged MiniLM encoder and write a model directory."""
    import logging

    import torch
    from rich.progress import Progress

    from hybrid_ner.ner.train import TrainArgs, train_ner

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")  # per-epoch dev F1 on stderr
    torch.set_num_threads(threads)
    args = TrainArgs(
        train=train, dev=dev, out=out, epochs=epochs, lr=lr, batch_size=batch_size, use_shape=shape, limit=limit
    )
    with Progress(transient=False) as progress:
        task = progress.add_task("training", total=None)

        def report(step: int, total: int, loss: float) -> None:
            progress.update(task, completed=step, total=total, description=f"training loss={loss:.3f}")

        config = train_ner(args, progress=report)
    dev_m = config.metrics["dev"]
    typer.echo(json.dumps({"out": str(out), "dev_f1": dev_m["f1"], "dev_ece": dev_m["ece"], "history": args.history}))


def main() -> None:
    app()


if __name__ == "__main__":
    main()
