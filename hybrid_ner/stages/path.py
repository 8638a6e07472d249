"""The request's path as values: every stage is a callable over the documents and the request, with whatever
else it needs bound when the path is built, so the pipeline only calls them in order."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING

from hybrid_ner.stages.doc import Doc, Request
from hybrid_ner.stages.link import link
from hybrid_ner.stages.llm import llm
from hybrid_ner.stages.local import local
from hybrid_ner.stages.merge import merge
from hybrid_ner.stages.route import route
from kb.meta import KBState

if TYPE_CHECKING:
    from hybrid_ner.llm.extractor import LLMExtractor
    from linking.resolver import Resolver

SyncStage = Callable[[Sequence[Doc], Request], None]
AsyncStage = Callable[[Sequence[Doc], Request], Awaitable[None]]


@dataclass(frozen=True)
class Stages:
    local: AsyncStage
    route: SyncStage
    llm: AsyncStage
    merge: SyncStage
    link: AsyncStage
    policy: SyncStage


def build(
    llm_extractor: Callable[[], LLMExtractor],
    llm_model: Callable[[], str | None],
    resolver: Callable[[KBState], Resolver | None],
    policy: SyncStage,
) -> Stages:
    """The path with its dependencies bound: the LLM (built on first use), the name of the LLM model that
    answered, the linker for a KB state, and the override policy."""
    return Stages(
        local=local,
        route=route,
        llm=partial(llm, extractor=llm_extractor),
        merge=partial(merge, llm_model=llm_model),
        link=partial(link, resolver=resolver),
        policy=policy,
    )
