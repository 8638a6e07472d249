"""LLM adjudication of close links: what the router does for NER, done for linking.

A link whose best candidate leads the runner-up by less than ``HNER_LINK_LLM_MARGIN`` goes to the LLM with the
mention in its context and the ``HNER_LINK_LLM_TOP`` best candidates (name, types, description). The answer is
a structured choice, ``{"choice": N}``: a candidate's number, or 0 for none of them. The response model bounds N
to the list, so the LLM cannot name an entity that is not a candidate; an answer outside it is refused and
counted, and the local choice stands. The call goes through the same backend (litellm + instructor), with the same
timeouts, retries, breaker and cache as extraction; any failure keeps the local choice and is counted by reason.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field, create_model

from hybrid_ner.datamodel import LinkStage
from hybrid_ner.llm.backend import LLMBackend
from hybrid_ner.llm.client import LLMError, ResponseCache
from hybrid_ner.llm.prompting import _env, prompt_version
from kb.records import EntityRecord
from linking.adjudicate import Ranked, is_close, query_of
from linking.candidates import Mention
from linking.rerank import Scored

SYSTEM_TEMPLATE = "link.system.j2"
USER_TEMPLATE = "link.user.j2"
MAX_DESCRIPTION = 200


class _Base(BaseModel):
    model_config = ConfigDict(extra="forbid")


@lru_cache(maxsize=32)
def choice_model(candidates: int) -> type[BaseModel]:
    """``{"choice": N}`` with 0 <= N <= ``candidates`` (a JSON-schema bound the LLM server enforces too)."""
    return create_model(f"LinkChoice{candidates}", __base__=_Base, choice=(int, Field(ge=0, le=candidates)))


def describe(entity: EntityRecord | None, kb_id: str) -> str:
    """A candidate as the prompt lists it: name, types and the start of its description."""
    if entity is None:
        return kb_id
    types = f" ({', '.join(entity.types[:3])})" if entity.types else ""
    about = entity.about[:MAX_DESCRIPTION]
    return f"{entity.name or kb_id}{types}" + (f": {about}" if about else "")


def build_messages(mention: Mention, candidates: Sequence[str]) -> list[dict[str, str]]:
    env = _env()
    user = env.get_template(USER_TEMPLATE).render(
        context=query_of(mention), mention=mention.text, label=mention.label, candidates=candidates
    )
    return [
        {"role": "system", "content": env.get_template(SYSTEM_TEMPLATE).render()},
        {"role": "user", "content": user},
    ]


@dataclass(frozen=True)
class LLMJudge:
    """The LLM stage of the resolver (``HNER_LINK_LLM``); ``counts`` says what it was asked and how it answered."""

    stage: ClassVar[LinkStage] = "llm"
    backend: LLMBackend
    nil_threshold: float  # the reranker's: a "none" answer puts every candidate under it
    margin: float = 0.1
    top: int = 5
    counts: Counter[str] = field(default_factory=Counter, compare=False)

    @property
    def version(self) -> str:
        prompt = prompt_version((SYSTEM_TEMPLATE, USER_TEMPLATE))
        return f"{self.stage}:{self.backend.model}:{prompt}:{self.margin}:{self.top}:{self.nil_threshold}"

    def __call__(
        self, mentions: Sequence[Mention], ranked: Ranked, entities: dict[str, EntityRecord]
    ) -> tuple[Ranked, list[bool]]:
        close = [i for i, scored in enumerate(ranked) if is_close(scored, self.margin)]
        consulted = [False] * len(ranked)
        if not close:
            return ranked, consulted
        answers = asyncio.run(self._ask([(mentions[i], ranked[i][: self.top]) for i in close], entities))
        out = list(ranked)
        for i, choice in zip(close, answers, strict=True):
            if choice is None:
                continue
            out[i] = self._apply(ranked[i], choice)
            consulted[i] = True
        return out, consulted

    async def _ask(
        self, items: list[tuple[Mention, list[Scored]]], entities: dict[str, EntityRecord]
    ) -> list[int | None]:
        return list(await asyncio.gather(*(self._one(m, head, entities) for m, head in items)))

    async def _one(self, mention: Mention, head: list[Scored], entities: dict[str, EntityRecord]) -> int | None:
        """The LLM's choice (0 for none), or None when it failed or answered outside the list (counted)."""
        messages = build_messages(mention, [describe(entities.get(s.kb_id), s.kb_id) for s in head])
        version = prompt_version((SYSTEM_TEMPLATE, USER_TEMPLATE))
        key = ResponseCache.key("link", self.backend.model, version, json.dumps(messages))
        self.counts["asked"] += 1
        try:
            result = await self.backend.complete(messages, choice_model(len(head)), cache_key=key)
        except LLMError as exc:
            self.counts[f"failed:{exc.reason}"] += 1
            return None
        choice = getattr(result.parsed, "choice", None)
        if not isinstance(choice, int) or not 0 <= choice <= len(head):
            self.counts["refused:outside_the_list"] += 1
            return None
        self.counts["none" if choice == 0 else "chose"] += 1
        return choice

    def _apply(self, scored: list[Scored], choice: int) -> list[Scored]:
        """The chosen candidate first (at least as likely as the old best); for none, every candidate under the
        NIL threshold, in the same order."""
        if choice == 0:
            cap = self.nil_threshold * 0.999
            return [Scored(s.kb_id, min(s.score, cap)) for s in scored]
        chosen = scored[choice - 1]
        rest = [s for s in scored if s is not chosen]
        return [Scored(chosen.kb_id, max(chosen.score, scored[0].score)), *rest]
