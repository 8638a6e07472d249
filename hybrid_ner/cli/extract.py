"""``hybrid-ner extract`` and ``hybrid-ner link``: the pipeline over one text, standard input or a JSONL file."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from hybrid_ner.cli._io import advance, bar, emit, lines
from hybrid_ner.config import one_process_settings
from hybrid_ner.records import error_row, parse_line, result_row
from hybrid_ner.schemas import Schema, SchemaError, load_schema_file

FILE_BATCH = 32

StrategyOpt = Annotated[
    str | None, typer.Option("--strategy", help="Router strategy: local, llm, cascade, schema, rules (or router.*.v1).")
]
SchemaOpt = Annotated[str | None, typer.Option("--schema", help="A schema JSON file, or the name of a stored schema.")]
SchemaVersionOpt = Annotated[
    int | None, typer.Option("--schema-version", min=1, help="Version of a stored schema (default: the latest).")
]
ModelOpt = Annotated[
    str | None,
    typer.Option(
        "--model", help="The local model: a registered or shipped name, or a model directory (default: the schema's)."
    ),
]
LinkOpt = Annotated[
    bool | None,
    typer.Option("--link/--no-link", help="Link entities to the KB (default: when a KB is loaded)."),
]


def schema_arg(value: str | None, version: int | None) -> Schema | str | None:
    """``--schema`` as a file (``*.json`` or an existing path) or a stored name; a version goes with a name only."""
    if value is None:
        if version is not None:
            raise typer.BadParameter("--schema-version needs --schema NAME", param_hint="--schema-version")
        return None
    path = Path(value)
    if value.endswith(".json") or path.is_file():
        if version is not None:
            raise typer.BadParameter("--schema-version goes with a stored schema name, not a file")
        try:
            return load_schema_file(path)
        except SchemaError as exc:
            raise typer.BadParameter(str(exc), param_hint="--schema") from None
    return value


def extract(
    text: Annotated[str | None, typer.Argument(help="Text to analyse ('-' reads standard input).")] = None,
    file: Annotated[Path | None, typer.Option("--file", "-f", help='JSONL of {"id", "text"} lines.')] = None,
    strategy: StrategyOpt = None,
    schema: SchemaOpt = None,
    schema_version: SchemaVersionOpt = None,
    link: LinkOpt = None,
    model: ModelOpt = None,
) -> None:
    """Extract entities and print JSON (one object, or one line per input line with --file)."""
    from hybrid_ner.model_registry import ModelNotFoundError
    from hybrid_ner.pipeline import Pipeline

    if (text is None) == (file is None):
        raise typer.BadParameter("give either TEXT or --file, not both")
    if file is not None and not file.is_file():
        raise typer.BadParameter(f"{file} is not a file", param_hint="--file")
    chosen = schema_arg(schema, schema_version)
    try:
        pipeline = Pipeline(settings=one_process_settings(), strategy=strategy, model=model)
        the_schema = pipeline.resolve_schema(chosen, schema_version)
        if model is not None:
            pipeline.resolve_model(model, the_schema)  # an unknown model is a usage error, not a degraded result
    except (ValueError, SchemaError, ModelNotFoundError) as exc:
        raise typer.BadParameter(str(exc)) from None

    def run(texts: list[str]) -> list[Any]:
        return pipeline.extract(texts, schema=the_schema, link=link)

    if text is not None:
        emit(run([sys.stdin.read() if text == "-" else text])[0].to_output())
        return
    assert file is not None
    if _extract_file(file, run):
        raise typer.Exit(code=1)


def _extract_file(file: Path, run: Any) -> int:
    """Stream results in input order, a per-line error for each bad line; returns how many lines failed."""
    failed = 0
    pending: list[tuple[Any, str]] = []
    total = sum(1 for _ in lines(file)) if sys.stderr.isatty() else None

    def flush(progress: Any) -> None:
        for (rid, _), result in zip(pending, run([t for _, t in pending]) if pending else [], strict=True):
            emit(result_row(rid, result))
        advance(progress, len(pending))
        pending.clear()

    with bar("extracting", total, only_tty=True) as progress:
        for lineno, raw in lines(file):
            rid, row, error = parse_line(raw, lineno)
            if error is not None:
                flush(progress)  # keep output in input order
                failed += 1
                emit(error_row(rid, error))
                typer.echo(f"{file}:{error}", err=True)
                advance(progress)
                continue
            assert row is not None
            pending.append((rid, row["text"]))
            if len(pending) >= FILE_BATCH:
                flush(progress)
        flush(progress)
    if failed:
        typer.echo(f"{failed} line(s) failed", err=True)
    return failed


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
    """Link given spans to the KB (the override list applies); one JSON line out per line in."""
    from hybrid_ner.pipeline import Pipeline, run_sync
    from hybrid_ner.spans import link_output, parse_spans, span_error

    pipeline = Pipeline(settings=one_process_settings())
    failed = 0
    for lineno, raw in lines(file):
        rid, row, error = parse_line(raw, lineno)
        if row is not None:
            try:
                spans = parse_spans(row.get("spans"))
                error = span_error(row["text"], spans)
            except ValueError as exc:
                error = str(exc)
            error = f"line {lineno}: {error}" if error else None
        if error is not None or row is None:
            failed += 1
            emit(error_row(rid, error or ""))
            typer.echo(f"{file}:{error}", err=True)
            continue
        entities = run_sync(pipeline.alink([(row["text"], [(s.start, s.end, s.label) for s in spans])]))[0]
        emit({"id": rid, "links": [link_output(e) for e in entities]})
    if failed:
        raise typer.Exit(code=1)
