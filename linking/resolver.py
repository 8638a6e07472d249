"""The resolver: mentions in, links out (candidates → rerank → NIL). Policy (overrides) is applied by the caller,
after linking, on every path."""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Sequence

import numpy as np

from hybrid_ner.datamodel import Candidate as LinkCandidate
from hybrid_ner.datamodel import Link, LinkDecision, LinkStage, link_stages
from kb.keys import alternates, normalize, words
from kb.record_cache import RecordCache
from kb.records import EntityRecord
from kb.store import KBStore
from linking.adjudicate import Judge
from linking.candidates import (
    Candidate,
    CandidateGenerator,
    Mention,
    document_vectors,
    drop_initials,
    embed_mentions,
    spells_out,
)
from linking.document import (
    NAMES_IN_CONTEXT,
    NATIONALITY,
    NIL_REASONS,
    UNKNOWN_ABBREVIATION,
    UNKNOWN_PERSON,
    dateline_cities,
    define_abbreviations,
    follow_longer_forms,
    hold_qualifiers,
    nationality_words,
    unknown_abbreviations,
    unknown_people,
)
from linking.embedder import Embedder, VectorCache
from linking.index import DenseIndex
from linking.rerank import Reranker, Scored
from linking.schools import where_one_studies
from linking.sports import located

TOP_K = 5
SpanIn = tuple[int, int, str | None]  # (start, end, label)


def context_of(text: str, start: int, end: int, width: int = 800, reach: int = 100) -> str:
    """The text around a mention, cut at spaces: the ``width``-character cell of a fixed grid that holds the
    mention's start, widened by ``reach`` characters on either side (and past the mention's end). Mentions of one
    stretch of a document share their context, so a document's contexts are encoded once per cell, not once per
    mention (a news article names 30-40 entities in 4-5 cells). Each mention keeps at least ``reach`` characters
    on either side, and the encoder reads the text 1.25 times over, where 200-character cells that reached half a
    cell out read it twice, for links as good (``eval/reports/link_context.md``)."""
    cell = start // width * width
    lo = max(0, cell - reach)
    hi = min(len(text), max(cell + width + reach, end + reach))
    if lo > 0:
        lo = text.find(" ", lo, start) + 1 or lo
    if hi < len(text):
        cut = text.rfind(" ", end, hi)
        hi = cut if cut != -1 else hi
    return text[lo:hi]


# A place's qualifier, right after its name: ", Illinois", " (Massachusetts)", " in Nebraska", ", a city in Alabama".
# A name is capitalised words, with "of", "de", "la" between ("Isle of Man").
_NAME = r"([A-Z][\w.'\u2019-]*(?:\s+(?:(?:of|de|del|la|the)\s+)?[A-Z][\w.'\u2019-]*){0,3})"
_COMMA_QUALIFIER = re.compile(r",\s*" + _NAME)
_IN_QUALIFIER = re.compile(r"(?:,\s+(?:a|an|the)(?:\s+[a-z-]+){1,3}\s+|\s+)in\s+(?:the\s+)?" + _NAME)
_PAREN_QUALIFIER = re.compile(r"\s*\(([^()]{2,60})\)")


def qualifier_of(text: str, end: int, label: str | None) -> str:
    """The qualifier that follows a mention ending at ``end``: a parenthesis after any mention; after a place (or
    an unlabelled span) a comma and a capitalised name, or "in" and one. After a person or an organisation, only
    a comma and a US state or a country as the gazetteer names them: a dateline's city the NER took for one of
    those ("JACKSON, Miss.", "ALBANY, N.Y. (AP)"), never "Smith, John". Empty when there is none."""
    paren = _PAREN_QUALIFIER.match(text, end)
    if paren:
        return paren.group(1).strip()
    place = label in (None, "LOC")
    found = _COMMA_QUALIFIER.match(text, end) or (_IN_QUALIFIER.match(text, end) if place else None)
    name = found.group(1).split(". ")[0] if found else ""  # not across a sentence end
    return name if place or normalize(name) in alternates() else ""


# Where a sentence ends: a stop (and any closing quote or bracket) before white space, or a line break. An
# abbreviation's stop ("U.S. troops") splits a sentence in two, which only makes the rules that read sentences
# apply less often.
_SENTENCE_END = re.compile(r"[.!?][\"'\u201d\u2019)\]]*\s+|\n")


def sentence_ends(text: str) -> list[int]:
    """The offsets where the text's sentences end: read once per text, for all of its mentions."""
    return [m.end() for m in _SENTENCE_END.finditer(text)]


# What follows a news dateline's place: its state or country ("NASHVILLE, Tenn."), then the agency in brackets
# or a dash ("WASHINGTON (AP) —", "LONDON -").
_DATELINE_TAIL = re.compile(r"(?:,\s*[A-Z][\w.]*(?:\s+[A-Z][\w.]*){0,2})?\s*(?:\([^()]{1,40}\)|-{1,2}|\u2013|\u2014)")


def is_dateline(text: str, start: int, end: int) -> bool:
    """The span opens a line, is written in capitals and is followed as a dateline's place is: it names the city
    the story was filed from ("WASHINGTON (AP) —"), never the state or country of that name."""
    if not text[start:end].isupper() or not _DATELINE_TAIL.match(text, end):  # most mentions: cheaply no
        return False
    return not text[text.rfind("\n", 0, start) + 1 : start].strip()


def mention_at(text: str, start: int, end: int, label: str | None, doc: int, ends: Sequence[int]) -> Mention:
    """The mention of ``text[start:end]``, with its context, qualifier, place and sentence (``ends``: the text's
    ``sentence_ends``, read once for all of its mentions), as document ``doc``."""
    context = context_of(text, start, end)
    before = text[max(0, start - 40) : start]
    return Mention(
        text[start:end],
        label,
        context,
        doc=doc,
        qualifier=qualifier_of(text, end, label),
        start=start,
        dateline=is_dateline(text, start, end),
        sentence=bisect_right(ends, start),
        located=located(before),
        studied_at=where_one_studies(before, context),
    )


def mentions_of(items: Sequence[tuple[str, Sequence[SpanIn]]]) -> list[Mention]:
    """The mentions of (text, spans) items, each item one document, with the abbreviations each text defines."""
    out: list[Mention] = []
    for d, (text, spans) in enumerate(items):
        ends = sentence_ends(text)
        out += define_abbreviations(text, [mention_at(text, s, e, label, d, ends) for s, e, label in spans])
    return out


# A name a text writes out: two to four capitalised words ("Taylor Swift", "O'Brien"), never a possessive's "s".
_WRITTEN_NAME = re.compile(r"\b[A-Z][\w-]*(?:['\u2019][A-Z][\w-]*)?(?:[ \t]+[A-Z][\w-]*(?:['\u2019][A-Z][\w-]*)?){1,3}")
MAX_WRITTEN = 20  # per document: what a fuller name costs is one more mention to embed and rank


def written_out(items: Sequence[tuple[str, Sequence[SpanIn]]], mentions: Sequence[Mention]) -> list[Mention]:
    """Fuller names that the texts write out but the caller's spans leave out, for its short person and
    organisation mentions: "Taylor Swift" in the headline for the span "Taylor" further down. They join the
    ranking as mentions of their document with the short one's label, so a short name follows them as it follows
    a fuller span (``follow_longer_forms``); they are never returned."""
    out: list[Mention] = []
    by_doc: dict[int, list[Mention]] = {}
    for m in mentions:
        by_doc.setdefault(m.doc, []).append(m)
    for d, (text, spans) in enumerate(items):
        own = by_doc.get(d, [])
        short = [(tuple(words(m.text)), m.label) for m in own if m.label in NAMES_IN_CONTEXT]
        seen = {tuple(words(m.text)) for m in own}
        ends = sentence_ends(text) if short else []
        added = 0
        for run in _WRITTEN_NAME.finditer(text) if short else ():
            form = tuple(words(run.group()))
            label = next((lab for sh, lab in short if sh and spells_out(form, sh)), None)
            if label is None or form in seen or any(s < run.end() and run.start() < e for s, e, _ in spans):
                continue
            seen.add(form)
            out.append(mention_at(text, run.start(), run.end(), label, d, ends))
            added += 1
            if added == MAX_WRITTEN:
                break
    return out


def describe(link: Link, record: EntityRecord | None) -> Link:
    """The link with what the KB says about its entity: name, description, types and public page."""
    if record is None:
        return link
    return link.model_copy(
        update={
            "name": record.name or None,
            "description": record.description or None,
            "types": record.types or None,
            "url": record.url,
        }
    )


class Resolver:
    """Links spans to KB ids; ``nil`` when the best candidate scores below the reranker's NIL threshold."""

    def __init__(
        self,
        store: KBStore,
        embedder: Embedder,
        index: DenseIndex,
        candidates: CandidateGenerator,
        reranker: Reranker,
        top_k: int = TOP_K,
        judges: Sequence[Judge] = (),
        caches: tuple[VectorCache, RecordCache] | None = None,
        nationalities: bool = False,
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.index = index
        self.generator = candidates
        self.reranker = reranker
        self.top_k = top_k
        self.judges = tuple(judges)  # close calls settled in turn: the cross-encoder, then the LLM, when configured
        self.nationalities = nationalities  # link a found nationality adjective to its place (``nationality_words``)
        # Mentions, contexts and the entities the dense index does not hold yet (added since its build, or all of
        # them while it builds), each encoded alone: the same text has the same vector whatever came with it.
        # ``caches``: another resolver's over the same store and encoder (see ``reranked_by``).
        self.fresh, self.records = caches or (
            VectorCache(embedder.encode_each, embedder.dim),
            RecordCache(store),  # candidates' records, read again only after a KB write
        )
        self._version = "|".join(
            [embedder.name, candidates.name, f"{reranker.name}@{reranker.digest}", str(top_k)]
            + [judge.version for judge in self.judges]
            + ["nationalities"] * nationalities
        )

    def reranked_by(self, reranker: Reranker) -> Resolver:
        """This resolver ranking with another reranker: a new one, whose version names that reranker, sharing the
        parts and the caches (vectors and records, which no reranker changes). What a benchmark fold links with."""
        caches = (self.fresh, self.records)
        return Resolver(
            self.store,
            self.embedder,
            self.index,
            self.generator,
            reranker,
            self.top_k,
            self.judges,
            caches,
            self.nationalities,
        )

    def version(self) -> str:
        """Everything a link depends on besides the KB's content (whose version the caller keys on): the encoder,
        the generator, the fitted reranker, the judges' settings, and whether dense retrieval runs yet, so a
        result cached while the index built is not served once it is ready."""
        return f"{self._version}|dense={self.index.ready}"

    def status(self) -> dict[str, object]:
        """Which linking stages run now, and the dense index's state (for ``/readyz``)."""
        index = self.index.status()
        stages = link_stages(alias=True, dense=self.index.ready, judges=frozenset(j.stage for j in self.judges))
        out: dict[str, object] = {"stages": stages, "index": index}
        for judge in self.judges:
            counts = getattr(judge, "counts", None)
            if counts is not None:
                out[judge.stage] = dict(counts)
        return out

    def gather(
        self, mentions: Sequence[Mention]
    ) -> tuple[list[list[Candidate]], dict[str, EntityRecord], dict[str, np.ndarray]]:
        """Everything the reranker needs: embedded mentions, their candidates, the candidates' records and vectors."""
        embed_mentions(self.fresh.encode, mentions)
        found = self.generator.candidates(mentions)
        entities = self.records.get(list({c.kb_id for cs in found for c in cs}))
        cands = drop_initials(mentions, found, entities)
        ids = list({c.kb_id for cs in cands for c in cs})
        vectors = self.index.vectors(ids)
        missing = [i for i in ids if i not in vectors and i in entities]
        if missing:  # alias hits outside the dense index's view (e.g. just added): embed them now
            fresh = self.fresh.encode([entities[i].text() for i in missing])
            vectors.update({i: v for i, v in zip(missing, fresh, strict=True)})
        document_vectors(mentions, cands, vectors)
        return cands, entities, vectors

    def link(self, items: Sequence[tuple[str, Sequence[SpanIn]]], detected: bool = False) -> list[list[Link]]:
        """One list of links per (text, spans) item, in span order; candidates best first. ``detected``: the
        spans are what the NER found, so the reranker's threshold for found spans decides NIL."""
        threshold = self.reranker.found_threshold if detected else self.reranker.nil_threshold
        mentions = mentions_of(items)
        if not mentions:
            return [[] for _ in items]
        # Given spans may leave out the fuller names the text writes; the NER's spans already hold them.
        everything = [*mentions, *([] if detected else written_out(items, mentions))]
        cands, entities, vectors = self.gather(everything)
        scored = self.reranker.rerank(everything, cands, entities, vectors)
        n = len(mentions)
        decided_by: list[LinkStage | None] = [None] * n
        for judge in self.judges:  # the caller's mentions only: the fuller names are never returned
            head, consulted = judge(mentions, scored[:n], entities)
            scored = [*head, *scored[n:]]
            decided_by = [judge.stage if asked else was for asked, was in zip(consulted, decided_by, strict=True)]
        named = [{c.kb_id for c in cs if c.exact} for cs in cands]
        scored, followed = follow_longer_forms(everything, scored, entities, threshold, named)
        scored, held = hold_qualifiers(everything, scored, named, entities, threshold)
        by_name = [{c.kb_id for c in cs if c.named} for cs in cands]
        scored, filed = dateline_cities(everything, scored, by_name, entities)
        unknown = unknown_people(everything, scored, entities, threshold, followed)
        undefined = unknown_abbreviations(everything, scored, entities, threshold)
        adjectives = nationality_words(everything) if detected and not self.nationalities else [False] * len(scored)
        flags = zip(followed, held, filed, unknown, undefined, adjectives, strict=True)
        reasons = [next((r for r, on in zip(_REASONS, f, strict=True) if on), None) for f in flags]
        links = []
        for ranked, found, stage, reason in zip(scored[:n], cands[:n], decided_by, reasons[:n], strict=True):
            top = [
                LinkCandidate(kb_id=c.kb_id, name=_name(entities.get(c.kb_id)), score=round(c.score, 4))
                for c in ranked[: self.top_k]
            ]
            best = round(ranked[0].score, 4) if ranked else 0.0
            decision = _decision(ranked, found, stage, reason)
            if ranked and ranked[0].score >= threshold and reason not in NIL_REASONS:
                link = Link(kb_id=ranked[0].kb_id, score=best, candidates=top, nil=False, decision=decision)
                links.append(describe(link, entities.get(ranked[0].kb_id)))
            else:
                links.append(Link(kb_id=None, score=best, candidates=top, decision=decision))
        out: list[list[Link]] = []
        pos = 0
        for _, spans in items:
            out.append(links[pos : pos + len(spans)])
            pos += len(spans)
        return out


# Why a document's own names settled a link (the first three: its stage is ``alias``) or made it NIL, in the order
# the rules are asked.
_SETTLING = ("longer_form", "qualifier", "dateline")
_REASONS = (*_SETTLING, UNKNOWN_PERSON, UNKNOWN_ABBREVIATION, NATIONALITY)


def _decision(
    ranked: Sequence[Scored], found: Sequence[Candidate], stage: LinkStage | None = None, reason: str | None = None
) -> LinkDecision:
    """The best candidate's stage (a name the KB knows, or meaning alone) and its margin over the second; a link
    a fuller name of the document settled is ``alias`` with reason ``longer_form``, one its role as a qualifier
    settled is ``alias`` with reason ``qualifier``, one its place in a dateline settled ``alias`` with reason
    ``dateline``."""
    if not ranked:
        return LinkDecision(stage="none", reason="no_candidates")
    margin = ranked[0].score - (ranked[1].score if len(ranked) > 1 else 0.0)
    if stage is None:
        settled = reason in _SETTLING  # a name of the document settled it
        named = settled or next((c.named for c in found if c.kb_id == ranked[0].kb_id), False)
        stage = "alias" if named else "dense"
    return LinkDecision(stage=stage, margin=round(margin, 4), reason=reason)


def _name(record: EntityRecord | None) -> str | None:
    return record.name or None if record is not None else None
