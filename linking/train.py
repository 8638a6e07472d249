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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from eval.datasets import read_dataset
from hybrid_ner.config import Settings
from hybrid_ner.pipeline import build_extractor
from hybrid_ner.protocols import Extractor
from kb.db import open_db
from kb.loaders import load_file
from kb.store import KBStore
from linking.candidates import Candidate, Mention
from linking.embedder import Embedder
from linking.index import DenseIndex
from linking.rerank import FEATURES, WEIGHTS, LogisticReranker, features
from linking.resolver import Resolver, context_of

GoldMention = tuple[str, int, int, str | None, str | None]  # (text, start, end, label, gold kb id or None for NIL)


# Coreference is out of scope: pronouns, and a determiner before a common noun ("the company"), as ELEVANT counts them.
_PRONOUNS = frozenset(
    {
        "i",
        "my",
        "me",
        "myself",
        "mine",
        "you",
        "your",
        "yourself",
        "yours",
        "he",
        "his",
        "him",
        "himself",
        "she",
        "her",
        "herself",
        "hers",
        "it",
        "its",
        "itself",
        "we",
        "our",
        "us",
        "ourselves",
        "ours",
        "they",
        "their",
        "them",
        "themselves",
        "theirs",
    }
)
_DETERMINERS = frozenset(["the", "this", "that", "these", "those", "my", "your", "his", "her", "its", "our", "their"])


def is_coreference(mention: str) -> bool:
    first, _, rest = mention.strip().partition(" ")
    return mention.strip().lower() in _PRONOUNS or (first.lower() in _DETERMINERS and rest[:1].islower())


def ner_labels(
    extractor: Extractor | None, texts: Sequence[str], spans: Sequence[Sequence[tuple[int, int]]]
) -> list[list[str | None]]:
    """The label the extractor gives each span (that of an entity it found overlapping it), None where it
    found nothing or there is no extractor. Benchmarks' own types describe the gold entity: using them
    as the mention's label would leak the answer."""
    found = extractor.extract(texts) if extractor is not None else [[] for _ in texts]
    return [
        [next((e.span.label for e in ents if e.span.start < end and e.span.end > start), None) for start, end in sp]
        for ents, sp in zip(found, spans, strict=True)
    ]


def gold_mentions(paths: Sequence[Path], extractor: Extractor | None = None) -> list[GoldMention]:
    """Labelled mentions of ELEVANT-format files, coreference left out, labelled by ``extractor``."""
    docs = [doc for path in paths for doc in read_dataset(path, "elevant").documents]
    kept = [[e for e in doc.entities if not is_coreference(doc.text[e.start : e.end])] for doc in docs]
    labels = ner_labels(extractor, [d.text for d in docs], [[(e.start, e.end) for e in ents] for ents in kept])
    return [
        (doc.text, e.start, e.end, label, e.kb_id)
        for doc, ents, labs in zip(docs, kept, labels, strict=True)
        for e, label in zip(ents, labs, strict=True)
    ]


@dataclass
class Prepared:
    """Labelled mentions with their candidates and feature rows, computed once and reused by every fit."""

    gold: list[str | None]
    cands: list[list[Candidate]]
    rows: list[np.ndarray]


def prepare(resolver: Resolver, gold: Sequence[GoldMention]) -> Prepared:
    docs: dict[str, int] = {}
    mentions = [Mention(t[s:e], lab, context_of(t, s, e), docs.setdefault(t, len(docs))) for t, s, e, lab, _ in gold]
    cands, entities, vectors = resolver.gather(mentions)
    rows = [
        features(m, cs, entities, vectors) if cs else np.zeros((0, len(FEATURES)))
        for m, cs in zip(mentions, cands, strict=True)
    ]
    return Prepared([g[4] for g in gold], cands, rows)


def _top(reranker: LogisticReranker, prepared: Prepared) -> list[tuple[str, float] | None]:
    """Each mention's best-ranked candidate and its probability."""
    out: list[tuple[str, float] | None] = []
    for cs, x in zip(prepared.cands, prepared.rows, strict=True):
        best = int(reranker.order(x)[0]) if cs else -1
        out.append((cs[best].kb_id, float(reranker.probability(x[best : best + 1])[0])) if cs else None)
    return out


def fit(sets: Sequence[Prepared]) -> LogisticReranker:
    """Three steps: the weights, by logistic regression on pairs (right candidate minus each wrong one, and
    back), which ranks better than classifying candidates one by one; the calibration of each mention's best
    candidate (its score and ``CALIBRATION`` features) against whether it is right, NIL mentions included;
    the NIL threshold with the best InKB F1."""
    from sklearn.linear_model import LogisticRegression

    diffs = []
    for p in sets:
        for cs, x, gold in zip(p.cands, p.rows, p.gold, strict=True):
            ids = [c.kb_id for c in cs]
            if gold in ids and len(ids) > 1:
                i = ids.index(gold)
                diffs.append(x[i] - np.delete(x, i, axis=0))
    pairs = np.vstack(diffs)
    ranker = LogisticRegression(C=1.0, max_iter=5000, fit_intercept=False)
    ranker.fit(np.vstack([pairs, -pairs]), np.r_[np.ones(len(pairs)), np.zeros(len(pairs))])
    reranker = LogisticReranker(list(ranker.coef_[0]), 0.5)
    tops = [
        (x[j], cs[j].kb_id, gold)
        for p in sets
        for cs, x, gold in zip(p.cands, p.rows, p.gold, strict=True)
        if cs
        for j in [int(reranker.order(x)[0])]
    ]
    rows = np.vstack([row for row, _, _ in tops])
    calibrator = LogisticRegression(C=1.0, max_iter=5000, fit_intercept=False)
    calibrator.fit(
        reranker.calibration_inputs(rows, rows @ reranker.weights),
        np.array([float(got == want) for _, got, want in tops]),
    )
    reranker.calibration = calibrator.coef_[0]
    probs = reranker.probability(rows)
    scored = [(got, float(prob), want) for (_, got, want), prob in zip(tops, probs, strict=True)]
    best_t, best_f1 = 0.5, -1.0
    for t in np.linspace(0.05, 0.95, 91):
        f1 = inkb_f1([(got if prob >= t else None, want) for got, prob, want in scored])
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


def evaluate(reranker: LogisticReranker, prepared: Prepared, ks: Sequence[int] = (1, 5, 10, 30)) -> dict[str, Any]:
    """Candidate recall@k (by reranked order) and gold-span accuracy over the known mentions."""
    known = [i for i, g in enumerate(prepared.gold) if g is not None]
    out: dict[str, Any] = {"mentions": len(prepared.gold), "known": len(known)}
    ranked = [[cs[j].kb_id for j in reranker.order(x)] for cs, x in zip(prepared.cands, prepared.rows, strict=True)]
    out["candidate_recall"] = sum(prepared.gold[i] in ranked[i] for i in known) / max(1, len(known))
    for k in ks:
        out[f"recall@{k}"] = sum(prepared.gold[i] in ranked[i][:k] for i in known) / max(1, len(known))
    tops = _top(reranker, prepared)
    hits = [
        i for i in known if (t := tops[i]) is not None and t[1] >= reranker.nil_threshold and t[0] == prepared.gold[i]
    ]
    out["gold_span_accuracy"] = len(hits) / max(1, len(known))
    out["inkb_f1"] = inkb_f1(
        [(t[0] if t and t[1] >= reranker.nil_threshold else None, g) for t, g in zip(tops, prepared.gold, strict=True)]
    )
    return out


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


def save(reranker: LogisticReranker, path: Path, fitted_on: Sequence[str]) -> None:
    data = {
        "features": list(FEATURES),
        "weights": [round(float(w), 6) for w in reranker.weights],
        "nil_threshold": round(reranker.nil_threshold, 4),
        "calibration": [round(float(v), 6) for v in reranker.calibration],
        "fitted_on": list(fitted_on),
    }
    path.write_text(json.dumps(data, indent=2) + "\n")


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
    extractor = build_extractor(Settings())
    fit_sets, eval_sets = [], {}
    for i, (kb, fit_files, eval_files) in enumerate(args.set):
        resolver = open_resolver(args.workdir / f"kb{i}", kb)
        fit_sets.append(prepare(resolver, gold_mentions([Path(p) for p in fit_files.split(",") if p], extractor)))
        for p in (p for p in eval_files.split(",") if p):
            eval_sets[Path(p).name] = prepare(resolver, gold_mentions([Path(p)], extractor))
    reranker = fit(fit_sets)
    save(reranker, args.out, [p for _, f, _ in args.set for p in f.split(",") if p])
    print(json.dumps({name: evaluate(reranker, p) for name, p in eval_sets.items()}, indent=2))


if __name__ == "__main__":
    main()
