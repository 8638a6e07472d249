"""The linker's encoders side by side, in one run: ``python -m eval.encoder_bench --el-dir ../shared/data/el
--kb-dir runs/linking/cross`` (``make encoder-bench``).

- *fidelity*: cosine of each encoder's vector with the fp32 encoder's, over the KB's entity texts and the
  benchmark's mention contexts (the two sides of a dense lookup), and milliseconds per text at one thread;
- *end to end*: news articles per second through the whole pipeline (NER, linking) at one thread, each encoder
  with a fresh resolver (empty vector cache) over the same KB, in alternating rounds; the baseline is torch's
  dynamic int8, the earlier default;
- *batch-invariant*: links of each article linked alone against the same article in a batch of 32.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from eval.link_train import open_resolver
from hybrid_ner.cli._io import write_out
from hybrid_ner.components import build_embedder, build_extractor
from hybrid_ner.config import Settings
from hybrid_ner.pipeline import Pipeline
from linking.embedder import Embedder, TorchEmbedder

BASELINE = "encoder.minilm_torch_int8.v1"
CANDIDATE = "encoder.minilm_onnx_int8.v1"


def fidelity(embedders: dict[str, Embedder], texts: Sequence[str]) -> dict[str, dict[str, float]]:
    """Per encoder: cosine with fp32 (mean, 1st percentile, min) and ms per text, one text per call."""
    reference = TorchEmbedder(quantize=False).encode(texts)
    out = {}
    for name, embedder in embedders.items():
        embedder.encode_each(texts[:4])  # loaded (and built) before the clock starts
        started = time.perf_counter()
        vectors = embedder.encode_each(texts)
        seconds = time.perf_counter() - started
        cosine = (vectors * reference).sum(axis=1)
        out[name] = {
            "cosine_mean": float(cosine.mean()),
            "cosine_p1": float(np.percentile(cosine, 1)),
            "cosine_min": float(cosine.min()),
            "ms_per_text": 1000 * seconds / len(texts),
        }
    return out


def _links(result: Any) -> list[tuple[int, int, str | None, float | None]]:
    return [
        (e.span.start, e.span.end, *((e.link.kb_id, e.link.score) if e.link else (None, None))) for e in result.entities
    ]


def end_to_end(
    kb_dir: Path, kb: str, names: Sequence[str], articles: Sequence[str], rounds: int
) -> tuple[dict[str, list[float]], dict[str, int]]:
    """Seconds per round for each encoder (fresh resolver each round), and per encoder the number of the first 32
    articles whose links differ between alone and in the batch of all the articles."""
    settings = Settings(data_dir=kb_dir / "state")
    extractor = build_extractor(settings)

    def fresh(name: str) -> Pipeline:
        """A pipeline whose resolver has an empty vector cache, over the same KB and index."""
        resolver = open_resolver(kb_dir, kb, embedder=build_embedder(Settings(link_encoder=name)))
        return Pipeline("default", "local", settings=settings, extractor=extractor, resolver=resolver)

    seconds: dict[str, list[float]] = {n: [] for n in names}
    differ: dict[str, int] = {}
    for r in range(rounds):
        for name in names if r % 2 == 0 else list(reversed(names)):
            pipeline = fresh(name)
            started = time.perf_counter()
            together = asyncio.run(pipeline.aextract(list(articles), link=True))
            seconds[name].append(time.perf_counter() - started)
            if r == 0:
                alone = [asyncio.run(fresh(name).aextract([text], link=True))[0] for text in articles[:32]]
                differ[name] = sum(_links(a) != _links(b) for a, b in zip(alone, together, strict=False))
    return seconds, differ


def contexts(articles: Sequence[dict[str, Any]], limit: int) -> list[str]:
    """Sentences around gold mentions, as the resolver's context windows read."""
    out = []
    for a in articles:
        for lab in a["labels"]:
            start, end = lab["span"]
            out.append(a["text"][max(0, start - 150) : end + 150])
    return random.Random(13).sample(out, min(limit, len(out)))


def markdown(report: dict[str, Any]) -> str:
    fid, e2e = report["fidelity"], report["end_to_end"]
    lines = [
        "# The linker's encoder: torch dynamic int8 (the earlier default) against ONNX Runtime int8",
        "",
        (__doc__ or "").split("\n\n", 1)[1].strip(),
        "",
        f"Command: `{report['command']}`. {report['texts']} texts; {report['articles']} {report['benchmark']} "
        f"articles, {report['rounds']} rounds.",
        "",
        "| encoder | cosine with fp32 (mean) | 1st percentile | min | ms per text | articles/s | ratio | "
        "articles whose links differ alone vs in a batch of 32 |",
        "|---|---|---|---|---|---|---|---|",
    ]
    base = e2e[BASELINE]["articles_per_s"]
    for name in (BASELINE, CANDIDATE):
        f, e = fid[name], e2e[name]
        lines.append(
            f"| `{name}` | {f['cosine_mean']:.4f} | {f['cosine_p1']:.4f} | {f['cosine_min']:.4f} | "
            f"{f['ms_per_text']:.2f} | {e['articles_per_s']:.2f} | {e['articles_per_s'] / base:.2f} | "
            f"{e['batch_differs']} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--el-dir", type=Path, default=Path("../shared/data/el"))
    ap.add_argument("--kb-dir", type=Path, default=Path("runs/linking/cross"))
    ap.add_argument("--benchmark", default="news-fair")
    ap.add_argument("--articles", type=int, default=40)
    ap.add_argument("--texts", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--out", type=Path, default=Path("eval/reports"))
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(1)  # both encoders at one thread (ONNX Runtime's sessions are built with one)
    kb = str(args.el_dir / "kb.jsonl")
    path = args.el_dir / f"{args.benchmark}.benchmark.jsonl"
    articles = [json.loads(line) for line in path.read_text().splitlines() if line.strip()][: args.articles]
    names = (BASELINE, CANDIDATE)
    resolver = open_resolver(args.kb_dir, kb)
    everything = [e for batch in resolver.store.changed_since(-1) for e in batch]
    entity_texts = [e.text() for e in random.Random(13).sample(everything, args.texts // 2)]
    texts = entity_texts + contexts(articles, args.texts - len(entity_texts))
    embedders = {n: build_embedder(Settings(link_encoder=n)) for n in names}
    report: dict[str, Any] = {
        "command": " ".join(["python -m eval.encoder_bench", *(sys.argv[1:] if argv is None else argv)]),
        "benchmark": args.benchmark,
        "articles": len(articles),
        "texts": len(texts),
        "rounds": args.rounds,
        "fidelity": fidelity(embedders, texts),
    }
    seconds, differ = end_to_end(args.kb_dir, kb, names, [a["text"] for a in articles], args.rounds)
    report["end_to_end"] = {
        n: {"seconds": seconds[n], "articles_per_s": len(articles) / min(seconds[n]), "batch_differs": differ[n]}
        for n in names
    }
    args.out.mkdir(parents=True, exist_ok=True)
    write_out(args.out / "link_encoder.json", iter([json.dumps(report, indent=1) + "\n"]))
    write_out(args.out / "link_encoder.md", iter([markdown(report)]))
    print(markdown(report))


if __name__ == "__main__":
    main()
