"""Deterministic extraction from schema patterns and example mentions (spaCy PhraseMatcher).

It needs no model and no LLM, so it is both a strategy users can pick and the
fallback that keeps policy-sensitive types working when the other paths fail.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from hybrid_ner.datamodel import Decision, Entity, Source, Span
from hybrid_ner.schemas import Schema

NAME = "extractor.rules.v1"
RULE_SCORE = 1.0  # an exact phrase match is certain about the surface form; the type comes from the schema


@lru_cache(maxsize=64)
def _matcher(schema_json: str) -> tuple[Any, Any]:
    import spacy
    from spacy.matcher import PhraseMatcher

    schema = Schema.model_validate_json(schema_json)
    nlp = spacy.blank("en")
    nlp.max_length = 2_000_000
    matcher = PhraseMatcher(nlp.vocab, attr="ORTH")
    for t in schema.types:
        phrases = set(t.patterns)
        phrases |= {ex.text[e.start : e.end] for ex in t.examples for e in ex.entities if e.label == t.name}
        if phrases:
            matcher.add(t.name, [nlp.make_doc(p) for p in sorted(phrases) if p.strip()])
    return nlp, matcher


class RulesExtractor:
    """Phrase matches of each type's ``patterns`` and positive-example mentions; longest match wins."""

    name = NAME

    def __init__(self, schema: Schema) -> None:
        self.schema = schema
        self.nlp, self.matcher = _matcher(schema.model_dump_json())

    @property
    def labels(self) -> list[str]:
        return self.schema.labels

    def extract(
        self, texts: Sequence[str], only: set[str] | None = None, reason: str = "pattern match"
    ) -> list[list[Entity]]:
        out: list[list[Entity]] = []
        for text in texts:
            doc = self.nlp.make_doc(text)
            spans = [
                (doc[s:e].start_char, doc[s:e].end_char, self.nlp.vocab.strings[m]) for m, s, e in self.matcher(doc)
            ]
            spans = [s for s in spans if only is None or s[2] in only]
            spans.sort(key=lambda s: (s[0], -(s[1] - s[0])))
            ents: list[Entity] = []
            last_end = -1
            for start, end, label in spans:
                if start >= last_end:
                    ents.append(
                        Entity(
                            span=Span.from_text(text, start, end, label),
                            score=RULE_SCORE,
                            source=Source.RULES,
                            decision=Decision(routed="rules", reason=reason),
                        )
                    )
                    last_end = end
            out.append(ents)
        return out
