"""``hybrid-ner models`` (register and list served models) and ``hybrid-ner feedback`` (export corrections)."""

from __future__ import annotations

import getpass
import json
from pathlib import Path
from typing import Annotated

import typer

from hybrid_ner.cli._io import cli_errors, fail, write_out
from hybrid_ner.cli.learn import open_pipeline

models_app = typer.Typer(no_args_is_help=True, help="Models: register a model directory by name, list them.")
feedback_app = typer.Typer(no_args_is_help=True, help="Users' corrections: export them as training data.")


@models_app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="The name schemas and --model use for it.")],
    directory: Annotated[Path, typer.Argument(help="A model directory (adapt or calibrate output).")],
) -> None:
    """Register a model directory under NAME (its files go into the database, so every worker can serve it)."""
    with cli_errors():
        entry = open_pipeline().components.models.add(name, directory, f"cli:{getpass.getuser()}")
    typer.echo(json.dumps(entry))


@models_app.command("list")
def list_models() -> None:
    """The registered models and the default one, with the schemas each serves (as GET /v1/admin/models)."""
    with cli_errors():
        pipeline = open_pipeline()
        rows = pipeline.components.model_overview(pipeline.components.extractor)
    typer.echo(json.dumps({"models": rows}))


@feedback_app.command("export")
def export(
    fmt: Annotated[str, typer.Option("--format", help="conll or jsonl (both are what adapt --train reads).")] = "jsonl",
    schema: Annotated[str | None, typer.Option(help="Only the corrections made against this schema.")] = None,
    out: Annotated[Path | None, typer.Option(help="Write here (default: standard output).")] = None,
) -> None:
    """Every stored correction as training data for ``adapt --train``."""
    from hybrid_ner.learn.formats import Format, lines

    if fmt not in ("conll", "jsonl"):
        fail(f"--format must be conll or jsonl, not {fmt!r}")
    with cli_errors():
        rows = open_pipeline().components.feedback.rows(schema)
        write_out(out, lines(rows, Format(fmt)))
