"""What each data source and feature adds: ``python -m eval.link_ablation --el-dir ../shared/data/el``.

Candidates and features of every ELEVANT benchmark are computed once (KB: ``kb.jsonl`` enriched with Wikipedia
redirects, in ``--kb-dir``); each variant then masks features or candidates and is fitted and scored the way
``eval.el_bench`` does it, leaving the benchmark's group out, on gold spans. *without redirects* drops the
candidates that only a redirect alias found and the redirect features: the KB as loaded, without ``kb enrich``;
*without candidates found in context* drops those that only the search for the mention in its context found.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from eval.el_bench import BENCHMARKS, group
from eval.link_train import gold_mentions, open_resolver
from hybrid_ner.components import build_extractor
from hybrid_ner.config import Settings
from linking.candidates import Candidate
from linking.fit import Prepared, evaluate, fit, prepare
from linking.rerank import FEATURES

Variant = tuple[tuple[str, ...], Callable[[Candidate], bool], bool]  # masked features, kept candidates, type rule


def _all(_: Candidate) -> bool:
    return True


def _not_only_redirect(c: Candidate) -> bool:
    return not c.redirect_hit or c.alias_hit or c.key_hit or c.doc_hit or c.dense > 0


def _not_only_in_context(c: Candidate) -> bool:
    return c.named or c.dense > 0


def _found_otherwise(c: Candidate) -> bool:
    """Found by a name, a key, the document or meaning, not only by a rule of its own."""
    return c.alias_hit or c.redirect_hit or c.key_hit or c.doc_hit or c.dense > 0


_RULES = ("demonymic", "team_hit", "school_hit")  # candidates a rule of its own brings (``linking.candidates``)


def _not_only(rule: str) -> Callable[[Candidate], bool]:
    """Keeps a candidate unless ``rule`` alone found it: the variant without that rule loses its candidates."""
    others = [r for r in _RULES if r != rule]

    def keep(c: Candidate) -> bool:
        return not getattr(c, rule) or _found_otherwise(c) or any(getattr(c, r) for r in others)

    return keep


VARIANTS: dict[str, Variant] = {
    "full": ((), _all, True),
    "without the type rule": ((), _all, False),
    "without types (rule and features)": (("type_fit", "type_clash", "place_clash"), _all, False),
    "without redirects (no kb enrich)": (("redirect_hit", "redirect_rank", "redirect_gap"), _not_only_redirect, True),
    "without the qualifier feature": (("qualifier_fit",), _all, True),
    "without document coherence": (("doc_sim", "coherence"), _all, True),
    "without the context": (("context_sim",), _all, True),
    "without candidates found in context": ((), _not_only_in_context, True),
    "without popularity": (("popularity_rank", "popularity_gap", "named_popularity_rank"), _all, True),
    "without the word-article feature": (("word_article",), _all, True),
    "without nationality words (features and candidates)": (
        ("demonym_place", "demonym_people"),
        _not_only("demonymic"),
        True,
    ),
    "without teams named after their place": (("sports_team",), _not_only("team_hit"), True),
    "without universities named after their place": (("school",), _not_only("school_hit"), True),
}


def masked(p: Prepared, features: Sequence[str], keep: Callable[[Candidate], bool]) -> Prepared:
    cols = [FEATURES.index(f) for f in features]
    cands, rows = [], []
    for cs, x in zip(p.cands, p.rows, strict=True):
        kept = [i for i, c in enumerate(cs) if keep(c)]
        x = x[kept].copy()
        x[:, cols] = 0.0
        cands.append([cs[i] for i in kept])
        rows.append(x)
    return replace(p, cands=cands, rows=rows)


def run(prepared: dict[str, Prepared], extra: Sequence[Prepared]) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for variant, (features, keep, rule) in VARIANTS.items():
        sets = {n: masked(p, features, keep) for n, p in prepared.items()}
        more = [masked(p, features, keep) for p in extra]
        scores = []
        for g in sorted({group(n) for n in sets}):
            model = fit([p for n, p in sets.items() if group(n) != g] + more, exclude_clashes=rule)
            scores += [evaluate(model, p) for n, p in sets.items() if group(n) == g]
        out[variant] = {
            k: round(float(np.mean([s[k] for s in scores])), 4) for k in ("gold_span_accuracy", "inkb_f1", "recall@30")
        }
        print(variant, out[variant], flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--el-dir", type=Path, required=True)
    ap.add_argument("--kb-dir", type=Path, default=Path("runs/linking/kb0"))
    ap.add_argument(
        "--extra",
        nargs=2,
        metavar=("KB_DIR", "FILE"),
        help="more fit data: the bundled KB's dir, comma-separated files",
    )
    ap.add_argument("--out", type=Path, default=Path("eval/reports"))
    args = ap.parse_args()
    extractor = build_extractor(Settings())
    resolver = open_resolver(args.kb_dir, str(args.el_dir / "kb.jsonl"))
    prepared = {
        n: prepare(resolver, gold_mentions([args.el_dir / f"{n}.benchmark.jsonl"], extractor)) for n in BENCHMARKS
    }
    extra = []
    if args.extra:
        extra.append(
            prepare(
                open_resolver(Path(args.extra[0]), "default"),
                gold_mentions([Path(f) for f in args.extra[1].split(",")]),
            )
        )
    results = run(prepared, extra)
    rows = ["| variant | gold-span accuracy | InKB F1 (gold spans) | recall@30 |", "|---|---|---|---|"]
    rows += [
        f"| {v} | {100 * r['gold_span_accuracy']:.1f} | {100 * r['inkb_f1']:.1f} | {100 * r['recall@30']:.1f} |"
        for v, r in results.items()
    ]
    text = "# Linking ablations (ELEVANT benchmarks, mean over benchmarks, leave-one-group-out)\n\n" + "\n".join(rows)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "link_ablation.md").write_text(text + "\n")
    (args.out / "link_ablation.json").write_text(json.dumps(results, indent=2) + "\n")
    print(text)


if __name__ == "__main__":
    main()
