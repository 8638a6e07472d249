"""``hybrid-ner batch``: annotate a corpus (JSONL or Parquet files, or a directory of them) on one process or
on Ray, with per-shard outputs that a re-run resumes from."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from hybrid_ner.cli._io import bar
from hybrid_ner.cli.extract import LinkOpt, SchemaOpt, SchemaVersionOpt, StrategyOpt, schema_arg


class Engine(StrEnum):
    local = "local"
    ray = "ray"


class Format(StrEnum):
    jsonl = "jsonl"
    parquet = "parquet"


def batch(
    source: Annotated[Path, typer.Option("--input", help="A JSONL or Parquet file of {id, text}, or a directory.")],
    out: Annotated[Path, typer.Option("--output", help="Directory for the per-shard outputs and the summary.")],
    engine: Annotated[Engine, typer.Option(help="local: this process; ray: Ray Data workers.")] = Engine.local,
    address: Annotated[
        str | None, typer.Option(help="A running Ray cluster (ray://host:port or host:port); default: a local one.")
    ] = None,
    workers: Annotated[int, typer.Option(min=1, help="Ray workers, each with its own pipeline.")] = 2,
    batch_size: Annotated[int, typer.Option(min=1, help="Texts per pipeline call.")] = 32,
    shard_size: Annotated[int, typer.Option(min=1, help="Records per shard (the unit of output and resume).")] = 500,
    fmt: Annotated[Format, typer.Option("--format", help="Output format.")] = Format.jsonl,
    strategy: StrategyOpt = None,
    schema: SchemaOpt = None,
    schema_version: SchemaVersionOpt = None,
    link: LinkOpt = None,
) -> None:
    """Annotate a corpus; a re-run skips the shards already written. Prints the summary as JSON."""
    from hybrid_ner.batch import BatchConfig, BatchError, run_batch

    config = BatchConfig(
        source=source,
        out_dir=out,
        engine=engine.value,
        address=address,
        workers=workers,
        batch_size=batch_size,
        shard_size=shard_size,
        fmt=fmt.value,
        strategy=strategy,
        schema=schema_arg(schema, schema_version),
        schema_version=schema_version,
        link=link,
    )
    with bar("annotating", only_tty=True) as progress:

        def report(done: int, total: int) -> None:
            if progress is not None:
                progress.update(progress.task_ids[0], completed=done, total=total)

        try:
            summary = run_batch(config, report)
        except (BatchError, ValueError) as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(code=1) from None
    from dataclasses import asdict

    typer.echo(json.dumps(asdict(summary)))
