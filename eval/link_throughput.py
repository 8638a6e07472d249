"""News articles per second, extracted and linked, through the REST service as a user runs it.

Run: ``python -m eval.link_throughput --el-dir DIR --data DATA_DIR [--baseline-code TREE] [--out eval/reports]``
(``make link-throughput``). ``DATA_DIR`` holds a KB (``make run`` builds the bundled one in ``data/``). For each
configuration it starts ``hybrid-ner serve`` on loopback with that data directory, waits until every worker's
dense index is ready (so no index is built while it measures) and has answered a warm-up text, then posts the
articles of one ELEVANT benchmark to ``/v1/annotate`` (``strategy: local``, one article per request) from a few
concurrent clients. Every round starts every configuration afresh, so no cache has seen the articles, and the
configurations take turns round by round, so that all see the same machine. Configurations: the code under test with
one worker and with ``--workers``, and, given ``--baseline-code``, another source tree (a checkout of main) with
``--workers``, run by the same harness. The links of every configuration are compared article by article.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from eval.load_bench import Connection, start_server, stop


@dataclass(frozen=True)
class Config:
    """One service to time: whose code, and how many worker processes."""

    name: str
    workers: int
    code: Path | None = None  # a source tree put first on PYTHONPATH; None: the installed code
    label: str = "installed"  # what the report calls the code


def articles(el_dir: Path, benchmark: str, limit: int) -> list[str]:
    path = el_dir / f"{benchmark}.benchmark.jsonl"
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [row["text"] for row in rows][:limit]


def _dense_ready(base: str, workers: int, limit_s: float) -> bool:
    """Poll until ``workers`` distinct workers say dense retrieval is ready (an annotate call wakes a cold one)."""
    seen: set[int] = set()
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline and len(seen) < workers:
        try:
            httpx.post(base + "/v1/annotate", json={"text": "Paris", "strategy": "local"}, timeout=60)
            ready = httpx.get(base + "/readyz", timeout=10).json()
        except httpx.HTTPError:
            time.sleep(1)
            continue
        if ready.get("linking", {}).get("stages", {}).get("dense", True):  # a tree without stages: ready once up
            seen.add(ready["worker"])
        else:
            time.sleep(2)
    return len(seen) >= workers


async def _round(base: str, texts: Sequence[str], clients: int) -> tuple[float, list[str], int]:
    """Every article once, ``clients`` at a time: wall seconds, a digest of each article's links, errors."""
    links: list[str] = [""] * len(texts)
    queue = iter(range(len(texts)))
    errors = 0

    async def client() -> None:
        nonlocal errors
        conn = await Connection.open(base)
        try:
            for i in queue:
                status, body = await conn.post("/v1/annotate", {"text": texts[i], "strategy": "local"})
                if status != 200:
                    errors += 1
                    continue
                entities = json.loads(body)["entities"]
                found = [(e["start"], e["end"], (e.get("link") or {}).get("kb_id")) for e in entities]
                links[i] = hashlib.sha256(json.dumps(sorted(found, key=str)).encode()).hexdigest()[:16]
        finally:
            conn.close()

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    return time.perf_counter() - started, links, errors


def _timed(config: Config, data: Path, texts: Sequence[str], clients: int) -> tuple[float, list[str], int]:
    """A fresh service for ``config`` (no cache holds these articles), ready and warm on another text, then timed."""
    env = {"HNER_INDEX_BACKGROUND": "1", "HNER_THREADS": "1"}
    if config.code is not None:
        env["PYTHONPATH"] = str(config.code.resolve())
    proc, base = start_server(data, config.workers, env)
    try:
        if not _dense_ready(base, config.workers, limit_s=3600):
            raise RuntimeError(f"{config.name}: the dense index did not become ready")
        return asyncio.run(_round(base, texts, clients))
    finally:
        stop(proc)


def run(configs: Sequence[Config], data: Path, texts: Sequence[str], rounds: int, clients: int) -> dict[str, Any]:
    """Time every configuration once per round, in turn, each on a service started for that round."""
    seconds: dict[str, list[float]] = {c.name: [] for c in configs}
    links: dict[str, list[str]] = {}
    errors = dict.fromkeys(seconds, 0)
    for _ in range(rounds):
        for c in configs:
            wall, got, failed = _timed(c, data, texts, clients)
            seconds[c.name].append(wall)
            links.setdefault(c.name, got)
            errors[c.name] += failed
    first = configs[0].name
    return {
        c.name: {
            "workers": c.workers,
            "code": c.label,
            "articles_per_s": len(texts) / statistics.median(seconds[c.name]),
            "rounds_s": seconds[c.name],
            "errors": errors[c.name],
            "links_differ_from_" + first: sum(a != b for a, b in zip(links[c.name], links[first], strict=True)),
        }
        for c in configs
    }


def render(result: dict[str, Any]) -> str:
    configs = result["configs"]
    base = next(iter(configs.values()))["articles_per_s"]
    first = next(iter(configs))
    lines = [
        f"# Linking throughput: {result['articles']} {result['benchmark']} articles through `/v1/annotate`",
        "",
        f"One article per request, {result['clients']} concurrent clients, `strategy: local`, one thread per worker,",
        f"KB: {result['kb_entities']} entities, dense index ready before timing. Median of {result['rounds']} rounds,",
        "each on freshly started services, configurations in turn. Reproduce: `make link-throughput`",
        "(`BASELINE=<git ref>` adds that commit's code).",
        "",
        f"| configuration | code | workers | articles/s | ratio to {first} | links differing from {first} | errors |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, c in configs.items():
        lines.append(
            f"| {name} | {c['code']} | {c['workers']} | {c['articles_per_s']:.2f} | {c['articles_per_s'] / base:.2f} "
            f"| {c['links_differ_from_' + first]} | {c['errors']} |"
        )
    return "\n".join(lines) + "\n"


def _kb_entities(data: Path) -> int:
    from hybrid_ner.config import Settings
    from kb.db import open_db
    from kb.store import SQLKBStore

    _, sessions = open_db(Settings(data_dir=data).database_url)
    return SQLKBStore(sessions).count()


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--el-dir", type=Path, required=True, help="ELEVANT benchmark directory (../shared/data/el)")
    ap.add_argument("--data", type=Path, required=True, help="data directory holding a KB (make run: data/)")
    ap.add_argument("--benchmark", default="news-fair")
    ap.add_argument("--articles", type=int, default=40)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--rounds", type=int, default=5)  # rounds vary by up to 20 % on a shared machine
    ap.add_argument("--baseline-code", type=Path, default=None, help="another source tree to time the same way")
    ap.add_argument("--baseline-label", default=None, help="what the report calls it (e.g. its git ref)")
    ap.add_argument("--out", type=Path, default=Path("eval/reports"))
    args = ap.parse_args(argv)
    texts = articles(args.el_dir, args.benchmark, args.articles)
    configs = [Config("this tree, 1 worker", 1), Config(f"this tree, {args.workers} workers", args.workers)]
    if args.baseline_code:
        label = args.baseline_label or str(args.baseline_code)
        configs.append(Config(f"baseline, {args.workers} workers", args.workers, args.baseline_code, label))
    result = {
        "benchmark": args.benchmark, "articles": len(texts), "clients": args.clients, "rounds": args.rounds,
        "kb_entities": _kb_entities(args.data), "configs": run(configs, args.data, texts, args.rounds, args.clients),
    }  # fmt: skip
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "link_throughput.json").write_text(json.dumps(result, indent=2) + "\n")
    (args.out / "link_throughput.md").write_text(render(result))
    print(render(result))


if __name__ == "__main__":
    main()
