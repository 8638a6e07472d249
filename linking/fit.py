"""Fit the reranker on labelled mentions: pairwise weights, a calibration of the best candidate, and the NIL
threshold with the best InKB F1; and measure linking on gold spans (candidate recall@k, accuracy).

``eval.link_train`` is the command that runs this over benchmark files and KBs.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from kb.records import EntityRecord
from linking.candidates import Candidate, Mention
from linking.rerank import FEATURES, LogisticReranker, features
from linking.resolver import Resolver, mentions_of

GoldMention = tuple[str, int, int, str | None, str | None]  # (text, start, end, label, gold kb id or None for NIL)


@dataclass
class Prepared:
    """Labelled mentions with their candidates and feature rows, computed once and reused by every fit."""

    gold: list[str | None]
    cands: list[list[Candidate]]
    rows: list[np.ndarray]


@dataclass
class Gathered:
    """Labelled mentions with everything the resolver read for them (what a judge of close calls reads too)."""

    mentions: list[Mention]
    entities: dict[str, EntityRecord]
    vectors: dict[str, np.ndarray]
    prepared: Prepared

    @property
    def gold(self) -> list[str | None]:
        return self.prepared.gold

    @property
    def cands(self) -> list[list[Candidate]]:
        return self.prepared.cands


def gather(resolver: Resolver, gold: Sequence[GoldMention]) -> Gathered:
    by_text: dict[str, list[int]] = {}  # one document per distinct text
    for i, g in enumerate(gold):
        by_text.setdefault(g[0], []).append(i)
    items = [(text, [gold[i][1:4] for i in idx]) for text, idx in by_text.items()]
    order = [i for idx in by_text.values() for i in idx]  # read as the service reads its texts (``mentions_of``)
    found = dict(zip(order, mentions_of(items), strict=True))
    mentions = [found[i] for i in range(len(gold))]
    cands, entities, vectors = resolver.gather(mentions)
    rows = [
        features(m, cs, entities, vectors) if cs else np.zeros((0, len(FEATURES)))
        for m, cs in zip(mentions, cands, strict=True)
    ]
    return Gathered(mentions, entities, vectors, Prepared([g[4] for g in gold], cands, rows))


def prepare(resolver: Resolver, gold: Sequence[GoldMention]) -> Prepared:
    return gather(resolver, gold).prepared


def _top(reranker: LogisticReranker, prepared: Prepared) -> list[tuple[str, float] | None]:
    """Each mention's best-ranked candidate and its probability."""
    out: list[tuple[str, float] | None] = []
    for cs, x in zip(prepared.cands, prepared.rows, strict=True):
        if not cs:
            out.append(None)
            continue
        probs = reranker.probability(x)
        best = int(reranker.order(x, probs)[0])
        out.append((cs[best].kb_id, float(probs[best])))
    return out


def fit(sets: Sequence[Prepared], exclude_clashes: bool = True) -> LogisticReranker:
    """Three steps: the weights, by logistic regression on pairs (right candidate minus each wrong one, and
    back), which ranks better than classifying candidates one by one; the calibration of every candidate (its
    score, ``CALIBRATION`` features and lead over its rivals) against whether it is the right one, so a link
    reports the probability that it is right; the NIL threshold on the best candidate with the best InKB F1. The
    rivals at fitting time leave out only what the type rule excludes: the records' rules (``rerank``) need the
    mentions' labels and records, which prepared rows do not keep."""
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
    weights = list(ranker.coef_[0])
    rank_only = LogisticReranker(weights, 0.5, exclude_clashes=exclude_clashes)  # which rows can link

    def inputs(x: np.ndarray) -> np.ndarray:
        return rank_only.calibration_inputs(x, x @ rank_only.weights, ~rank_only.excluded(x))

    every = [
        (inputs(x), [float(c.kb_id == gold) for c in cs])
        for p in sets
        for cs, x, gold in zip(p.cands, p.rows, p.gold, strict=True)
        if cs
    ]
    calibrator = LogisticRegression(C=1.0, max_iter=5000, fit_intercept=False)
    calibrator.fit(np.vstack([x for x, _ in every]), np.concatenate([y for _, y in every]))
    reranker = LogisticReranker(weights, 0.5, calibrator.coef_[0], exclude_clashes)
    scored = [
        (t[0] if t else None, t[1] if t else 0.0, gold)
        for p in sets
        for t, gold in zip(_top(reranker, p), p.gold, strict=True)
    ]
    best_t, best_f1 = 0.5, -1.0
    for t in np.linspace(0.05, 0.95, 91):
        f1 = inkb_f1([(got if prob >= t else None, want) for got, prob, want in scored])
        if f1 > best_f1:
            best_t, best_f1 = float(t), f1
    return reranker.with_thresholds(nil=best_t, found=best_t)  # found spans: see eval.e2e_threshold


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


def save(reranker: LogisticReranker, path: Path, fitted_on: Sequence[str]) -> None:
    data = {
        "features": list(FEATURES),
        "weights": [round(float(w), 6) for w in reranker.weights],
        "nil_threshold": round(reranker.nil_threshold, 4),
        "found_nil_threshold": round(reranker.found_threshold, 4),
        "exclude_clashes": reranker.exclude_clashes,
        "calibration": [round(float(v), 6) for v in reranker.calibration],
        "fitted_on": list(fitted_on),
    }
    path.write_text(json.dumps(data, indent=2) + "\n")
