"""``hybrid-ner models shadow|canary|promote|rollback|status|evalset``: the rollout commands over the database the
service reads, so a running service follows them at its next request (the canary's steps are taken by it)."""

from __future__ import annotations

import getpass
import json
from pathlib import Path
from typing import Annotated, Any

import typer

from hybrid_ner.cli._io import cli_errors
from hybrid_ner.cli.learn import open_pipeline
from hybrid_ner.cli.models import models_app

SchemaOpt = Annotated[
    str | None, typer.Option("--schema", help="The schema whose traffic it is (default: HNER_SCHEMA_NAME).")
]


def _who() -> str:
    return f"cli:{getpass.getuser()}"


def _open(schema: str | None) -> tuple[Any, Any]:
    pipeline = open_pipeline()
    return pipeline, pipeline.resolve_schema(schema)


@models_app.command("shadow")
def shadow(
    name: Annotated[str, typer.Argument(help="A registered model.")],
    sample: Annotated[float, typer.Option(help="Share of live texts it also runs on (0-1].")] = 0.2,
    schema: SchemaOpt = None,
) -> None:
    """Run NAME in shadow beside the served model on a sample of live texts (as POST /v1/admin/models/NAME/shadow)."""
    with cli_errors():
        pipeline, the_schema = _open(schema)
        typer.echo(json.dumps(pipeline.components.rollouts.shadow(name, the_schema, sample, _who()).view()))


@models_app.command("canary")
def canary(
    name: Annotated[str, typer.Argument(help="A registered model.")],
    steps: Annotated[
        str, typer.Option(help="Rising shares in percent, comma-separated; the last is 100.")
    ] = "1,5,25,100",
    min_requests: Annotated[int, typer.Option(help="Texts per step before it is judged.")] = 200,
    max_error_rate: Annotated[float, typer.Option(help="Guard: the largest share of failed texts.")] = 0.02,
    max_p95_ms: Annotated[float | None, typer.Option(help="Guard: the largest p95 of the local path, in ms.")] = None,
    min_agreement: Annotated[float, typer.Option(help="Guard: the least agreement with the served model.")] = 0.8,
    schema: SchemaOpt = None,
) -> None:
    """Serve NAME to a rising share of texts; a running service advances it or rolls it back by its guards."""
    from hybrid_ner.rollout.control import CanaryPlan
    from hybrid_ner.rollout.deployments import Guards

    with cli_errors():
        try:
            shares = [float(s) for s in steps.split(",")]
        except ValueError:
            raise ValueError(f"--steps must be numbers separated by commas, not {steps!r}") from None
        plan = CanaryPlan(shares, min_requests, Guards(max_error_rate, max_p95_ms, min_agreement))
        pipeline, the_schema = _open(schema)
        typer.echo(json.dumps(pipeline.components.rollouts.canary(name, the_schema, plan, _who()).view()))


@models_app.command("promote")
def promote(
    name: Annotated[str, typer.Argument(help="A registered model.")],
    force: Annotated[bool, typer.Option(help="Promote even when the evaluation gate refuses.")] = False,
    tolerance: Annotated[float, typer.Option(help="F1 the candidate may lose per evaluation set.")] = 0.005,
    schema: SchemaOpt = None,
) -> None:
    """Make NAME the served model once the evaluation gate finds no regression on the schema's sets."""
    from hybrid_ner.pipeline import run_sync
    from hybrid_ner.rollout.gate import gate

    with cli_errors():
        pipeline, the_schema = _open(schema)
        c = pipeline.components
        c.rollouts.check_model(name, the_schema)
        report = None
        if not force:
            served = c.deployments.get(the_schema.name).served
            sets = c.eval_sets.load(the_schema)
            report = run_sync(gate(pipeline.alocal, the_schema, sets, served, name, tolerance))
        d = c.rollouts.promote(name, the_schema, report, _who())
        typer.echo(json.dumps({**d.view(), "gate": None if report is None else {"passed": True, "sets": report.sets}}))


@models_app.command("rollback")
def rollback(schema: SchemaOpt = None) -> None:
    """Stop the schema's rollout, or return to the model served before."""
    with cli_errors():
        pipeline, the_schema = _open(schema)
        typer.echo(json.dumps(pipeline.components.rollouts.rollback(the_schema.name, _who()).view()))


@models_app.command("status")
def status() -> None:
    """Every schema's deployment: served model, candidate, mode, share, step, guards and the last reason."""
    with cli_errors():
        deployments = open_pipeline().components.deployments.all()
        typer.echo(json.dumps({"deployments": [d.view() for d in deployments.values()]}))


@models_app.command("evalset")
def evalset(
    name: Annotated[str, typer.Argument(help="A name for the set.")],
    path: Annotated[Path, typer.Argument(help="A labelled file (CoNLL or JSONL, as adapt --train reads).")],
    schema: SchemaOpt = None,
) -> None:
    """Register PATH as an evaluation set of the schema: the promotion gate scores models on it."""
    with cli_errors():
        pipeline, the_schema = _open(schema)
        typer.echo(json.dumps(pipeline.components.eval_sets.add(the_schema, name, path, _who())))


@models_app.command("profile")
def profile(
    directory: Annotated[Path, typer.Argument(help="A model directory.")],
    data: Annotated[
        Path, typer.Option(help="Its reference input: a labelled file (CoNLL, JSONL) or plain text lines.")
    ],
    limit: Annotated[int, typer.Option(help="At most this many texts.")] = 5000,
) -> None:
    """Write DIRECTORY/profile.json: the input figures live traffic is compared with for drift (adapt writes one
    from its training data; this writes one for any model)."""
    from hybrid_ner.rollout.profile import profile_model

    with cli_errors():
        typer.echo(json.dumps(profile_model(directory, data, limit)))
