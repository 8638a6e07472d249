"""Corpus annotation: ``run_batch`` runs the same pipeline as the CLI and the service over sharded input, on
one process or on Ray, writing one output file per shard atomically, so a re-run resumes where it stopped."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hybrid_ner.batch.shards import BatchError, Shard, claim, describe, plan, read_output
from hybrid_ner.batch.worker import Job, ShardStats
from hybrid_ner.files import write_whole
from hybrid_ner.schemas import Schema

__all__ = ["BatchConfig", "BatchError", "Summary", "run_batch"]


@dataclass(frozen=True)
class BatchConfig:
    source: Path
    out_dir: Path
    engine: str = "local"  # local | ray
    address: str | None = None
    workers: int = 1
    batch_size: int = 32
    shard_size: int = 1000
    fmt: str = "jsonl"  # jsonl | parquet
    strategy: str | None = None
    schema: Schema | str | None = None
    schema_version: int | None = None
    link: bool | None = None


@dataclass
class Summary:
    """Totals over the whole output (resumed shards included) and what this run did."""

    shards: int = 0
    shards_run: int = 0
    records: int = 0
    errors: int = 0
    labels: dict[str, int] = field(default_factory=dict)
    records_run: int = 0
    wall_s: float = 0.0
    docs_per_s: float = 0.0
    peak_rss_mb_per_worker: dict[str, float] = field(default_factory=dict)


def run_batch(config: BatchConfig, progress: Callable[[int, int], None] | None = None) -> Summary:
    """Annotate every record of ``config.source`` into ``config.out_dir``; ``progress(done, total)`` per shard."""
    started = time.perf_counter()
    shards, digests = plan(config.source, config.shard_size)
    job, manifest = _prepare(config, shards, digests)
    claim(config.out_dir, manifest)
    todo = [s for s in shards if not s.output(config.out_dir, config.fmt).is_file()]
    total = sum(s.stop - s.start for s in todo)
    summary = Summary(shards=len(shards), shards_run=len(todo))
    if todo:
        from hybrid_ner.batch.engines import run_local, run_ray

        runs = run_local(todo, job) if config.engine == "local" else run_ray(todo, job, config.workers, config.address)
        for stats in runs:
            _account(summary, stats)
            if progress:
                progress(summary.records_run, total)
    summary.wall_s = time.perf_counter() - started
    summary.docs_per_s = summary.records_run / summary.wall_s if summary.wall_s else 0.0
    _totals(summary, shards, config)
    write_whole(config.out_dir / "_summary.json", _json(summary))
    return summary


def _prepare(config: BatchConfig, shards: list[Shard], digests: dict[str, str]) -> tuple[Job, dict[str, Any]]:
    """The job for the workers and the manifest that identifies this run: inputs, options, the resolved schema,
    the model, the code and, when it links, the KB's identity and versions."""
    from hybrid_ner.config import get_settings
    from hybrid_ner.llm.prompting import prompt_version
    from hybrid_ner.packages import code_digest
    from hybrid_ner.pipeline import Pipeline

    pipeline = Pipeline(strategy=config.strategy)
    schema = pipeline.resolve_schema(config.schema, config.schema_version)
    settings = get_settings()
    state = pipeline.components.state()
    index = None
    resolver = pipeline.components.resolver(state)
    if config.link is not False and state.kb_version and resolver is not None:
        resolver.index.persist()  # built once here; workers load it instead of building their own
        index = str(resolver.index.path.relative_to(settings.data_dir / "index"))
    job = Job(
        out_dir=str(config.out_dir.resolve()),
        fmt=config.fmt,
        batch_size=config.batch_size,
        strategy=pipeline.strategy,
        schema=schema.model_dump(mode="json"),
        link=config.link,
        index=index,
    )
    manifest = {
        "inputs": digests,
        "shards": describe(shards),
        "format": config.fmt,
        "strategy": job.strategy,
        "schema": schema.content_hash(),
        "link": config.link,
        "model": [settings.extractor, _model_digest(pipeline, schema), settings.ner_runtime, settings.ner_quantize],
        "llm": [settings.llm_model, prompt_version()],
        "code": code_digest(),
        "kb": [state.database_id, state.kb_version, state.override_version] if config.link is not False else None,
    }
    return job, manifest


def _model_digest(pipeline: Any, schema: Schema) -> str:
    """The content digest of the local model the run uses: the one serving the schema, else the default. It is
    the digest written beside the model's files, checked against them, so a model changed in place (even at the
    same size) never resumes onto the old one's output: the manifest differs, and the run stops and says so."""
    from hybrid_ner.model_registry import directory_ref

    ref = pipeline.model_ref(schema)
    return (ref or directory_ref(pipeline.settings.ner_model)).digest


def _account(summary: Summary, stats: ShardStats) -> None:
    summary.records_run += stats.records
    key = f"pid {stats.pid}"
    summary.peak_rss_mb_per_worker[key] = round(max(summary.peak_rss_mb_per_worker.get(key, 0.0), stats.peak_rss_mb), 1)


def _totals(summary: Summary, shards: list[Shard], config: BatchConfig) -> None:
    labels: Counter[str] = Counter()
    for shard in shards:
        for row in read_output(shard.output(config.out_dir, config.fmt)):
            summary.records += 1
            summary.errors += "error" in row
            labels.update(e["label"] for e in row.get("entities", []))
    summary.labels = dict(sorted(labels.items()))


def _json(summary: Summary) -> str:
    import json
    from dataclasses import asdict

    return json.dumps(asdict(summary), indent=2)
