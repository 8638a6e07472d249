"""``hybrid-ner adapt``, ``calibrate`` and ``select``: the learning loop from the command line.

Each prints one JSON object (``select`` writes its picks); a bad input file, schema or model is an ``error:``
line that names it, exit code 2, and nothing written.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

import typer

from hybrid_ner.cli._io import cli_errors, fail, write_out
from hybrid_ner.schemas import Schema

SchemaArg = Annotated[str, typer.Option("--schema", help="A schema JSON file, or the name of a stored schema.")]
ModelOpt = Annotated[
    str | None,
    typer.Option("--model", help="A registered or shipped model's name, or a model directory (default: the served)."),
]
ThreadsOpt = Annotated[int | None, typer.Option(help="Torch threads (default: every core).", min=1)]
OverwriteOpt = Annotated[bool, typer.Option(help="Replace --out if it holds a model (in one rename, at the end).")]


def open_pipeline() -> Any:
    from hybrid_ner.config import get_settings
    from hybrid_ner.pipeline import Pipeline

    return Pipeline(settings=get_settings())


def _schema(pipeline: Any, value: str) -> Schema:
    from hybrid_ner.cli.extract import schema_arg

    try:
        return pipeline.resolve_schema(schema_arg(value, None))  # type: ignore[no-any-return]
    except typer.BadParameter as exc:
        fail(str(exc))


def _threads(threads: int | None) -> None:
    import torch

    torch.set_num_threads(threads or os.cpu_count() or 1)


def _progress(label: str) -> tuple[Any, Callable[[int, int, float], None]]:
    from rich.console import Console
    from rich.progress import Progress

    progress = Progress(console=Console(stderr=True), transient=True, disable=not sys.stderr.isatty())
    task = progress.add_task(label, total=None)

    def report(step: int, total: int, loss: float) -> None:
        progress.update(task, completed=step, total=total, description=f"{label} loss={loss:.3f}")

    return progress, report


def adapt(
    schema: SchemaArg,
    train: Annotated[Path, typer.Option(help="Labelled sentences: CoNLL, JSONL spans, doccano or Label Studio.")],
    out: Annotated[Path, typer.Option(help="The model directory to write (it must not exist, or be empty).")],
    dev: Annotated[
        Path | None, typer.Option(help="Held-out labelled sentences for the best epoch and calibration.")
    ] = None,
    base: Annotated[
        str | None, typer.Option(help="Model to start from: registered or shipped name, or directory.")
    ] = None,
    epochs: Annotated[int | None, typer.Option(help="Epochs (default: ~400 optimiser steps' worth).", min=1)] = None,
    seed: Annotated[int, typer.Option(help="Random seed (data order, folds, new rows).")] = 13,
    folds: Annotated[int, typer.Option(help="Without --dev: folds of train for epochs and calibration.", min=2)] = 3,
    batch_size: Annotated[int, typer.Option(help="Sentences per optimiser step.", min=1)] = 16,
    lr: Annotated[float, typer.Option(help="Learning rate of the encoder (the head learns 10x faster).")] = 2e-4,
    augment: Annotated[
        int, typer.Option(help="Also train on N copies of each sentence with its mentions swapped for others.", min=0)
    ] = 0,
    holdout: Annotated[
        list[Path] | None,
        typer.Option(
            help="An evaluation set the training data must not hold (repeatable; --dev and the schema's "
            "registered evaluation sets are checked too)."
        ),
    ] = None,
    overwrite: OverwriteOpt = False,
    threads: ThreadsOpt = None,
) -> None:
    """Fine-tune a local model for a schema's types from labelled sentences, calibrate it and export it to the
    served runtime; prints labels, dev F1, ECE, seconds and out. Refuses training data that holds an evaluation
    set's sentences."""
    from hybrid_ner.learn.adapt import AdaptArgs
    from hybrid_ner.learn.adapt import adapt as run_adapt

    _threads(threads)
    with cli_errors():
        pipeline = open_pipeline()
        the_schema = _schema(pipeline, schema)
        ref = _base_ref(pipeline, base)
        args = AdaptArgs(
            schema=the_schema, train=train, out=out, base=ref, dev=dev, epochs=epochs, seed=seed, folds=folds,
            batch_size=batch_size, lr=lr, head_lr=lr * 10, augment=augment, overwrite=overwrite,
            holdouts=_holdouts(pipeline, the_schema, holdout or []),
        )  # fmt: skip
        progress, report = _progress("adapting")
        with progress:
            result = run_adapt(args, report)
    typer.echo(json.dumps(asdict(result)))


def _holdouts(pipeline: Any, schema: Schema, paths: list[Path]) -> list[Any]:
    """The files named by --holdout, read like the training data, and the schema's registered evaluation sets."""
    from hybrid_ner.learn.data import read_labelled
    from hybrid_ner.ner.holdout import Holdout

    types = [t.name for t in schema.types]
    files = [Holdout(str(p), read_labelled(p, types).sentences) for p in paths]
    registered = pipeline.components.eval_sets.load(schema)
    return files + [Holdout(f"{name!r} (registered for {schema.name})", d.sentences) for name, d in registered.items()]


def _base_ref(pipeline: Any, base: str | None) -> Any:
    from hybrid_ner.model_registry import directory_ref

    if base is None:
        return directory_ref(pipeline.settings.ner_model)
    state = pipeline.components.state()
    return pipeline.components.model_ref(base, state.model_version)


def calibrate(
    model: Annotated[str, typer.Option(help="The model: a registered or shipped name, or a model directory.")],
    data: Annotated[Path, typer.Option(help="A labelled sample of your text (CoNLL, JSONL, doccano, Label Studio).")],
    out: Annotated[Path, typer.Option(help="Where to write the recalibrated copy (must not exist, or be empty).")],
    schema: Annotated[
        str | None, typer.Option(help="The sample's tags are this schema's types (default: the model's labels).")
    ] = None,
    overwrite: OverwriteOpt = False,
    threads: ThreadsOpt = None,
    seen_from: Annotated[
        Path | None,
        typer.Option(help="The labelled data the model was trained on: confidence learns which names it has seen."),
    ] = None,
) -> None:
    """Refit only the confidence map of a model on a labelled sample of your text, and write a copy with it."""
    from hybrid_ner.learn.recalibrate import recalibrate

    _threads(threads)
    with cli_errors():
        pipeline = open_pipeline()
        the_schema = _schema(pipeline, schema) if schema is not None else None
        ref = pipeline.components.model_ref(model, pipeline.components.state().model_version)
        result = recalibrate(ref, data, out, the_schema, overwrite=overwrite, seen_from=seen_from)
    typer.echo(json.dumps(asdict(result)))


def select(
    input: Annotated[Path, typer.Option("--input", help='The unlabelled pool: JSONL of {"id"?, "text"} lines.')],
    n: Annotated[int, typer.Option(help="How many texts to pick.", min=1)],
    model: ModelOpt = None,
    schema: Annotated[str | None, typer.Option(help="Schema file or stored name (default: the default).")] = None,
    by: Annotated[str, typer.Option(help="uncertainty, diversity or random.")] = "uncertainty",
    fmt: Annotated[str, typer.Option("--format", help="jsonl, label-studio or doccano.")] = "jsonl",
    out: Annotated[Path | None, typer.Option(help="Write here (default: standard output).")] = None,
    seed: Annotated[int, typer.Option(help="Seed for --by random.")] = 13,
    threads: ThreadsOpt = None,
) -> None:
    """Pick the texts whose labels would teach the model the most, with its pre-annotations, for annotation."""
    from hybrid_ner.learn.formats import Format, label_studio_config, lines
    from hybrid_ner.learn.select import By, read_pool
    from hybrid_ner.learn.select import select as pick

    _threads(threads)
    with cli_errors():
        how, form = By(by), Format(fmt)
        if form == Format.CONLL:
            raise ValueError("--format conll is for labelled data: use jsonl, label-studio or doccano")
        pool = read_pool(input)
        pipeline = open_pipeline()
        the_schema = _schema(pipeline, schema) if schema is not None else pipeline.resolve_schema(None)
        extractor = pipeline.resolve_model(model, the_schema)
        chosen = pick(pool, n, how, extractor, the_schema, seed)
        rows = [{"id": t.id, "text": t.text, "entities": t.entities, "score": t.score} for t in chosen]
        write_out(out, lines(rows, form, str(getattr(extractor, "version", ""))))
    typer.echo(
        f"selected {len(chosen)} of {len(pool)} texts by {how.value}; Label Studio labelling config: "
        + label_studio_config(the_schema.labels),
        err=True,
    )
