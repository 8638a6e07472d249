"""Candidate generation: alias and lookup-key hits in SQL, the longer forms of a mention in the same
document, and dense FAISS retrieval; the reranker sees the union."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Protocol

import numpy as np

from hybrid_ner.registry import Registry
from kb.demonyms import demonym, named_by
from kb.keys import DERIVED, REDIRECT, lookup_keys, name_initials, normalize, words
from kb.records import EntityRecord
from kb.store import KBStore
from linking.index import DenseIndex
from linking.schools import school_names
from linking.sports import sports_in, team_context, team_names


@dataclass
class Mention:
    text: str
    label: str | None
    context: str  # the sentence around the mention
    doc: int = 0  # mentions with the same ``doc`` come from one text
    qualifier: str = ""  # a place that qualifies it: "Illinois" in "Springfield, Illinois" (see ``qualifier_of``)
    start: int = 0  # offset in its text: which of a document's names comes first (``linking.document``)
    sentence: int = 0  # which sentence of its text holds it
    dateline: bool = False  # it opens a line in capitals before an agency or a dash: "WASHINGTON (AP) —"
    expands: str = ""  # an abbreviation its text defines: the name it stands for ("FDA" after "Food and Drug ...")
    located: bool = False  # a word that places it comes right before it: "in Spain", "from England" (no team)
    studied_at: bool = False  # where someone studies or teaches: "a doctorate from Pittsburgh" (``linking.schools``)
    vector: np.ndarray | None = None  # mention embedding, filled by ``embed_mentions``
    context_vector: np.ndarray | None = None
    doc_vector: np.ndarray | None = None  # the other mentions of the document, see ``document_vectors``
    coherence_vector: np.ndarray | None = None  # the entities they most likely name


def embed_mentions(embed: Callable[[list[str]], np.ndarray], mentions: Sequence[Mention]) -> None:
    """Fill each mention's own and context vectors; one encoder call for all of them, each distinct string once
    (a document names the same entity many times)."""
    if not mentions:
        return
    unique = list(dict.fromkeys([m.text for m in mentions] + [m.context for m in mentions]))
    row = {text: i for i, text in enumerate(unique)}
    vecs = embed(unique)
    for m in mentions:
        m.vector, m.context_vector = vecs[row[m.text]], vecs[row[m.context]]


@dataclass
class Candidate:
    kb_id: str
    alias_hit: bool = False  # the mention's normalized text is one of the entity's aliases
    redirect_hit: bool = False  # ... is a Wikipedia redirect to the entity (a noisier source)
    key_hit: bool = False  # a looser key matched: punctuation, legal form, acronym or surname
    doc_hit: bool = False  # a longer mention of the same document ("Donald Trump" for "Trump") names it
    demonym_place: bool = False  # the mention is a nationality word of this place ("American": United States)
    demonym_people: bool = False  # ... of this people ("American": Americans), see ``kb.demonyms``
    team_hit: bool = False  # a team the mention's place names in a report on its sport (``linking.sports``)
    school_hit: bool = False  # a university named after the place where the text has someone study (``schools``)
    dense: float = 0.0  # cosine of mention and entry (0 when dense retrieval did not return it)

    @property
    def named(self) -> bool:
        return (
            self.alias_hit
            or self.redirect_hit
            or self.key_hit
            or self.doc_hit
            or self.demonymic
            or self.team_hit
            or self.school_hit
        )

    @property
    def demonymic(self) -> bool:
        """Found as what a nationality word names: a name of sorts, though no alias of the entity."""
        return self.demonym_place or self.demonym_people

    @property
    def exact(self) -> bool:
        """The mention is one of the entity's names: an alias, or a Wikipedia redirect ("Ford" → Ford Motor
        Company), not only a looser key."""
        return self.alias_hit or self.redirect_hit


class CandidateGenerator(Protocol):
    """Per mention, the KB entities worth ranking (unordered; the reranker orders them)."""

    name: str

    def candidates(self, mentions: Sequence[Mention]) -> list[list[Candidate]]: ...


# Factories take (store, dense index); ``HNER_CANDIDATES`` names the one the service uses.
candidate_generators: Registry[CandidateGenerator] = Registry("candidate generator")


def longer_forms(mentions: Sequence[Mention]) -> list[list[int]]:
    """For each mention, the other mentions of its document that spell it out: they contain its words
    in order ("Trump" in "Donald Trump"), their initials make it ("NYSE", ``initials``), or the text defines it as their
    abbreviation (``Mention.expands``). One mention stands for all with the same words, and forms are indexed
    by word and by initials, so a long document stays cheap."""
    forms = [tuple(words(m.text)) for m in mentions]
    first: dict[tuple[int, tuple[str, ...]], int] = {}
    for j, (m, form) in enumerate(zip(mentions, forms, strict=True)):
        first.setdefault((m.doc, form), j)
    expansion = expansions(mentions)
    by_word: dict[tuple[int, str], list[int]] = {}
    by_initials: dict[tuple[int, str], list[int]] = {}
    for (doc, form), j in first.items():
        for w in set(form):
            by_word.setdefault((doc, w), []).append(j)
        for letters in initials(form):
            by_initials.setdefault((doc, letters), []).append(j)
    spelled: dict[tuple[int, tuple[str, ...]], list[int]] = {}
    for doc, short in first:
        n = len(short)
        if not n:
            continue
        found = {j for j in by_word.get((doc, short[0]), ()) if spells_out(forms[j], short)}
        if n == 1 and len(short[0]) > 1 and written_as_initials(mentions[first[doc, short]].text):
            found.update(by_initials.get((doc, short[0]), ()))
        if (defined := expansion[first[doc, short]]) is not None:
            found.add(defined)
        spelled[doc, short] = sorted(found)
    return [spelled.get((m.doc, form), []) for m, form in zip(mentions, forms, strict=True)]


def expansions(mentions: Sequence[Mention]) -> list[int | None]:
    """Per mention, the mention its text defines it to abbreviate (``Mention.expands``), for every use of the
    abbreviation; the first mention of each form stands for all with the same words."""
    forms = [(m.doc, tuple(words(m.text))) for m in mentions]
    first: dict[tuple[int, tuple[str, ...]], int] = {}
    for j, form in enumerate(forms):
        first.setdefault(form, j)
    defined: dict[tuple[int, tuple[str, ...]], int] = {}
    for m, form in zip(mentions, forms, strict=True):
        named = first.get((m.doc, tuple(words(m.expands)))) if m.expands else None
        if named is not None:
            defined.setdefault(form, named)
    return [defined.get(form) for form in forms]


def written_as_initials(text: str) -> bool:
    """Whether a mention is written the way initials are: two capitals or more ("NASA", "BoE", "U.S."), or none
    (a tweet's "nasa"). A capitalised word ("Hu", "La.", "Koh") is a name, or the short form of one, and the
    initials of "Harvard University" or "Los Angeles" are no reading of it."""
    capitals = sum(c.isupper() for c in text)
    return capitals >= 2 or capitals == 0


def drop_initials(
    mentions: Sequence[Mention], cands: Sequence[list[Candidate]], entities: dict[str, EntityRecord]
) -> list[list[Candidate]]:
    """Each mention's candidates without those that only the initials of their name found, for a mention not
    ``written_as_initials``: the key "la" derived from "Los Angeles" does not make "La." (Louisiana) a reading
    of it. A candidate that dense retrieval found as well stays, as found by meaning alone."""
    out: list[list[Candidate]] = []
    for m, found in zip(mentions, cands, strict=True):
        if written_as_initials(m.text):
            out.append(found)
            continue
        keys = lookup_keys(m.text)
        kept = []
        for c in found:
            record = entities.get(c.kb_id)
            by_key_alone = c.key_hit and not (c.alias_hit or c.redirect_hit or c.doc_hit)
            if by_key_alone and record is not None and name_initials(record.name) in keys:
                if not c.dense:
                    continue
                c = replace(c, key_hit=False)
            kept.append(c)
        out.append(kept)
    return out


# Words an acronym may leave out: "FDA" for "Food and Drug Administration", "BoE" for "Bank of England".
_GLUE = frozenset({"and", "of", "for", "the", "on", "in", "de", "du", "des", "la"})


def initials(form: Sequence[str]) -> set[str]:
    """The acronyms a name of two words or more may go by: the first letters of all its words, and of those
    left without joining words and a leading "U.S." ("fda" for "U.S. Food and Drug Administration")."""
    national = 2 if list(form[:2]) in (["u", "s"], ["u", "k"]) else 1 if list(form[:1]) in (["us"], ["uk"]) else 0
    kept = [w for w in form[national:] if w not in _GLUE]
    return {"".join(w[0] for w in ws) for ws in (form, kept) if len(ws) > 1} if len(form) > 1 else set()


def spells_out(form: tuple[str, ...], short: tuple[str, ...]) -> bool:
    """Whether the words ``form`` hold the words ``short`` in a row, and more ("Donald Trump" for "Trump")."""
    n = len(short)
    return len(form) > n and any(form[k : k + n] == short for k in range(len(form) - n + 1))


@candidate_generators.register("candidates.alias_dense.v2")
class UnionCandidates:
    """Name hits (aliases, lookup keys, longer forms in the document; best known first, capped) plus the dense top-k."""

    name = "candidates.alias_dense.v2"

    def __init__(
        self, store: KBStore, index: DenseIndex, k: int = 30, max_named: int = 50, k_context: int = 10
    ) -> None:
        self.store = store
        self.index = index
        self.k = k
        self.max_named = max_named
        self.k_context = k_context  # more from the mention read in its context ("Merkel" beside "German chancellor")

    def candidates(self, mentions: Sequence[Mention]) -> list[list[Candidate]]:
        # A qualified place is also looked up whole: KBs name entities "Springfield, Illinois".
        norms = [[normalize(f"{m.text}, {m.qualifier}")] * bool(m.qualifier) + [normalize(m.text)] for m in mentions]
        keys = [lookup_keys(m.text) for m in mentions]
        hits = self.store.lookup({*(n for ns in norms for n in ns), *(k for ks in keys for k in ks)})
        named: list[dict[str, Candidate]] = []
        for ns, ks in zip(norms, keys, strict=True):
            found: dict[str, Candidate] = {}
            for norm in ns:
                for e, source in hits.get(norm, []):
                    if source != DERIVED:
                        c = found.setdefault(e, Candidate(e))
                        c.alias_hit = c.alias_hit or source != REDIRECT
                        c.redirect_hit = c.redirect_hit or source == REDIRECT
            for key in sorted(ks):
                for e, _ in hits.get(key, []):
                    found.setdefault(e, Candidate(e, key_hit=True))
            named.append(dict(list(found.items())[: self.max_named]))
        for found, nationality in zip(named, demonym_hits(self.store, mentions), strict=True):
            for kb_id, is_place in nationality.items():
                c = found.setdefault(kb_id, Candidate(kb_id))
                c.demonym_place, c.demonym_people = c.demonym_place or is_place, c.demonym_people or not is_place
        for found, teams in zip(named, team_hits(self.store, mentions), strict=True):
            for kb_id in teams:
                found.setdefault(kb_id, Candidate(kb_id)).team_hit = True
        for found, schools in zip(named, school_hits(self.store, mentions), strict=True):
            for kb_id in schools:
                found.setdefault(kb_id, Candidate(kb_id)).school_hit = True
        for i, longer in enumerate(longer_forms(mentions)):
            for j in longer:
                for c in [c for c in named[j].values() if c.named and not c.doc_hit][: self.max_named]:
                    hit = named[i].setdefault(c.kb_id, Candidate(c.kb_id))
                    hit.doc_hit = True
        out: list[list[Candidate]] = []
        for found, dense, in_context in zip(named, *self._dense(mentions), strict=True):
            for kb_id, score in dense:
                c = found.setdefault(kb_id, Candidate(kb_id))
                c.dense = max(c.dense, score)
            for kb_id, _ in in_context:
                found.setdefault(kb_id, Candidate(kb_id))
            out.append(list(found.values()))
        return out

    def _dense(self, mentions: Sequence[Mention]) -> tuple[list[list[tuple[str, float]]], ...]:
        """Per mention, the dense top-k for the mention itself and the top ``k_context`` for the mention and its
        context together (empty where the mentions are not embedded)."""
        queries = dense_queries(mentions)
        if queries is None:
            return [[] for _ in mentions], [[] for _ in mentions]
        own, both = queries
        in_context = self.index.search(both, self.k_context) if self.k_context else [[] for _ in mentions]
        return self.index.search(own, self.k), in_context


def demonym_hits(store: KBStore, mentions: Sequence[Mention], each: int = 3) -> list[dict[str, bool]]:
    """Per mention, the entities its text names as a nationality word (``kb.demonyms``): the ``each`` best known
    of every name of the place ("American": True) or of its people ("Americans": False); a people by its names
    rather than keys the store derives (the series "The Americans" is no people), a place by either ("The
    Netherlands"). Never for a person: "German" may be a first name."""
    found = [named_by(d) if m.label != "PER" and (d := demonym(m.text)) else None for m in mentions]
    wanted = {n for f in found if f for n in f[1]}
    hits = store.lookup(wanted) if wanted else {}
    out: list[dict[str, bool]] = []
    for f in found:
        named: dict[str, bool] = {}
        place, names = f if f else (False, ())
        for name in names:
            for kb_id in list(dict.fromkeys(e for e, src in hits.get(name, []) if place or src != DERIVED))[:each]:
                named.setdefault(kb_id, place)
        out.append(named)
    return out


def team_hits(store: KBStore, mentions: Sequence[Mention]) -> list[list[str]]:
    """Per mention of a place or organisation whose context reports a game, the entities named as that place's
    teams in the sports it names ("England" beside "rugby": England national rugby union team); none for a place
    a preposition places ("won in Spain")."""
    return generated_hits(
        store,
        [team_names(m.text, sports) if team_context(m) and (sports := sports_in(m.context)) else [] for m in mentions],
    )


def school_hits(store: KBStore, mentions: Sequence[Mention]) -> list[list[str]]:
    """Per mention of where someone studies or teaches ("studied at Berkeley"), the universities named after
    it (``linking.schools``)."""
    return generated_hits(store, [school_names(m.text) if m.studied_at else [] for m in mentions])


def generated_hits(store: KBStore, names: Sequence[Sequence[str]]) -> list[list[str]]:
    """Per mention, the entities that the names a rule generated for it (normalized) name, in one lookup for all
    mentions: by a name or a redirect, never by a key the store derives (a team's surname key is no team)."""
    wanted = {n for ns in names for n in ns}
    hits = store.lookup(wanted) if wanted else {}
    return [list(dict.fromkeys(e for n in ns for e, src in hits.get(n, []) if src != DERIVED)) for ns in names]


def dense_queries(mentions: Sequence[Mention]) -> tuple[np.ndarray, np.ndarray] | None:
    """What dense retrieval looks up for embedded mentions: each mention alone, and the mention and its context
    together (normalised); None where the mentions are not embedded."""
    if not mentions or any(m.vector is None or m.context_vector is None for m in mentions):
        return None
    own = np.vstack([m.vector for m in mentions if m.vector is not None]).astype(np.float32)
    ctx = np.vstack([m.context_vector for m in mentions if m.context_vector is not None]).astype(np.float32)
    both = own + ctx
    both /= np.maximum(np.linalg.norm(both, axis=1, keepdims=True), 1e-6)
    return own, both


def _others(mentions: Sequence[Mention], vecs: Sequence[np.ndarray | None]) -> list[np.ndarray | None]:
    """Per mention, the normalized sum of ``vecs`` over the other mentions of its document."""
    sums: dict[int, np.ndarray] = {}
    for m, v in zip(mentions, vecs, strict=True):
        if v is not None:
            sums[m.doc] = sums[m.doc] + v if m.doc in sums else v.copy()
    out: list[np.ndarray | None] = []
    for m, v in zip(mentions, vecs, strict=True):
        rest = sums[m.doc] - v if v is not None else sums.get(m.doc)
        norm = float(np.linalg.norm(rest)) if rest is not None else 0.0
        out.append(rest / norm if rest is not None and norm > 1e-6 else None)
    return out


def document_vectors(
    mentions: Sequence[Mention], candidates: Sequence[Sequence[Candidate]], vectors: dict[str, np.ndarray]
) -> None:
    """Tell each mention what the rest of its document is about: the other mentions' text, and the entities
    they most likely name (their first name hit), so a candidate can be judged by the company it keeps."""
    anchors = [
        next((vectors[c.kb_id] for c in cands if c.named and c.kb_id in vectors), m.vector)
        for m, cands in zip(mentions, candidates, strict=True)
    ]
    for m, doc, coherence in zip(
        mentions, _others(mentions, [m.vector for m in mentions]), _others(mentions, anchors), strict=True
    ):
        m.doc_vector, m.coherence_vector = doc, coherence
