"""Input shards and their outputs: which records a shard holds, reading them, writing its output atomically, and
the manifest that ties an output directory to the run that wrote it.

A shard is a range of records of one input file. Its output is one file, written to a temporary name and
renamed, so it exists whole or not at all: a re-run skips the shards whose output exists, and a run killed
halfway resumes to exactly the output of an uninterrupted run.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from hybrid_ner.errors import HybridNERError
from hybrid_ner.files import replacing, write_whole
from hybrid_ner.records import check_record, parse_line

KINDS = {".jsonl": "jsonl", ".parquet": "parquet"}
MANIFEST = "_batch.json"
Record = tuple[Any, dict[str, Any] | None, str | None]  # (id, record, error)


class BatchError(HybridNERError):
    """The run cannot start or go on: a missing or unreadable input, mixed formats, another run's output."""


@dataclass(frozen=True)
class Shard:
    path: str  # the input file
    kind: str  # jsonl | parquet
    start: int  # first record (0-based, blank lines not counted)
    stop: int  # one past the last record
    name: str  # output file name without its extension, unique in the run

    def output(self, out_dir: Path, fmt: str) -> Path:
        return out_dir / f"{self.name}.{fmt}"


def discover(source: Path) -> list[tuple[Path, str]]:
    """The input files (one file, or every ``*.jsonl`` / ``*.parquet`` under a directory) and their kind."""
    if not source.exists():
        raise BatchError(f"input {source} does not exist")
    if source.is_file():
        kind = KINDS.get(source.suffix.lower(), "jsonl")
        return [(source, kind)]
    files = sorted(p for p in source.rglob("*") if p.is_file() and p.suffix.lower() in KINDS)
    if not files:
        raise BatchError(f"input directory {source} holds no .jsonl or .parquet files")
    kinds = {KINDS[p.suffix.lower()] for p in files}
    if len(kinds) > 1:
        raise BatchError(f"input directory {source} mixes JSONL and Parquet files; give one format per run")
    return [(p, KINDS[p.suffix.lower()]) for p in files]


def _pyarrow() -> None:
    import importlib.util

    if importlib.util.find_spec("pyarrow") is None:
        raise BatchError("Parquet needs the 'pyarrow' package: pip install 'pyarrow==26.0.1'")


def count_records(path: Path, kind: str) -> tuple[int, str]:
    """How many records the file holds, and a digest of its bytes (a resumed run must read the same input)."""
    if kind == "parquet":
        _pyarrow()
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            if kind == "parquet":
                import pyarrow.parquet as pq

                for block in iter(lambda: fh.read(1 << 20), b""):
                    digest.update(block)
                return int(pq.ParquetFile(path).metadata.num_rows), digest.hexdigest()
            n = 0
            for raw in fh:
                digest.update(raw)
                n += bool(raw.strip())
            return n, digest.hexdigest()
    except Exception as exc:  # any reader failure means the same to the user: this file cannot be read
        raise BatchError(f"cannot read input {path}: {type(exc).__name__}: {exc}") from exc


def plan(source: Path, shard_size: int) -> tuple[list[Shard], dict[str, str]]:
    """Every shard of the input, in input order, each named after its file and position; and each input file's
    digest."""
    source = source.resolve()  # workers on Ray run elsewhere: paths must not depend on this process's directory
    files = discover(source)
    root = source if source.is_dir() else source.parent
    shards, digests = [], {}
    for path, kind in files:
        stem = str(path.relative_to(root).with_suffix("")).replace(os.sep, "__")
        n, digests[str(path)] = count_records(path, kind)
        for k, start in enumerate(range(0, max(n, 1), shard_size)):
            shards.append(Shard(str(path), kind, start, min(n, start + shard_size), f"{stem}.{k:05d}"))
    return shards, digests


def read(shard: Shard) -> Iterator[Record]:
    """The shard's records; a record that cannot be used comes as an error naming its line or row."""
    try:
        yield from (_parquet if shard.kind == "parquet" else _jsonl)(shard)
    except (OSError, ValueError) as exc:
        raise BatchError(f"cannot read input {shard.path}: {type(exc).__name__}: {exc}") from exc


def _jsonl(shard: Shard) -> Iterator[Record]:
    seen = 0
    with open(shard.path, "rb") as fh:
        for lineno, raw in enumerate(fh, 1):
            if not raw.strip():
                continue
            if seen >= shard.stop:
                return
            if seen >= shard.start:
                yield parse_line(raw, lineno)
            seen += 1


def _parquet(shard: Shard) -> Iterator[Record]:
    import pyarrow.parquet as pq

    table = pq.read_table(shard.path).slice(shard.start, shard.stop - shard.start)
    for i, row in enumerate(table.to_pylist(), shard.start):
        yield check_record(row, f"row {i}")


def write(path: Path, rows: Sequence[dict[str, Any]], fmt: str) -> None:
    """All rows of one shard, atomically: a temporary file renamed into place."""
    with replacing(path) as tmp:
        if fmt == "parquet":
            _pyarrow()
            import pyarrow as pa
            import pyarrow.parquet as pq

            pq.write_table(pa.Table.from_pylist([_flat(r) for r in rows], schema=_parquet_schema()), tmp)
        else:
            with open(tmp, "w", encoding="utf-8") as fh:
                fh.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)


def _parquet_schema() -> Any:
    """Parquet rows: the id and the entity list as JSON (the same objects as JSONL), flags as columns."""
    import pyarrow as pa

    return pa.schema(
        [
            ("id", pa.string()),
            ("entities", pa.string()),
            ("degraded", pa.bool_()),
            ("degraded_reason", pa.string()),
            ("error", pa.string()),
        ]
    )


def _flat(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": json.dumps(row.get("id")),
        "entities": json.dumps(row["entities"], ensure_ascii=False) if "entities" in row else None,
        "degraded": row.get("degraded"),
        "degraded_reason": row.get("degraded_reason"),
        "error": row.get("error"),
    }


def read_output(path: Path) -> list[dict[str, Any]]:
    """A shard's output rows, as JSONL would have them (Parquet columns decoded)."""
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        out = []
        for r in pq.read_table(path).to_pylist():
            row: dict[str, Any] = {"id": json.loads(r["id"])}
            if r["error"] is not None:
                row["error"] = r["error"]
            else:
                row["entities"], row["degraded"] = json.loads(r["entities"]), r["degraded"]
                if r["degraded_reason"] is not None:
                    row["degraded_reason"] = r["degraded_reason"]
            out.append(row)
        return out
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def claim(out_dir: Path, manifest: dict[str, Any]) -> None:
    """Tie the output directory to this run: write the manifest, or check that the one there matches (a resumed
    run must not mix outputs of another input, model, schema or KB state)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for stale in out_dir.glob(".*.tmp"):  # a killed run's half-written shard
        stale.unlink()
    path = out_dir / MANIFEST
    if path.is_file():
        before = json.loads(path.read_text())
        changed = sorted(k for k in set(before) | set(manifest) if before.get(k) != manifest.get(k))
        if changed:
            raise BatchError(
                f"{out_dir} holds the output of a run with other {', '.join(changed)}; "
                "resume with the same options and data, or write to a new --output"
            )
        return
    write_whole(path, json.dumps(manifest, indent=2, sort_keys=True))


def describe(shards: Sequence[Shard]) -> list[dict[str, Any]]:
    return [asdict(s) for s in shards]
