"""Linking latency per mention on a KB, one mention per call at one thread, encoding included.

Run: ``python -m eval.link_bench --kb-dir runs/linking/kb1 --data runs/geonames/geonames-test.jsonl``
(the KB directory holds ``kb.sqlite3`` and ``index/`` as ``eval.link_train`` builds them; ``default`` is
built there when it is empty). The baseline, timed in the same run on the same mentions, is the embedder
alone encoding the mention and its context: the floor any context-aware linker pays here. The report
gives p50/p95 of both, the ratio, and the process's peak RSS.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from eval.datasets import read_dataset
from eval.link_train import open_resolver
from hybrid_ner.memory import peak_rss_mb
from linking.rerank import LogisticReranker
from linking.resolver import context_of


def percentiles(times: list[float]) -> dict[str, float]:
    ms = np.array(times) * 1000
    return {"p50_ms": float(np.percentile(ms, 50)), "p95_ms": float(np.percentile(ms, 95)), "mean_ms": float(ms.mean())}


def run(kb_dir: Path, data: Path, kb: str = "default", limit: int = 1000, warmup: int = 20) -> dict[str, Any]:
    torch.set_num_threads(1)
    resolver = open_resolver(kb_dir, kb, reranker=LogisticReranker.load())
    items = [(d.text, [(e.start, e.end, "LOC")]) for d in read_dataset(data, "elevant").documents for e in d.entities]
    items = items[:limit]
    for text, spans in items[:warmup]:
        resolver.link([(text, spans)])
    link_t, encode_t = [], []
    for text, spans in items:
        s, e, _ = spans[0]
        t0 = time.perf_counter()
        resolver.embedder.encode([text[s:e], context_of(text, s, e)])
        t1 = time.perf_counter()
        resolver.link([(text, spans)])
        link_t.append(time.perf_counter() - t1)
        encode_t.append(t1 - t0)
    link, base = percentiles(link_t), percentiles(encode_t)
    return {
        "kb_entities": resolver.store.count(),
        "mentions": len(items),
        "threads": torch.get_num_threads(),
        "link": link,
        "baseline_encode_only": base,
        "ratio_p50": link["p50_ms"] / base["p50_ms"],
        "ratio_p95": link["p95_ms"] / base["p95_ms"],
        "peak_rss_mb": peak_rss_mb(),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--kb-dir", type=Path, default=Path("runs/linking/kb1"))
    ap.add_argument("--kb", default="default", help="what to load into an empty KB directory: 'default' or a file")
    ap.add_argument("--data", type=Path, required=True, help="ELEVANT-format JSONL with gold spans")
    ap.add_argument("--limit", type=int, default=1000)
    ap.add_argument("--out", type=Path, help="write the result as JSON here")
    args = ap.parse_args()
    result = run(args.kb_dir, args.data, args.kb, args.limit)
    text = json.dumps(result, indent=2)
    if args.out:
        args.out.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
