"""One worker: a pipeline loaded once (model, schema, linker), then whole shards through it.

The same class runs in-process (``--engine local``) and as a Ray actor (``--engine ray``), so both engines give
the same rows.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from hybrid_ner.batch.shards import Shard, read, write
from hybrid_ner.memory import peak_rss_mb
from hybrid_ner.records import error_row, result_row


@dataclass(frozen=True)
class Job:
    """What every worker needs: the resolved schema (so all workers use the same one), the strategy, linking,
    batch size, and where outputs go."""

    out_dir: str
    fmt: str
    batch_size: int
    strategy: str
    schema: dict[str, Any]
    link: bool | None
    index: str | None = None  # the dense index built for this run, relative to the data directory's index/


@dataclass
class ShardStats:
    name: str
    records: int = 0
    errors: int = 0
    labels: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    pid: int = 0
    peak_rss_mb: float = 0.0


class ShardWorker:
    """Holds a loaded pipeline; ``process(shard)`` writes the shard's output and returns its counts."""

    def __init__(self, job: Job, index_files: list[Any] | None = None) -> None:
        import os

        from hybrid_ner.pipeline import Pipeline
        from hybrid_ner.schemas import Schema

        self.job = job
        if index_files:  # on Ray: the index the driver built, sent through the object store
            _materialize(index_files[0])
        self.schema = Schema.model_validate(job.schema)
        self.pipeline = Pipeline(self.schema, job.strategy)
        self.pipeline.extract(["Warm-up sentence for Berlin."], link=job.link)  # load model and linker now
        self.pid = os.getpid()

    def process(self, shard: Shard) -> ShardStats:
        started = time.perf_counter()
        stats = ShardStats(shard.name, pid=self.pid)
        labels: Counter[str] = Counter()
        rows: list[dict[str, Any] | None] = []
        pending: list[tuple[int, Any, str]] = []

        def flush() -> None:
            results = self.pipeline.extract([t for _, _, t in pending], link=self.job.link)
            for (slot, rid, _), result in zip(pending, results, strict=True):
                rows[slot] = result_row(rid, result)
                labels.update(e.span.label for e in result.entities)
            pending.clear()

        for rid, record, error in read(shard):
            stats.records += 1
            if record is None:
                stats.errors += 1
                rows.append(error_row(rid, error or "unreadable record"))
                continue
            rows.append(None)
            pending.append((len(rows) - 1, rid, record["text"]))
            if len(pending) >= self.job.batch_size:
                flush()
        if pending:
            flush()
        write(shard.output(Path(self.job.out_dir), self.job.fmt), [r for r in rows if r is not None], self.job.fmt)
        stats.labels = dict(labels)
        stats.seconds = time.perf_counter() - started
        stats.peak_rss_mb = peak_rss_mb()
        return stats

    def __call__(self, batch: dict[str, Any]) -> dict[str, list[Any]]:
        """Ray Data's entry point: a batch of shard descriptors in, one row of counts per shard out."""
        shards = [Shard(**{k: _plain(batch[k][i]) for k in batch}) for i in range(len(batch["name"]))]
        done = [asdict(self.process(s)) for s in shards]
        return {k: [d[k] if k != "labels" else _json(d[k]) for d in done] for k in done[0]} if done else {}


def _materialize(ref: Any) -> None:
    """Write the driver's index files under this machine's data directory, unless the same files are there."""
    import hashlib

    import ray

    from hybrid_ner.config import get_settings
    from hybrid_ner.files import write_whole

    root = get_settings().data_dir / "index"
    for rel, data in ray.get(ref).items():
        target = root / rel
        if target.is_file() and hashlib.sha256(target.read_bytes()).digest() == hashlib.sha256(data).digest():
            continue  # the same content (never judged by size: a rebuilt index can have the old one's size)
        target.parent.mkdir(parents=True, exist_ok=True)
        write_whole(target, data)


def _plain(value: Any) -> Any:
    """A numpy scalar from a Ray Data batch as a plain Python value."""
    return value.item() if hasattr(value, "item") else value


def _json(value: Any) -> str:
    import json

    return json.dumps(value)
