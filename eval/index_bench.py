"""Dense retrieval's HNSW graph: how much of the exact top-k it finds, and at what cost, as shipped and as built
before (faiss's default build effort, a wider search).

Run: ``python -m eval.index_bench --kb-dir DIR [--kb default|FILE] [--el-dir DIR] [--benchmark news-fair]
[--out eval/reports]`` (``make index-bench``). ``DIR`` holds a KB and its dense index as ``eval.kb_sets`` reads
them (``kb.sqlite3`` and ``index/``; built on first use from ``--kb``: the bundled KB, or a KB file). The queries
are what the linker looks up for the gold mentions of an ELEVANT benchmark: each mention alone (its top 30) and
the mention in its context (its top 10). Every graph is built in this run from the index's stored vectors, on one
thread, and judged against an exact search over the same vectors; search times are per query, one query at a
time as a request makes them, best of three passes.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

import linking.index as dense
from eval.datasets import read_dataset
from eval.link_train import open_resolver
from linking.candidates import dense_queries, embed_mentions
from linking.resolver import mentions_of


@dataclass(frozen=True)
class Recipe:
    name: str
    ef_construction: int
    ef_search: int


def recipes() -> list[Recipe]:
    """The graph as built before (the baseline, first), and as shipped."""
    shipped = Recipe("shipped", dense.EF_CONSTRUCTION, dense.EF_SEARCH)
    return [Recipe("before: faiss's default build (40), breadth 256", 40, 256), shipped]


def queries(resolver: Any, path: Path) -> dict[int, np.ndarray]:
    """Top-k → the query rows the linker searches for the benchmark's gold mentions (each row once)."""
    docs = read_dataset(path, "elevant").documents
    mentions = mentions_of([(d.text, [(e.start, e.end, None) for e in d.entities]) for d in docs])
    embed_mentions(resolver.fresh.encode, mentions)
    found = dense_queries(mentions)
    if found is None:
        raise SystemExit(f"{path}: no gold mentions to search for")
    own, both = found
    return {30: np.unique(own, axis=0), 10: np.unique(both, axis=0)}


def measure(vectors: np.ndarray, rows: dict[int, np.ndarray], recipe: Recipe) -> dict[str, Any]:
    import faiss as _faiss

    faiss: Any = _faiss  # the search-parameter classes are missing from its type stubs
    faiss.omp_set_num_threads(1)
    index = faiss.IndexHNSWFlat(vectors.shape[1], dense.HNSW_LINKS, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = recipe.ef_construction
    started = time.perf_counter()
    index.add(vectors)
    out: dict[str, Any] = {"recipe": recipe.__dict__, "build_s": round(time.perf_counter() - started, 1)}
    params = faiss.SearchParametersHNSW(efSearch=recipe.ef_search)
    for top, q in rows.items():
        k = min(top, len(vectors))  # a KB smaller than k: all of it
        exact = np.argsort(-(q @ vectors.T), axis=1)[:, :k]
        best = float("inf")
        for _ in range(3):
            started = time.perf_counter()
            got = [index.search(q[i : i + 1], k, params=params)[1][0] for i in range(len(q))]
            best = min(best, time.perf_counter() - started)
        recall = float(np.mean([len(set(a) & set(b)) / k for a, b in zip(exact.tolist(), got, strict=True)]))
        out[f"top{top}"] = {
            "queries": len(q),
            "recall": round(recall, 4),
            "ms_per_query": round(best * 1000 / len(q), 3),
        }
    return out


def report(results: list[dict[str, Any]], entries: int, benchmark: str) -> str:
    base = results[0]
    lines = [
        f"# Dense index graph: {entries} entries, queries from {benchmark}'s gold mentions",
        "",
        "Recall: the share of the exact top k (inner product over the same stored vectors) the HNSW search returns.",
        "Time: one query at a time on one thread, best of 3 passes; ratio: this recipe's time over the first row's.",
        "Reproduce: `make index-bench`.",
        "",
        "| recipe | build effort | search breadth | build s | recall top 30 (mention) | recall top 10 (in context) "
        "| ms/query top 30 | ms/query top 10 | time ratio |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        t30, t10 = r["top30"], r["top10"]
        ratio = (t30["ms_per_query"] + t10["ms_per_query"]) / (
            base["top30"]["ms_per_query"] + base["top10"]["ms_per_query"]
        )
        lines.append(
            f"| {r['recipe']['name']} | {r['recipe']['ef_construction']} | {r['recipe']['ef_search']} | "
            f"{r['build_s']} | {t30['recall']:.4f} | {t10['recall']:.4f} | {t30['ms_per_query']} | "
            f"{t10['ms_per_query']} | {ratio:.2f} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--kb-dir", type=Path, required=True)
    ap.add_argument("--kb", default="default", help="what to load into an empty --kb-dir: default (bundled) or a file")
    ap.add_argument("--el-dir", type=Path, default=Path("../shared/data/el"))
    ap.add_argument("--benchmark", default="news-fair")
    ap.add_argument("--out", type=Path, default=Path("eval/reports"))
    args = ap.parse_args(argv)
    resolver = open_resolver(args.kb_dir, args.kb)
    vectors = np.ascontiguousarray(resolver.index.base_vectors, dtype=np.float32)
    rows = queries(resolver, args.el_dir / f"{args.benchmark}.benchmark.jsonl")
    results = [measure(vectors, rows, r) for r in recipes()]
    text = report(results, len(vectors), args.benchmark)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "link_index.md").write_text(text)
    (args.out / "link_index.json").write_text(json.dumps(results, indent=2) + "\n")
    print(text)


if __name__ == "__main__":
    main()
