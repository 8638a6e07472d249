"""The ``hybrid-ner`` command line (typer)."""

from __future__ import annotations

import asyncio
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


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to bind.", min=1, max=65535)] = 8000,
) -> None:
    """Start the REST service and the playground page."""
    import uvicorn

    from hybrid_ner.service.app import configure_logging, create_app

    configure_logging()
    typer.echo(f"hybrid-ner: playground http://{host}:{port}/  API docs http://{host}:{port}/docs", err=True)
    uvicorn.run(create_app(), host=host, port=port, log_config=None, access_log=False)


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


kb_app = typer.Typer(no_args_is_help=True, help="Knowledge base: build, load, index.")
app.add_typer(kb_app, name="kb")


def _bar(label: str) -> Any:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    return Progress(
        TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), console=Console(stderr=True)
    )


def _index(pipeline: Any) -> None:
    """Bring the dense index up to date with the KB (a full build the first time)."""
    from linking.embedder import Embedder
    from linking.index import DenseIndex

    index = DenseIndex(pipeline.kb, Embedder(), pipeline.settings.data_dir / "index")
    if index.load():
        index.refresh()
        typer.echo(f"index: {index.size()} entries (updated incrementally)", err=True)
        return
    with _bar("embedding KB entries") as bar:
        task = bar.add_task("embed", total=pipeline.kb.count())
        index.build(progress=lambda n: bar.advance(task, n))
    typer.echo(f"index: {index.size()} entries built", err=True)


@kb_app.command("build-default")
def kb_build_default(
    min_population: Annotated[
        int, typer.Option(help="Smallest city population to include (500 gives ~270k entities).")
    ] = 15000,
    index: Annotated[bool, typer.Option(help="Also build the dense index.")] = True,
) -> None:
    """Build the bundled KB (GeoNames cities, countries, US states, ISO subdivisions, airports); idempotent."""
    from hybrid_ner.pipeline import Pipeline
    from kb.loaders import build_default

    pipeline = Pipeline(settings=get_settings())
    with _bar("loading default KB") as bar:
        task = bar.add_task("load", total=None)
        report = build_default(pipeline.kb, min_population, progress=lambda n: bar.advance(task, n))
    typer.echo(json.dumps({"loaded": report.loaded, "skipped": report.skipped, "entities": pipeline.kb.count()}))
    if index:
        _index(pipeline)


@kb_app.command("load")
def kb_load(
    file: Annotated[
        Path,
        typer.Argument(
            help="JSONL, CSV, or a Wikidata JSON dump (.json, .json.gz, .json.bz2).", exists=True, dir_okay=False
        ),
    ],
    index: Annotated[bool, typer.Option(help="Also update the dense index.")] = True,
) -> None:
    """Load entities from a file by its type; re-running it does not duplicate anything."""
    from hybrid_ner.pipeline import Pipeline
    from kb.loaders import load_file

    pipeline = Pipeline(settings=get_settings())
    with _bar(f"loading {file.name}") as bar:
        task = bar.add_task("load", total=None)
        report = load_file(pipeline.kb, file, progress=lambda n: bar.advance(task, n))
    for error in report.errors:
        typer.echo(error, err=True)
    typer.echo(json.dumps({"loaded": report.loaded, "skipped": report.skipped, "entities": pipeline.kb.count()}))
    if index:
        _index(pipeline)


@app.command()
def link(
    file: Annotated[
        Path,
        typer.Option(
            "--file",
            "-f",
            help='JSONL of {"id", "text", "spans": [{"start", "end", "label"?}]}.',
            exists=True,
            dir_okay=False,
        ),
    ],
) -> None:
    """Link given spans to the KB; one JSON line out per line in."""
    from hybrid_ner.pipeline import Pipeline

    pipeline = Pipeline(settings=get_settings())
    failed = 0
    for lineno, raw in _lines(file):
        rid, text, error = _parse_line(raw, lineno)
        spans: list[tuple[int, int, str | None]] = []
        if text is not None:
            try:
                row = json.loads(raw)
                spans = [(int(s["start"]), int(s["end"]), s.get("label")) for s in row["spans"]]
                if any(not 0 <= a < b <= len(text) for a, b, _ in spans):
                    raise ValueError("every span must lie inside the text")
            except (ValueError, KeyError, TypeError) as exc:
                error = f"line {lineno}: bad spans ({exc})"
        if error is not None:
            failed += 1
            _emit({"id": rid, "error": error}, sys.stdout)
            typer.echo(f"{file}:{error}", err=True)
            continue
        assert text is not None
        links = asyncio.run(pipeline.alink([(text, spans)]))[0]
        out = [
            {
                "start": a,
                "end": b,
                "kb_id": lk.kb_id,
                "score": lk.score,
                "candidates": [c.model_dump() for c in lk.candidates],
            }
            for (a, b, _), lk in zip(spans, links, strict=True)
        ]
        _emit({"id": rid, "links": out}, sys.stdout)
    if failed:
        raise typer.Exit(code=1)


eval_app = typer.Typer(no_args_is_help=True, help="Offline evaluation: compare router strategies, gate regressions.")
app.add_typer(eval_app, name="eval")


def _split(value: str, kind: type[Any], option: str) -> list[Any]:
    try:
        return [kind(v.strip()) for v in value.split(",") if v.strip()]
    except ValueError:
        raise typer.BadParameter(f"expected a comma-separated list, got {value!r}", param_hint=option) from None


@eval_app.command("run")
def eval_run(
    data: Annotated[Path, typer.Option(help="Dataset file.", exists=True, dir_okay=False)],
    out: Annotated[Path, typer.Option(help="Directory for report.md, report.json and the plots.")],
    fmt: Annotated[
        str | None, typer.Option("--format", help="conll, jsonl or elevant (default: from the name).")
    ] = None,
    strategies: Annotated[str, typer.Option(help="Comma-separated router strategies.")] = "local,cascade",
    thresholds: Annotated[str, typer.Option(help="Comma-separated thresholds for cascade/schema.")] = "0.5,0.7,0.9",
    limit: Annotated[int | None, typer.Option(help="Evaluate a seeded sample of N documents.", min=1)] = None,
    seed: int = 13,
    holdout_label: Annotated[
        str | None, typer.Option(help="Treat this label as a new type known only from its schema (no local mapping).")
    ] = None,
    granularity: Annotated[str | None, typer.Option(help="span or sentence (default: HNER_GRANULARITY).")] = None,
) -> None:
    """Run strategies x thresholds over a dataset and write the report; prints the summary table."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from eval import report as reports
    from eval.harness import EvalConfig, run_eval

    config = EvalConfig(
        data=data,
        fmt=fmt,
        strategies=_split(strategies, str, "--strategies"),
        thresholds=_split(thresholds, float, "--thresholds"),
        out=out,
        limit=limit,
        seed=seed,
        holdout_label=holdout_label,
        granularity=granularity,
    )
    console = Console(stderr=True)
    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), console=console
    ) as bar:

        def progress(label: str, total: int) -> Any:
            task = bar.add_task(label, total=total)
            return lambda n: bar.advance(task, n)

        try:
            result = run_eval(config, get_settings(), progress=progress)
        except (ValueError, FileNotFoundError) as exc:
            raise typer.BadParameter(str(exc)) from None
    reports.write(result, out)
    typer.echo(reports.markdown(result).split("\n## ")[0])
    if result["skipped_lines"]:
        typer.echo(f"{result['skipped_lines']} input line(s) were skipped; see report.json", err=True)


@eval_app.command("compare")
def eval_compare(
    run_a: Annotated[Path, typer.Argument(help="Baseline run directory (or its report.json).", exists=True)],
    run_b: Annotated[Path, typer.Argument(help="Candidate run directory (or its report.json).", exists=True)],
    max_f1_drop: Annotated[float, typer.Option(help="Fail when any run's F1 drops by more than this.")] = 0.01,
) -> None:
    """Diff two runs; exit 1 when the candidate's F1 drops past the allowed margin (a canary gate)."""
    from eval import report as reports

    try:
        rows, ok = reports.compare(reports.load(run_a), reports.load(run_b), max_f1_drop)
    except (ValueError, KeyError) as exc:
        raise typer.BadParameter(str(exc)) from None
    typer.echo("\n".join(rows))
    if not ok:
        typer.echo(f"F1 dropped by more than {max_f1_drop}", err=True)
        raise typer.Exit(code=1)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
