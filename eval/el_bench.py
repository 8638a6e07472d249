"""Entity-linking benchmark on ELEVANT files, scored by their ``score_el.py``, beside the peers in PEERS.md.

``python -m eval.el_bench --el-dir ../shared/data/el --kb-dir runs/linking/kb0 --out eval/reports``

Per benchmark: gold-span disambiguation accuracy (our links on the gold spans), and end-to-end
P/R/F1 with our own NER spans (local model, then linking), both scored by the shipped scorer;
candidate recall@k comes from ``linking.fit``. The KB is ELEVANT's kb.jsonl, loaded by ``eval.link_train``.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from eval.e2e_threshold import Curve, best, curve, open_parts, predictions, read_articles, score, scored_at
from eval.link_train import gold_mentions, ner_labels, open_resolver
from hybrid_ner.datamodel import Link
from linking.fit import Prepared, evaluate, fit, prepare
from linking.rerank import LogisticReranker

BENCHMARKS = (
    "msnbc",
    "msnbc-updated",
    "reuters-128",
    "rss-500",
    "oke-2015-train",
    "oke-2015-eval",
    "oke-2016-train",
    "derczynski",
    "spotlight",
    "news-fair",
    "wiki-fair",
)


def peers(peers_md: Path) -> dict[str, dict[str, Any]]:
    """Per benchmark: best peer DisAcc det (and who), ReFinED F1 and F1 nc."""
    out: dict[str, dict[str, Any]] = {}
    section = None
    for line in peers_md.read_text().splitlines():
        head = re.match(r"## (\S+)\s+\(", line)
        if head:
            section = head.group(1)
            out[section] = {"best_disacc_det": 0.0, "best_by": ""}
            continue
        if section is None or not line.startswith("| ") or line.startswith("| system") or "---" in line:
            continue
        cells = [c.strip().strip("*") for c in line.strip("|").split("|")]
        system = cells[0].split(" ")[0]
        if system == "oracle" or len(cells) < 7:
            continue
        det = float(cells[6])
        if det > out[section]["best_disacc_det"]:
            out[section].update(best_disacc_det=det, best_by=system)
        if system == "refined":
            out[section].update(refined_f1=float(cells[3]), refined_f1_nc=float(cells[4]))
    return out


# Benchmarks that share documents are held out together: oke-2016-train is oke-2015 train + eval,
# msnbc-updated is msnbc minus a few labels.
GROUPS = {"msnbc-updated": "msnbc", "oke-2015-train": "oke", "oke-2015-eval": "oke", "oke-2016-train": "oke"}


def group(name: str) -> str:
    return GROUPS.get(name, name)


def run(
    el_dir: Path, kb_dir: Path, names: list[str], extra: Sequence[Prepared] = (), nationalities: bool = False
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Score every benchmark with a reranker fitted on the *other* benchmark groups (plus ``extra``), and
    end to end with a threshold for found spans chosen on the other groups' end-to-end curves (each curve from
    its own group's reranker), so no number is in-sample. Returns the scores and candidate recall@k."""
    parts = open_parts(el_dir, kb_dir, nationalities)
    resolver, extractor = parts.resolver, parts.extractor
    paths = {name: el_dir / f"{name}.benchmark.jsonl" for name in BENCHMARKS}
    prepared = {name: prepare(resolver, gold_mentions([path], extractor)) for name, path in paths.items()}
    scorer = el_dir / "score_el.py"
    rerankers: dict[str, LogisticReranker] = {}
    results: dict[str, Any] = {}
    recall: dict[str, Any] = {}
    curves: dict[str, Curve] = {}
    articles: dict[str, list[dict[str, Any]]] = {}
    for name in names:
        g = group(name)
        if g not in rerankers:
            rerankers[g] = fit([p for other, p in prepared.items() if group(other) != g] + list(extra))
        recall[name] = evaluate(rerankers[g], prepared[name])
        articles[name] = read_articles(paths[name])
        results[name] = _gold_spans(resolver.reranked_by(rerankers[g]), extractor, scorer, paths[name], articles[name])
        curves[name] = curve(parts, rerankers[g], scorer, paths[name], articles[name])
    for name in names:
        reranker = rerankers[group(name)]
        others = [curves[o] for o in names if group(o) != group(name)]
        chosen = best(others) if others else reranker.nil_threshold
        started = time.perf_counter()
        found = predictions(parts, reranker, articles[name], chosen)
        seconds = time.perf_counter() - started
        results[name].update(
            end_to_end=scored_at(scorer, paths[name], articles[name], found, chosen),
            found_threshold=chosen,
            e2e_articles_per_s=len(articles[name]) / seconds,
            # its own curve (never used to choose its threshold): compares two runs at the same threshold, where
            # the chosen one moved
            e2e_f1_by_threshold={str(t): round(s["nocoref"]["F1"], 4) for t, s in curves[name].items()},
        )
        r = results[name]
        print(
            name,
            f"acc {r['gold_span']['disamb_acc']:.4f} best {r['gold_span_best']['disamb_acc']:.4f}",
            f"e2e F1 nc {r['end_to_end']['nocoref']['F1']:.4f} (found-span threshold {chosen})",
            flush=True,
        )
    return results, recall


def _gold_spans(
    resolver: Any, extractor: Any, scorer: Path, path: Path, articles: Sequence[dict[str, Any]]
) -> dict[str, Any]:
    """Links on the benchmark's gold spans: as linked (NIL below the threshold for given spans), and the best
    candidate whatever its score (the peers' DisAcc det counts only mentions they linked, which is the second)."""
    spans = [[tuple(lab["span"]) for lab in a["labels"] if lab.get("parent") is None] for a in articles]
    labels = ner_labels(extractor, [a["text"] for a in articles], spans)
    gold_items = [
        (a["text"], [(s, e, label) for (s, e), label in zip(sp, labs, strict=True)])
        for a, sp, labs in zip(articles, spans, labels, strict=True)
    ]
    gold_links = resolver.link(gold_items)
    gold_preds, forced_preds = (
        [
            {
                "id": a["id"],
                "predictions": [
                    {"span": [s, e], "entity_id": pick(lk)} for (s, e, _), lk in zip(spans, links, strict=True)
                ],
            }
            for a, (_, spans), links in zip(articles, gold_items, gold_links, strict=True)
        ]
        for pick in (_linked, _best)
    )
    return {"gold_span": score(scorer, path, gold_preds), "gold_span_best": score(scorer, path, forced_preds)}


def _linked(link: Link) -> str | None:
    return link.kb_id


def _best(link: Link) -> str | None:
    return link.candidates[0].kb_id if link.candidates else None


def report(
    results: dict[str, Any], peer: dict[str, dict[str, Any]], recall: dict[str, Any], nationalities: bool = False
) -> str:
    rows = [
        "# Entity linking on ELEVANT benchmarks (KB: ELEVANT kb.jsonl, 54,218 entities, no aliases or descriptions)",
        "",
        "Scored with `score_el.py`. Each benchmark is linked by a reranker fitted on the *other* benchmarks",
        "(leave one group out: msnbc with msnbc-updated, the three OKE files together) plus the fit sets on the",
        "bundled KB that `--extra-fit` names (`make link-bench`: the GeoNames, nationality, sports and school dev",
        "sets), so no number here is in-sample. NER labels come from our own model, never from the gold.",
        "Nationality adjectives the NER finds are "
        + ("linked to their country (`--link-nationalities`)." if nationalities else "left unlinked (the default)."),
        "",
        "- *best cand. acc*: our best-ranked candidate on each gold span, NIL not allowed; compare with the peers'",
        "  *DisAcc det* (accuracy on the mentions they linked). *linked acc*: the same with our NIL threshold.",
        "- *e2e*: our NER spans, then linking, NIL below the threshold for found spans, chosen for the best mean",
        "  end-to-end F1 on the other benchmark groups; compare F1 nc with ReFinED's (we do no coreference).",
        "- *recall@30*: gold entity among our 30 best-ranked candidates (known, non-coreference gold mentions).",
        "- *e2e art/s*: articles per second through the whole pipeline (NER, linking) at one thread, all of a",
        "  benchmark's articles in one call, as a corpus job sends them.",
        "",
        "| benchmark | best cand. acc | linked acc | best peer DisAcc det | e2e P | e2e R | e2e F1 nc "
        "| ReFinED F1 nc | recall@30 | e2e art/s |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, r in results.items():
        p = peer.get(name, {})
        nc = r["end_to_end"]["nocoref"]
        rec = recall.get(name, {}).get("recall@30")
        rows.append(
            f"| {name} | **{100 * r['gold_span_best']['disamb_acc']:.1f}** | {100 * r['gold_span']['disamb_acc']:.1f} "
            f"| {p.get('best_disacc_det', float('nan')):.1f} ({p.get('best_by', '')}) | {100 * nc['P']:.1f} "
            f"| {100 * nc['R']:.1f} | **{100 * nc['F1']:.1f}** | {p.get('refined_f1_nc', float('nan')):.1f} "
            f"| {'' if rec is None else f'{100 * rec:.1f}'} | {r['e2e_articles_per_s']:.1f} |"
        )
    return "\n".join(rows + _fixed_thresholds(results)) + "\n"


def _fixed_thresholds(results: dict[str, Any]) -> list[str]:
    """Mean end-to-end F1 had every benchmark used one fixed threshold, read off each one's own curve: not a
    held-out figure, and the curve comes from one pass that keeps every best candidate, so the rules that read
    whether another link is NIL act as at threshold 0: a short name can follow a fuller name that a run at that
    threshold leaves NIL, and no short name is NIL for the NIL name it stands for (``unknown_person``,
    ``unknown_abbreviation``), so the line is close to such runs, not equal, and understates the table's runs by
    those rules' gain. The choice on
    the other groups moves between neighbouring thresholds with small changes; this line compares two runs at
    the same threshold."""
    curves = [r["e2e_f1_by_threshold"] for r in results.values() if "e2e_f1_by_threshold" in r]
    if not curves:
        return []
    cells = [f"{t}: {100 * statistics.mean(c[t] for c in curves):.2f}" for t in curves[0] if float(t) <= 0.3]
    chosen = statistics.mean(r["end_to_end"]["nocoref"]["F1"] for r in results.values())
    return [
        "",
        "Mean e2e F1 nc with one fixed found-span threshold for every benchmark (own curves from one pass that "
        "keeps every best candidate, in-sample; in that pass no short name is NIL for the NIL name it stands for, "
        f"as the table's runs at their thresholds are): "
        f"{', '.join(cells)}; with the thresholds chosen on the other groups (the table): {100 * chosen:.2f}.",
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--el-dir", type=Path, required=True)
    ap.add_argument("--kb-dir", type=Path, default=Path("runs/linking/kb0"))
    ap.add_argument(
        "--extra-fit",
        nargs=2,
        metavar=("KB", "FILES"),
        help="more fit data for every fold: a KB (file or 'default') and comma-separated labelled files",
    )
    ap.add_argument("--extra-kb-dir", type=Path, default=Path("runs/linking/kb1"))
    ap.add_argument("--benchmarks", default=",".join(BENCHMARKS))
    ap.add_argument("--out", type=Path, default=Path("eval/reports"))
    ap.add_argument("--link-nationalities", action="store_true", help="as HNER_LINK_NATIONALITIES=true")
    args = ap.parse_args()
    extra = []
    if args.extra_fit:
        kb, files = args.extra_fit
        extra.append(prepare(open_resolver(args.extra_kb_dir, kb), gold_mentions([Path(f) for f in files.split(",")])))
    names = [b for b in args.benchmarks.split(",") if b]
    results, recall = run(args.el_dir, args.kb_dir, names, extra, args.link_nationalities)
    text = report(results, peers(args.el_dir / "PEERS.md"), recall, args.link_nationalities)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "linking.md").write_text(text)
    (args.out / "linking.json").write_text(json.dumps({"scores": results, "recall": recall}, indent=2) + "\n")
    print(text)


if __name__ == "__main__":
    main()
