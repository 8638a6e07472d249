"""Where shards run: in this process (``local``), or on Ray (a local instance, or a cluster by address) with Ray
Data scheduling one ``ShardWorker`` actor per worker over the list of shards. Both yield each shard's counts as
it finishes."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator, Sequence
from dataclasses import asdict

from hybrid_ner.batch.shards import BatchError, Shard
from hybrid_ner.batch.worker import Job, ShardStats, ShardWorker

# Passed on to Ray workers, so that their settings (database, model, LLM, data directory) are the driver's.
ENV_PREFIXES = ("HNER_", "OMP_", "HF_", "LITELLM_")


def run_local(shards: Sequence[Shard], job: Job) -> Iterator[ShardStats]:
    worker = ShardWorker(job)
    for shard in shards:
        yield worker.process(shard)


def _index_files(rel: str) -> dict[str, bytes]:
    """The built index as bytes by path, for workers on machines that do not share this data directory."""
    from hybrid_ner.config import get_settings

    root = get_settings().data_dir / "index"
    return {str(p.relative_to(root)): p.read_bytes() for p in (root / rel).iterdir() if p.is_file()}


def run_ray(shards: Sequence[Shard], job: Job, workers: int, address: str | None) -> Iterator[ShardStats]:
    """Ray Data over the shard list: ``workers`` actors, each loading the pipeline once and taking one shard at a
    time, so a slow shard never holds others back."""
    try:
        import ray
        import ray.data
    except ImportError:
        raise BatchError("--engine ray needs the 'ray' package: pip install 'ray[data]==2.60.0'") from None
    env = {k: v for k, v in os.environ.items() if k.startswith(ENV_PREFIXES)}
    env.setdefault("OMP_NUM_THREADS", "1")
    env["HNER_DATA_DIR"] = os.path.abspath(env.get("HNER_DATA_DIR", "data"))
    for name in ("ray", "ray.data"):
        logging.getLogger(name).setLevel(logging.ERROR)
    try:
        ray.init(
            address=address,
            num_cpus=None if address else max(workers, os.cpu_count() or 1),
            include_dashboard=False,
            logging_level=logging.ERROR,
            log_to_driver=False,
            runtime_env={"env_vars": env},
        )
    except ConnectionError as exc:
        raise BatchError(f"cannot reach the Ray cluster at {address}: {exc}") from None
    try:
        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = False
        context.print_on_execution_start = False
        rows = [asdict(s) for s in shards]
        index = [ray.put(_index_files(job.index))] if job.index else None
        dataset = ray.data.from_items(rows, override_num_blocks=len(rows)).map_batches(
            ShardWorker,
            fn_constructor_kwargs={"job": job, "index_files": index},
            batch_size=1,
            compute=ray.data.ActorPoolStrategy(size=workers, max_tasks_in_flight_per_actor=1),
            num_cpus=1,
        )
        try:
            for row in dataset.iter_rows():
                yield ShardStats(**{**row, "labels": json.loads(row["labels"])})
        except ray.exceptions.RayError as exc:
            raise BatchError(f"a worker failed: {_root_cause(exc)}") from None
    finally:
        ray.shutdown()


def _root_cause(exc: BaseException) -> str:
    """The worker's own error (a ``BatchError`` naming the file, say) out of Ray's wrappers."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, BatchError):
            return str(seen)
        seen = getattr(seen, "cause", None) or seen.__cause__
    return str(exc).strip().splitlines()[-1]
