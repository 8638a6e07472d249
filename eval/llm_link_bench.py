"""What LLM adjudication of close links gains and costs: ``python -m eval.llm_link_bench`` (``make link-llm``).

News benchmarks (msnbc, reuters-128, news-fair: their first ``--articles`` articles each) are linked on gold
spans by a reranker fitted on the other ELEVANT benchmarks, over ELEVANT's KB with redirects and vital-article
descriptions (``make link-cross`` builds it in ``--kb-dir``). The closest 5%, 10% and 20% of links (by margin)
then go to the LLM (``HNER_LLM_MODEL``, the bundled one by default, no answer cache). *linked acc.*: the link,
NIL allowed, is the gold entity (known gold mentions); *s/article*: LLM seconds added per article.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from eval.cross_bench import ranked
from eval.el_bench import BENCHMARKS, group
from eval.link_train import gold_mentions, open_resolver
from hybrid_ner.components import build_extractor
from hybrid_ner.config import Settings
from hybrid_ner.llm.backend import llm_backends
from hybrid_ner.llm.linking import LLMJudge
from linking.fit import fit, gather
from linking.rerank import Scored

NEWS = ("msnbc", "reuters-128", "news-fair")
RATES = (0.05, 0.1, 0.2)


def linked_accuracy(gold: list[str | None], lists: list[list[Scored]], threshold: float) -> float:
    known = [i for i, g in enumerate(gold) if g is not None]
    hits = sum(bool(lists[i]) and lists[i][0].score >= threshold and lists[i][0].kb_id == gold[i] for i in known)
    return hits / max(1, len(known))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--el-dir", type=Path, default=Path("../shared/data/el"))
    ap.add_argument("--kb-dir", type=Path, default=Path("runs/linking/cross"))
    ap.add_argument("--articles", type=int, default=10)
    ap.add_argument("--out", type=Path, default=Path("eval/reports/link_llm.json"))
    args = ap.parse_args()
    settings = Settings(llm_cache=False)
    extractor = build_extractor(settings)
    resolver = open_resolver(args.kb_dir, str(args.el_dir / "kb.jsonl"))
    others = [n for n in BENCHMARKS if group(n) not in {group(x) for x in NEWS}]
    model = fit(
        [gather(resolver, gold_mentions([args.el_dir / f"{n}.benchmark.jsonl"], extractor)).prepared for n in others]
    )
    sample = []
    for name in NEWS:
        lines = (args.el_dir / f"{name}.benchmark.jsonl").read_text().splitlines()[: args.articles]
        path = args.out.parent / f".{name}.sample.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(lines) + "\n")
        sample += gold_mentions([path], extractor)
        path.unlink()
    g = gather(resolver, sample)
    base = ranked(model, g)
    margins = np.array([s[0].score - s[1].score for s in base if len(s) > 1])
    backend = llm_backends.get(settings.llm_backend)(settings)
    result: dict[str, Any] = {
        "llm": backend.model,
        "articles": args.articles * len(NEWS),
        "mentions": len(sample),
        "local": linked_accuracy(g.gold, base, model.nil_threshold),
    }
    for rate in RATES:
        margin = float(np.quantile(margins, min(1.0, rate * len(base) / max(1, len(margins)))))
        judge = LLMJudge(backend, model.nil_threshold, margin=margin, top=5)
        started = time.perf_counter()
        settled, consulted = judge(g.mentions, base, g.entities)
        seconds = time.perf_counter() - started
        result[f"{int(rate * 100)}%"] = {
            "margin": round(margin, 4),
            "asked": int(sum(consulted)),
            "counts": dict(judge.counts),
            "linked_accuracy": linked_accuracy(g.gold, settled, model.nil_threshold),
            "seconds_per_article": seconds / result["articles"],
        }
        print(rate, result[f"{int(rate * 100)}%"], flush=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
