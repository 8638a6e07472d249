"""What the vital-article descriptions and the cross-encoder add to linking, on ELEVANT's gold spans: ``python -m
eval.cross_bench --el-dir ../shared/data/el`` (``make link-cross``, about 30 minutes).

The KB is ELEVANT's ``kb.jsonl`` enriched with Wikipedia redirects, loaded afresh into ``--kb-dir`` each run. Each
benchmark group is scored by a reranker fitted on the other groups (as ``eval.el_bench`` does), first on the KB as
it is, then after ``kb enrich --source wikipedia`` (vital articles' titles, lead sentences, types), then with the
cross-encoder settling close calls: its margin and weight are chosen on the other groups too, from a small grid, so
no number is in-sample. *best cand.*: the top-ranked candidate is the gold entity (known gold mentions, NIL not
allowed; compare ``linking.md``'s *best cand. acc*, which ``score_el.py`` computes with coreference rules); *pairs*:
mention and candidate pairs the cross-encoder read; *s/pair*: its time per pair on one thread.
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from eval.el_bench import BENCHMARKS, group
from eval.link_train import gold_mentions, open_resolver
from hybrid_ner.components import build_extractor
from hybrid_ner.config import Settings
from kb.vital import describe, read_articles
from linking.adjudicate import CrossCheck
from linking.cross_encoder import CrossEncoder
from linking.fit import Gathered, GoldMention, fit, gather
from linking.rerank import LogisticReranker, Scored
from linking.resolver import Resolver

MARGINS = (0.05, 0.1, 0.2, 0.4, 1.0)
WEIGHTS = (0.25, 0.5, 1.0, 2.0)


def ranked(model: LogisticReranker, g: Gathered) -> list[list[Scored]]:
    """Each mention's candidates best first, as the service ranks them (type rules included)."""
    return model.rerank(g.mentions, g.cands, g.entities, g.vectors)


def accuracy(gold: Sequence[str | None], lists: Sequence[Sequence[Scored]]) -> float:
    known = [i for i, x in enumerate(gold) if x is not None]
    return sum(bool(lists[i]) and lists[i][0].kb_id == gold[i] for i in known) / max(1, len(known))


class Judged:
    """Cross-encoder logits per (mention, candidate), computed once at the widest margin and reused by the grid."""

    def __init__(self, encoder: CrossEncoder) -> None:
        self.encoder = encoder
        self.logits: dict[tuple[int, int, str], float] = {}  # (set, mention, kb_id) -> logit
        self.seconds = 0.0

    def settle(self, key: int, g: Gathered, lists: list[list[Scored]], margin: float, weight: float) -> list[Any]:
        out = []
        for i, (m, scored) in enumerate(zip(g.mentions, lists, strict=True)):
            check = CrossCheck(_Memo(self, key, i, self.encoder), margin, 3, weight)
            out.append(check([m], [scored], g.entities)[0][0])
        return out


class _Memo(CrossEncoder):
    """The cross-encoder with its answers remembered by (set, mention, candidate)."""

    def __init__(self, judged: Judged, key: int, mention: int, encoder: CrossEncoder) -> None:
        self._judged, self._key, self._mention, self._encoder = judged, key, mention, encoder
        self._ids: list[str] = []

    def score(self, query: str, passages: Sequence[str]) -> np.ndarray:
        memo = self._judged.logits
        keys = [(self._key, self._mention, p) for p in passages]
        todo = [p for k, p in zip(keys, passages, strict=True) if k not in memo]
        if todo:
            started = time.perf_counter()
            for p, v in zip(todo, self._encoder.score(query, todo), strict=True):
                memo[(self._key, self._mention, p)] = float(v)
            self._judged.seconds += time.perf_counter() - started
        return np.array([memo[k] for k in keys], dtype=np.float32)


def choose(judged: Judged, sets: Sequence[tuple[int, Gathered, list[list[Scored]]]]) -> tuple[float, float]:
    """The margin and weight with the best mean accuracy over ``sets`` (the smaller margin, the cheaper, on ties)."""

    def mean_accuracy(margin: float, weight: float) -> float:
        return float(np.mean([accuracy(g.gold, judged.settle(k, g, lists, margin, weight)) for k, g, lists in sets]))

    grid = {(mg, w): mean_accuracy(mg, w) for mg in MARGINS for w in WEIGHTS}
    return max(grid, key=lambda k: (grid[k], -k[0]))


def compare(
    resolver: Resolver, golds: Mapping[str, Sequence[GoldMention]], encoder: CrossEncoder
) -> dict[str, dict[str, Any]]:
    """Per benchmark: best-candidate accuracy on the KB as it is, after ``kb enrich --source wikipedia``, and with
    the cross-encoder, each scored by what was fitted and chosen on the other groups. Describes the resolver's KB."""
    before = {n: gather(resolver, g) for n, g in golds.items()}
    print(json.dumps(vars(describe(resolver.store, read_articles()))), flush=True)
    after = {n: gather(resolver, g) for n, g in golds.items()}
    judged = Judged(encoder)
    key = {n: i for i, n in enumerate(golds)}
    rows: dict[str, dict[str, Any]] = {}
    for g_name in sorted({group(n) for n in golds}):
        others = [n for n in golds if group(n) != g_name]
        base = fit([before[n].prepared for n in others])
        model = fit([after[n].prepared for n in others])
        lists = {n: ranked(model, after[n]) for n in golds}
        margin, weight = choose(judged, [(key[n], after[n], lists[n]) for n in others])
        for n in (n for n in golds if group(n) == g_name):
            rows[n] = {
                "kb as loaded": accuracy(before[n].gold, ranked(base, before[n])),
                "+ vital descriptions": accuracy(after[n].gold, lists[n]),
                "+ cross-encoder": accuracy(after[n].gold, judged.settle(key[n], after[n], lists[n], margin, weight)),
                "margin": margin,
                "weight": weight,
            }
            print(n, rows[n], flush=True)
    rows["_cost"] = {"pairs": len(judged.logits), "seconds_per_pair": judged.seconds / max(1, len(judged.logits))}
    return rows


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--el-dir", type=Path, default=Path("../shared/data/el"))
    ap.add_argument("--kb-dir", type=Path, default=Path("runs/linking/cross"))
    ap.add_argument("--out", type=Path, default=Path("eval/reports"))
    args = ap.parse_args(argv)
    extractor = build_extractor(Settings())
    shutil.rmtree(args.kb_dir, ignore_errors=True)  # the first column needs the KB as loaded, before enrichment
    resolver = open_resolver(args.kb_dir, str(args.el_dir / "kb.jsonl"))
    golds = {n: gold_mentions([args.el_dir / f"{n}.benchmark.jsonl"], extractor) for n in BENCHMARKS}
    rows = compare(resolver, golds, CrossEncoder())
    cost = rows.pop("_cost")
    summary = {"benchmarks": rows, **cost}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "link_cross.json").write_text(json.dumps(summary, indent=1) + "\n")
    (args.out / "link_cross.md").write_text(markdown(summary))
    print(markdown(summary))


def markdown(summary: dict[str, Any]) -> str:
    cols = ("kb as loaded", "+ vital descriptions", "+ cross-encoder")
    lines = [
        "# Linking: vital-article descriptions and the cross-encoder (ELEVANT, gold spans, best candidate)",
        "",
        (__doc__ or "").split("\n\n", 1)[1].strip(),
        "",
        "| benchmark | " + " | ".join(cols) + " | margin, weight (chosen on the others) |",
        "|---|" + "---|" * (len(cols) + 1),
    ]
    rows = summary["benchmarks"]
    for name, r in rows.items():
        lines.append(
            f"| {name} | " + " | ".join(f"{100 * r[c]:.1f}" for c in cols) + f" | {r['margin']}, {r['weight']} |"
        )
    means = [100 * float(np.mean([r[c] for r in rows.values()])) for c in cols]
    lines.append("| **mean** | " + " | ".join(f"**{m:.1f}**" for m in means) + " | |")
    lines += ["", f"Cross-encoder: {summary['pairs']} pairs, {summary['seconds_per_pair'] * 1000:.0f} ms per pair."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
