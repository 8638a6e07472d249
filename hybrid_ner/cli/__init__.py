"""The ``hybrid-ner`` command line (typer): a thin face over the library."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from hybrid_ner.cli import batch, evals, extract, kb, learn, models, rollout  # noqa: F401  (rollout adds to models)
from hybrid_ner.cli._io import cli_errors
from hybrid_ner.config import DEFAULT_NER_MODEL_DIR
from hybrid_ner.errors import HybridNERError

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Find entities in text and link them to a KB.")
app.command()(extract.extract)
app.command()(extract.link)
app.command()(batch.batch)
app.add_typer(kb.app, name="kb")
app.add_typer(evals.app, name="eval")
app.command()(learn.adapt)
app.command()(learn.calibrate)
app.command()(learn.select)
app.add_typer(models.models_app, name="models")
app.add_typer(models.feedback_app, name="feedback")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to bind.", min=1, max=65535)] = 8000,
    workers: Annotated[
        int | None, typer.Option(help="Worker processes (default HNER_WORKERS, else the CPU count).", min=1, max=64)
    ] = None,
) -> None:
    """Start the REST service and the playground page."""
    import os
    import tempfile

    import uvicorn

    from hybrid_ner.config import get_settings
    from hybrid_ner.service.app import create_app
    from hybrid_ner.service.middleware import configure_logging

    count = workers or get_settings().workers
    configure_logging()
    typer.echo(
        f"hybrid-ner: {count} worker(s); playground http://{host}:{port}/  API docs http://{host}:{port}/docs", err=True
    )
    if count == 1:
        uvicorn.run(create_app(), host=host, port=port, log_config=None, access_log=False)
        return
    # Workers are separate processes: the database is migrated once here, before they start, and /metrics adds up
    # their counters through prometheus_client's multiprocess files, in a fresh directory per start that goes
    # when the service stops.
    from hybrid_ner.service.workers import run_workers
    from kb.db import make_engine, migrate

    migrate(make_engine(get_settings().database_url))
    with tempfile.TemporaryDirectory(prefix="hner-metrics-") as metrics:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics
        run_workers(host, port, count)


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
    layers: Annotated[
        int | None, typer.Option(help="Keep only the encoder's first N layers (a smaller student).")
    ] = None,
    teacher: Annotated[
        Path | None, typer.Option(help="Distil from this model directory, starting the student from its weights.")
    ] = None,
    holdout: Annotated[
        list[Path] | None,
        typer.Option(
            help="An evaluation set the training data must not hold (repeatable; --dev is checked too).", exists=True
        ),
    ] = None,
    noise: Annotated[
        float,
        typer.Option(
            help="Also train on a noisy copy (lowercased, uppercased, title-cased, a hashtag, a handle, no final "
            "stop) of this share of the sentences.",
            min=0.0,
            max=1.0,
        ),
    ] = 0.0,
    unlabelled: Annotated[
        list[Path] | None,
        typer.Option(
            help="UTF-8 text, one paragraph or sentence per line, that the --teacher labels for the student "
            "(repeatable).",
            exists=True,
            dir_okay=False,
        ),
    ] = None,
    replace: Annotated[
        float,
        typer.Option(
            help="Also train on a copy of this share of the sentences with their names swapped for others of the "
            "same label from --names.",
            min=0.0,
            max=1.0,
        ),
    ] = 0.0,
    names: Annotated[
        Path | None,
        typer.Option(help="Names for --replace: UTF-8, one 'LABEL<TAB>name' per line.", exists=True, dir_okay=False),
    ] = None,
) -> None:
    """Fine-tune the local NER model from the packaged MiniLM encoder and write a model directory. Refuses
    training data that holds the sentences of --dev or of a --holdout set."""
    import logging

    import torch
    from rich.progress import Progress

    from hybrid_ner.ner.train import TrainArgs, train_ner

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")  # per-epoch dev F1 on stderr
    torch.set_num_threads(threads)
    args = TrainArgs(
        train=train,
        dev=dev,
        out=out,
        epochs=epochs,
        lr=lr,
        batch_size=batch_size,
        use_shape=shape,
        limit=limit,
        layers=layers,
        teacher=teacher,
        holdouts=tuple(holdout or ()),
        noise=noise,
        unlabelled=tuple(unlabelled or ()),
        replace=replace,
        names=names,
    )
    with cli_errors(), Progress(transient=False) as progress:
        task = progress.add_task("training", total=None)

        def report(step: int, total: int, loss: float) -> None:
            progress.update(task, completed=step, total=total, description=f"training loss={loss:.3f}")

        config = train_ner(args, progress=report)
    dev_m = config.metrics["dev"]
    typer.echo(json.dumps({"out": str(out), "dev_f1": dev_m["f1"], "dev_ece": dev_m["ece"], "history": args.history}))


@app.command("export-ner")
def export_ner_cmd(
    calibration: Annotated[
        Path, typer.Option(help="CoNLL BIO or JSONL sentences to calibrate int8 ranges on.", exists=True)
    ],
    model: Annotated[
        Path, typer.Option(help="Model directory (train-ner output).", exists=True)
    ] = DEFAULT_NER_MODEL_DIR,
    every: Annotated[int, typer.Option(help="Calibrate on every Nth sentence.", min=1)] = 10,
) -> None:
    """Export a model directory to the served runtime: an ONNX graph with static int8 MatMuls (ner.int8.onnx)."""
    from hybrid_ner.ner.data import read_tagged
    from hybrid_ner.ner.static_int8 import export_onnx, note_export

    sentences = [s.words for s in read_tagged(calibration)[::every]]
    out = export_onnx(model, sentences)
    speed = note_export(model, calibration, sentences)
    summary = {"out": str(out), "calibration_sentences": len(sentences), "bytes": out.stat().st_size}
    typer.echo(json.dumps({**summary, "words_per_s": round(speed)}))


def main() -> None:
    try:
        app()
    except HybridNERError as exc:  # a deliberate error (a missing package, an unreadable override list): no traceback
        typer.echo(f"error: {exc}", err=True)
        raise SystemExit(1) from None
