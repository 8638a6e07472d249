"""Fit the reranker (logistic regression) and the NIL threshold on labelled mentions; measure linking.

``python -m linking.train --set KB FIT_FILES EVAL_FILES [--set ...]`` loads each KB (a file, or
``default`` for the bundled one) into a scratch database and builds its index, fits one reranker on
the candidates of all fit files (ELEVANT JSONL format), writes ``linking/weights.json``, and reports
candidate recall@k and gold-span accuracy on each eval file.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from eval.datasets import read_dataset
from kb.db import open_db
from kb.loaders import load_file
from kb.store import KBStore
from linking.candidates import Mention
from linking.embedder import Embedder
from linking.index import DenseIndex
from linking.rerank import FEATURES, WEIGHTS, LogisticReranker, features
from linking.resolver import Resolver, context_of

GoldMention = tuple[str, int, int, str | None, str | None]  # (text, start, end, label, gold kb id or None for NIL)


def gold_mentions(paths: Sequence[Path]) -> list[GoldMention]:
    out: list[GoldMention] = []
    for path in paths:
        for doc in read_dataset(path, "elevant").documents:
            out += [(doc.text, e.start, e.end, e.label, e.kb_id) for e in doc.entities]
    return out


def _prepare(
    resolver: Resolver, gold: Sequence[GoldMention]
) -> tuple[list[Mention], list[list[Any]], dict[str, Any], dict[str, np.ndarray]]:
    mentions = [Mention(t[s:e], lab, context_of(t, s, e)) for t, s, e, lab, _ in gold]
    vecs = resolver.embedder.encode([m.text for m in mentions] + [m.context for m in mentions])
    for i, m in enumerate(mentions):
        m.vector, m.context_vector = vecs[i], vecs[len(mentions) + i]
    cands = resolver.generator.candidates(mentions)
    ids = list({c.kb_id for cs in cands for c in cs})
    return mentions, cands, resolver.store.get(ids), resolver.index.vectors(ids)


def fit(sets: Sequence[tuple[Resolver, Sequence[GoldMention]]]) -> LogisticReranker:
    """One logistic regression over the candidates of every set; then the NIL threshold with the best InKB F1."""
    from sklearn.linear_model import LogisticRegression

    prepared = [(_prepare(resolver, gold), gold) for resolver, gold in sets]
    xs, ys = [], []
    for (mentions, cands, entities, vectors), gold in prepared:
        for m, cs, g in zip(mentions, cands, gold, strict=True):
            if cs:
                xs.append(features(m, cs, entities, vectors))
                ys += [float(c.kb_id == g[4]) for c in cs]
    x, y = np.vstack(xs), np.array(ys)
    model = LogisticRegression(C=1.0, max_iter=5000, fit_intercept=False, class_weight="balanced").fit(x, y)
    reranker = LogisticReranker(list(model.coef_[0]), 0.5)
    pairs = []
    for (mentions, cands, entities, vectors), gold in prepared:
        ranked = reranker.rerank(mentions, cands, entities, vectors)
        pairs += [(r[0] if r else None, g[4]) for r, g in zip(ranked, gold, strict=True)]
    best_t, best_f1 = 0.5, -1.0
    for t in np.linspace(0.05, 0.95, 91):
        f1 = inkb_f1([(top.kb_id if top and top.score >= t else None, want) for top, want in pairs])
        if f1 > best_f1:
            best_t, best_f1 = float(t), f1
    reranker.nil_threshold = best_t
    return reranker


def inkb_f1(pairs: Sequence[tuple[str | None, str | None]]) -> float:
    """Linking F1 as ELEVANT counts it on given spans: a link on a NIL mention, or a wrong link, is a false positive;
    a known mention left NIL, or linked wrongly, is a false negative."""
    tp = sum(1 for got, want in pairs if got is not None and got == want)
    fp = sum(1 for got, want in pairs if got is not None and got != want)
    fn = sum(1 for got, want in pairs if want is not None and got != want)
    return 2 * tp / (2 * tp + fp + fn) if tp else 0.0


def evaluate(resolver: Resolver, gold: Sequence[GoldMention], ks: Sequence[int] = (1, 5, 10, 30)) -> dict[str, Any]:
    mentions, cands, entities, vectors = _prepare(resolver, gold)
    ranked = resolver.reranker.rerank(mentions, cands, entities, vectors)
    threshold = getattr(resolver.reranker, "nil_threshold", 0.5)
    known = [i for i, g in enumerate(gold) if g[4] is not None]
    recall = {}
    for k in ks:
        hits = sum(1 for i in known if gold[i][4] in {r.kb_id for r in ranked[i][:k]})
        recall[f"recall@{k}"] = hits / len(known) if known else 0.0
    in_candidates = sum(1 for i in known if gold[i][4] in {c.kb_id for c in cands[i]})
    correct = sum(
        1 for i in known if ranked[i] and ranked[i][0].score >= threshold and ranked[i][0].kb_id == gold[i][4]
    )
    return {
        "mentions": len(gold),
        "known": len(known),
        "candidate_recall": in_candidates / len(known) if known else 0.0,
        **recall,
        "gold_span_accuracy": correct / len(known) if known else 0.0,
    }


def open_resolver(workdir: Path, kb: str) -> Resolver:
    """A resolver over a scratch database holding ``kb`` (a KB file, or ``default`` for the bundled KB)."""
    from kb.loaders import build_default

    workdir.mkdir(parents=True, exist_ok=True)
    _, sessions = open_db(f"sqlite:///{(workdir / 'kb.sqlite3').resolve()}")
    store = KBStore(sessions)
    if store.count() == 0:
        print(build_default(store) if kb == "default" else load_file(store, Path(kb)))
    embedder = Embedder()
    index = DenseIndex(store, embedder, workdir / "index")
    index.refresh()
    return Resolver(store, embedder, index, reranker=LogisticReranker([0.0] * len(FEATURES), 0.5))


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument(
        "--set",
        nargs=3,
        action="append",
        metavar=("KB", "FIT", "EVAL"),
        required=True,
        help="a KB file (or 'default'), comma-separated fit files, comma-separated eval files",
    )
    ap.add_argument("--workdir", type=Path, default=Path("runs/linking"))
    ap.add_argument("--out", type=Path, default=WEIGHTS)
    args = ap.parse_args(argv)
    sets = []
    for i, (kb, fit_files, eval_files) in enumerate(args.set):
        resolver = open_resolver(args.workdir / f"kb{i}", kb)
        split = [[Path(p) for p in files.split(",") if p] for files in (fit_files, eval_files)]
        sets.append((resolver, gold_mentions(split[0]), split[1]))
    reranker = fit([(r, g) for r, g, _ in sets])
    args.out.write_text(
        json.dumps(
            {
                "features": list(FEATURES),
                "weights": [round(float(w), 6) for w in reranker.weights],
                "nil_threshold": round(reranker.nil_threshold, 4),
                "fitted_on": [p for _, f, _ in args.set for p in f.split(",")],
            },
            indent=2,
        )
        + "\n"
    )
    report = {}
    for resolver, _, eval_files in sets:
        resolver.reranker = reranker
        report.update({p.name: evaluate(resolver, gold_mentions([p])) for p in eval_files})
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
