"""``hybrid-ner eval``: compare router strategies offline and gate regressions. The harness in ``eval/`` is
loaded only when these commands run; the library never imports it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from hybrid_ner.config import get_settings

app = typer.Typer(no_args_is_help=True, help="Offline evaluation: compare router strategies, gate regressions.")


def _split(value: str, kind: type[Any], option: str) -> list[Any]:
    try:
        return [kind(v.strip()) for v in value.split(",") if v.strip()]
    except ValueError:
        raise typer.BadParameter(f"expected a comma-separated list, got {value!r}", param_hint=option) from None


@app.command("run")
def run(
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


@app.command("compare")
def compare(
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
