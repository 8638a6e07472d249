"""The ``hybrid-ner`` command line (typer): a thin face over the library."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from hybrid_ner.cli import batch, evals, extract, kb
from hybrid_ner.errors import HybridNERError

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Find entities in text and link them to a KB.")
app.command()(extract.extract)
app.command()(extract.link)
app.command()(batch.batch)
app.add_typer(kb.app, name="kb")
app.add_typer(evals.app, name="eval")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to bind.", min=1, max=65535)] = 8000,
) -> None:
    """Start the REST service and the playground page."""
    import uvicorn

    from hybrid_ner.service.app import create_app
    from hybrid_ner.service.middleware import configure_logging

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


def main() -> None:
    try:
        app()
    except HybridNERError as exc:  # a deliberate error (a missing package, an unreadable override list): no traceback
        typer.echo(f"error: {exc}", err=True)
        raise SystemExit(1) from None
