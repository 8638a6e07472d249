"""Rerank candidates by the mention's context, its string, the entity's prior and type fit; NIL below a threshold.

The weights are a logistic regression fitted on labelled dev data by
``linking.train`` (``linking/weights.json``), not set by hand.
"""

from __future__ import annotations

import hashlib
import json
import math
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
from functools import lru_cache
from pathlib import Path
from typing import Protocol

import numpy as np

from hybrid_ner.registry import Registry
from kb.keys import alternates, normalize, popularity, words
from kb.records import EntityRecord
from linking.candidates import Candidate, Mention
from linking.kinds import other_bearers, type_fit, word_article, word_articles
from linking.sports import is_team_of, sports_in, team_context

WEIGHTS = Path(__file__).resolve().parent / "weights.json"
FEATURES = (
    "context_sim",
    "mention_sim",
    "doc_sim",
    "coherence",
    "alias_hit",
    "redirect_hit",
    "key_hit",
    "doc_hit",
    "string_sim",
    "popularity_rank",
    "popularity_gap",
    "named_popularity_rank",
    "redirect_rank",
    "redirect_gap",
    "qualifier_fit",
    "type_fit",
    "type_clash",
    "place_clash",
    "word_article",
    "case_apart",
    "demonym_place",
    "demonym_people",
    "sports_team",
    "school",
)


@dataclass
class Scored:
    kb_id: str
    score: float  # probability of being the right entity; a mention's list is best first


class Reranker(Protocol):
    """Orders a mention's candidates by the probability that each is the right entity, best first; below
    ``nil_threshold`` the best one is not linked; below ``found_threshold``, when the spans are the ones the NER
    found rather than given by the caller."""

    name: str
    nil_threshold: float
    found_threshold: float
    digest: str  # of everything its scores depend on (weights, threshold): part of the result cache's key

    def rerank(
        self,
        mentions: Sequence[Mention],
        candidates: Sequence[Sequence[Candidate]],
        entities: dict[str, EntityRecord],
        vectors: dict[str, np.ndarray],
    ) -> list[list[Scored]]: ...


# Factories take no arguments; ``HNER_RERANKER`` names the one the service uses.
rerankers: Registry[Reranker] = Registry("reranker")


def qualifier_fit(qualifier: str, entity: EntityRecord | None, mention: str = "") -> float:
    """1 when every word of the mention's qualifier ("Illinois", "Ontario"), or of a full name it abbreviates
    ("Ill.", as news datelines write states: ``spelled_out``), is a word of the entity's description, types or
    region ("city in Illinois, United States"; a city whose region is Ontario), or of its name where that name
    also holds the mention ("Springfield, Illinois" for "Springfield"), else 0. The qualifier's own namesake never
    fits: in "the mayor of Quuxville in Paris", Paris does not lie in Paris."""
    wanted = set(words(qualifier))
    if not wanted or entity is None:
        return 0.0
    have = set(words(" ".join([entity.about, *entity.types, entity.region])))
    name = set(words(entity.name))
    if set(words(mention)) <= name:
        have |= name
    return float(any(form <= have for form in (wanted, *spelled_out(qualifier))))


@lru_cache(maxsize=4096)
def spelled_out(qualifier: str) -> tuple[frozenset[str], ...]:
    """The words of each fuller name of the place a qualifier names by a code or abbreviation ("Ill." → illinois,
    "Calif." → california, "N.Y." → new york), from the gazetteer's countries and US states. Codes of two or three
    letters are never the fuller name: "in" (Indiana) would fit every description that says "city in"."""
    key = normalize(qualifier)
    fuller = [n for n in alternates().get(key, ()) if len(n.replace(" ", "")) > 3 and n != key]
    return tuple(frozenset(words(n)) for n in fuller)


def _similarities(
    mention: Mention, cands: Sequence[Candidate], vectors: dict[str, np.ndarray]
) -> tuple[list[float], ...]:
    """Per candidate, the cosine of its vector with the mention's context, the mention, its document and the
    document's likely entities (0 where either is missing; the dense score for the mention where the candidate
    has no vector): one matrix product per mention rather than four dot products per candidate."""
    have = [vectors.get(c.kb_id) for c in cands]
    found = [i for i, v in enumerate(have) if v is not None]
    stacked = [v for v in have if v is not None]
    matrix = np.vstack(stacked) if stacked else None
    out: list[list[float]] = []
    for query in (mention.context_vector, mention.vector, mention.doc_vector, mention.coherence_vector):
        sims = [0.0] * len(cands)
        if query is not None and matrix is not None:
            for i, sim in zip(found, (matrix @ query).tolist(), strict=True):
                sims[i] = sim
        out.append(sims)
    out[1] = [sim if have[i] is not None else c.dense for i, (sim, c) in enumerate(zip(out[1], cands, strict=True))]
    return tuple(out)


def _inverse_ranks(values: Sequence[float]) -> list[float]:
    """1 for the largest value, 1/2 for the next, ...; ties share a rank."""
    rank = {v: r for r, v in enumerate(sorted(set(values), reverse=True))}
    return [1.0 / (1 + rank[v]) for v in values]


@lru_cache(maxsize=100_000)
def _name_similarity(mention: str, name: str) -> float:
    """difflib's ratio of two normalised names. A document repeats its names and they meet the same candidates, so
    most pairs were seen before: a third of the feature time went to recomputing them."""
    return SequenceMatcher(None, mention, name, autojunk=False).ratio() if name else 0.0


def case_apart(mention: str, name: str) -> float:
    """1 where a mention written with capitals and the entity's name are the same letters in another case: "NASA"
    meets "Nasa", "UK" the domain ".uk", "Trump" the card game's "trump". Such a name is the key's namesake, not
    the entity the writer capitalised; accents and punctuation are no difference ("Sao Paulo", "U.K"). A word of
    more than five capitals is shouted, as datelines and headlines write every name ("BIRMINGHAM"): no sign."""
    said, named = _letters(mention), _letters(name)
    if said == named or said.lower() != named.lower() or said == said.lower():
        return 0.0
    return float(not (said.isupper() and len(said) > 5))


@lru_cache(maxsize=100_000)
def _letters(text: str) -> str:
    """The letters and digits of ``text`` in their case, accents dropped."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if ch.isalnum() and not unicodedata.combining(ch))


def features(
    mention: Mention, cands: Sequence[Candidate], entities: dict[str, EntityRecord], vectors: dict[str, np.ndarray]
) -> np.ndarray:
    """One row per candidate. Popularity counts relative to the other candidates (rank, and distance from the
    best known), so the best-known entity of a name wins only when context does not say otherwise. A place
    offered for a person or organisation (see ``LogisticReranker``) does not count as one of those others: the
    city of Toyota does not make Toyota the company look obscure."""
    norm = normalize(mention.text)
    sports = sports_in(mention.context) if team_context(mention) else ()
    records = [entities.get(c.kb_id) for c in cands]
    typed = [type_fit(mention.label, e.types if e else []) for e in records]
    ctx, men, doc, coh = _similarities(mention, cands, vectors)
    counted = [e is not None and not t[2] for e, t in zip(records, typed, strict=True)]
    pops = [popularity(e.id, e.prior) if e and ok else -99.0 for e, ok in zip(records, counted, strict=True)]
    pop_rank = _inverse_ranks(pops)
    links = [math.log1p(e.redirects) if e and ok else 0.0 for e, ok in zip(records, counted, strict=True)]
    link_rank = [r if v > 0 else 0.0 for r, v in zip(_inverse_ranks(links), links, strict=True)]
    named = [i for i, c in enumerate(cands) if c.named]
    named_rank = dict(zip(named, _inverse_ranks([pops[i] for i in named]), strict=True))
    rows = []
    for i, c in enumerate(cands):
        e = records[i]
        sim = _name_similarity(norm, normalize(e.name)) if e and e.name else 0.0
        fit, clash, place = typed[i]
        rows.append(
            [
                ctx[i],
                men[i],
                doc[i],
                coh[i],
                float(c.alias_hit),
                float(c.redirect_hit and not c.alias_hit),
                float(c.key_hit),
                float(c.doc_hit),
                sim,
                pop_rank[i],
                max(-6.0, pops[i] - max(pops)),
                named_rank.get(i, 0.0),
                link_rank[i],
                max(-6.0, links[i] - max(links)),
                qualifier_fit(mention.qualifier, e, mention.text),
                fit,
                clash,
                place,
                word_article(mention, e),
                case_apart(mention.text, e.name) if e else 0.0,
                float(c.demonym_place),
                float(c.demonym_people),
                float(bool(sports) and e is not None and is_team_of(mention.text, e.name, sports)),
                float(c.school_hit),
            ]
        )
    return np.array(rows, dtype=np.float64).reshape(len(cands), len(FEATURES))


# What the probability of a link looks at besides its rank score: whether the mention names the entity at all,
# whether the NER label fits it, and whether a name meets an article about a word. A top candidate found by
# meaning alone is a weak link.
CALIBRATION = (
    "alias_hit", "redirect_hit", "key_hit", "doc_hit", "string_sim", "qualifier_fit", "type_fit", "word_article",
    "demonym_place", "demonym_people", "sports_team", "school",
)  # fmt: skip
_PLACE_CLASH = FEATURES.index("place_clash")
_QUALIFIER = FEATURES.index("qualifier_fit")
_CALIBRATION_COLUMNS = [FEATURES.index(f) for f in CALIBRATION]
_CALIBRATION_SIZE = len(CALIBRATION) + 3  # the score, the features, the lead over rivals, the intercept
LEAD_CAP = 2.0  # a rank score this far ahead of every rival (or none at all) is as sure as the lead can say


def leads(scores: np.ndarray, rivals: np.ndarray) -> np.ndarray:
    """Per candidate, how far its rank score stands above the best of the other ``rivals`` (a mask of the rows
    that compete), clipped to ``LEAD_CAP`` either way. A calibration input: a name with one fitting entity is a
    surer link than the same score among close namesakes ("Varian Medical Systems" against "Paris")."""
    competing = np.where(rivals, scores, -np.inf)
    order = np.argsort(-competing, kind="stable")
    best = competing[order[0]]
    second = competing[order[1]] if len(scores) > 1 else -np.inf
    other = np.where(np.arange(len(scores)) == order[0], second, best)
    return np.asarray(np.clip(scores - other, -LEAD_CAP, LEAD_CAP))


class LogisticReranker:
    """A linear score ``w·x`` ranks a mention's candidates (fitted on pairs: the right candidate against each
    wrong one). ``calibration`` turns the score and a few features (``CALIBRATION``) into the probability that
    the candidate is the right entity: coefficients for the score, then for each feature, then for its lead over
    the mention's other candidates (``leads``), then the intercept.
    The NIL threshold is set on that probability. Any type clash is a fitted feature; with ``exclude_clashes``
    a place offered for a person or organisation mention (Toyota the city for "Toyota" as ORG) also has
    probability 0 unless the mention's qualifier fits it: it ranks last and is never linked, so a mention with
    only such candidates is NIL. Other clashes (an ORG mention and a person) stay soft: the local model's labels
    are wrong often enough there (``eval/reports/link_ablation.md``). An entity without types is neither
    favoured nor excluded.

    Two NIL thresholds: ``nil_threshold`` for spans a caller gives (``/v1/link``), fitted on gold spans, where
    nearly every mention has an entity; ``found_threshold`` for spans the NER found, chosen on end-to-end F1
    (``eval.e2e_threshold``), since some found spans name nothing a KB holds. Without one, the first serves both."""

    name = "reranker.logistic.v2"

    def __init__(
        self,
        weights: Sequence[float],
        nil_threshold: float,
        calibration: Sequence[float] | None = None,
        exclude_clashes: bool = True,
        found_threshold: float | None = None,
    ) -> None:
        self.weights = np.asarray(weights, dtype=np.float64)
        self.nil_threshold = nil_threshold
        self.found_threshold = nil_threshold if found_threshold is None else found_threshold
        self.exclude_clashes = exclude_clashes
        default = [1.0] + [0.0] * (_CALIBRATION_SIZE - 1)
        self.calibration = np.asarray(calibration if calibration is not None else default, dtype=np.float64)
        if len(self.calibration) != _CALIBRATION_SIZE:
            raise ValueError(
                f"a calibration of {_CALIBRATION_SIZE} coefficients is wanted, not {len(self.calibration)}"
            )
        fitted = [self.weights.tolist(), nil_threshold, self.calibration.tolist(), exclude_clashes, FEATURES]
        fitted += [self.found_threshold] * (self.found_threshold != nil_threshold)
        self.digest = hashlib.sha256(json.dumps(fitted).encode()).hexdigest()[:16]

    @classmethod
    def load(cls, path: Path = WEIGHTS) -> LogisticReranker:
        data = json.loads(path.read_text())
        if tuple(data["features"]) != FEATURES:
            raise ValueError(f"{path} was fitted for features {data['features']}, not {list(FEATURES)}")
        if len(data["calibration"]) != _CALIBRATION_SIZE:
            raise ValueError(f"{path} holds a calibration without the lead over rivals: refit it (make link-train)")
        return cls(
            data["weights"],
            data["nil_threshold"],
            data["calibration"],
            data.get("exclude_clashes", True),
            data.get("found_nil_threshold"),
        )

    def with_thresholds(self, nil: float | None = None, found: float | None = None) -> LogisticReranker:
        """The same fitted reranker with other NIL thresholds: a new one, whose digest names them, so a result
        linked under one threshold is never taken for one linked under the other."""
        nil = self.nil_threshold if nil is None else nil
        found = self.found_threshold if found is None else found
        return LogisticReranker(self.weights.tolist(), nil, self.calibration.tolist(), self.exclude_clashes, found)

    @staticmethod
    def calibration_inputs(rows: np.ndarray, scores: np.ndarray, rivals: np.ndarray) -> np.ndarray:
        """One mention's candidate rows and rank scores → the calibration's inputs, row by row; ``rivals``: the
        rows that can link, which each candidate's lead is measured against."""
        lead = leads(scores, rivals) if len(rows) else np.zeros(0)
        return np.column_stack([scores, rows[:, _CALIBRATION_COLUMNS], lead, np.ones(len(rows))])

    def excluded(self, rows: np.ndarray) -> np.ndarray:
        """The rows the type rule rules out (``_ruled_out``), where it holds."""
        return _ruled_out(rows) if self.exclude_clashes else np.zeros(len(rows), dtype=bool)

    def order(self, rows: np.ndarray, probs: np.ndarray | None = None) -> np.ndarray:
        """Candidate rows best first: by the rank score, which the pairwise fit made to order a mention's
        candidates, with the ruled-out ones (probability 0) last; ties by probability, then by candidate order.
        Ordering by the calibrated probability instead let a calibration term undo the ranker ("London, Ontario":
        the qualifier's fit is worth +6.4 in the rank score but -2.3 in the calibration, so the better-known
        London came first); the rank score picks the gold entity more often on the held-out benchmarks
        (``eval/reports/link_order.md``)."""
        probs = self.probability(rows) if probs is None else probs
        return np.lexsort((np.arange(len(rows)), -probs, -(rows @ self.weights), probs <= 0))

    def probability(self, rows: np.ndarray, ruled_out: np.ndarray | None = None) -> np.ndarray:
        """Per candidate row, the probability that it is the right entity. A row the type rule rules out, or one of
        ``ruled_out`` (what the records say can never link, see ``rerank``), has 0 and is no rival of the others:
        the city of Washington leads for "worked in Washington" once the president is out of the running."""
        out = self.excluded(rows) if ruled_out is None else self.excluded(rows) | ruled_out
        z = self.calibration_inputs(rows, rows @ self.weights, ~out) @ self.calibration
        return np.asarray(np.where(out, 0.0, 1.0 / (1.0 + np.exp(-z))))

    def rerank(
        self,
        mentions: Sequence[Mention],
        candidates: Sequence[Sequence[Candidate]],
        entities: dict[str, EntityRecord],
        vectors: dict[str, np.ndarray],
    ) -> list[list[Scored]]:
        out: list[list[Scored]] = []
        for m, cands in zip(mentions, candidates, strict=True):
            if not cands:
                out.append([])
                continue
            rows = features(m, cands, entities, vectors)
            ruled_out = None
            if self.exclude_clashes:
                records = [entities.get(c.kb_id) for c in cands]
                ruled_out = word_articles(m.label, records) | other_bearers(m.label, cands, records)
            probs = self.probability(rows, ruled_out)
            out.append(best_first([Scored(cands[i].kb_id, float(probs[i])) for i in self.order(rows, probs)]))
        return out


def _ruled_out(rows: np.ndarray) -> np.ndarray:
    """A place offered for a person or organisation mention; a qualifier the candidate fits ("Aguilares
    (Argentina)") says what the mention is, whatever its label."""
    return np.asarray((rows[:, _PLACE_CLASH] > 0) & (rows[:, _QUALIFIER] == 0))


def best_first(ranked: Sequence[Scored]) -> list[Scored]:
    """A ranked list whose scores read best first: each candidate's probability, never above that of a candidate
    ranked before it. The top keeps its own (what NIL is decided on); a lower candidate that the calibration
    alone would put above it is reported at the top's probability, a margin of 0, so a close call says so."""
    out: list[Scored] = []
    cap = 1.0
    for s in ranked:
        cap = min(cap, s.score)
        out.append(Scored(s.kb_id, cap))
    return out


rerankers.register(LogisticReranker.name)(LogisticReranker.load)
