"""Stage 4: the sentences the routers asked about go to the LLM, grouped into regions, concurrently."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from hybrid_ner.llm.extractor import LLMExtractor, Region
from hybrid_ner.routing import RoutingPlan
from hybrid_ner.stages.doc import Doc, Request


def regions(text_index: int, plan: RoutingPlan) -> list[Region]:
    """Consecutive sentences that ask for the same labels become one region (fewer, larger LLM calls)."""
    out: list[Region] = []
    for (start, end), labels in sorted(plan.ask.items()):
        key = tuple(sorted(labels))
        if out and out[-1].labels == key and out[-1].end <= start:
            out[-1] = Region(text_index, out[-1].start, end, key)
        else:
            out.append(Region(text_index, start, end, key))
    return out


async def llm(docs: Sequence[Doc], request: Request, extractor: Callable[[], LLMExtractor]) -> None:
    """Fill ``doc.regions``; the LLM is only built when some text asks for it."""
    asked = [r for i, doc in enumerate(docs) for r in regions(i, doc.plan)]
    if not asked:
        return
    for res in await extractor().run([d.text for d in docs], asked, request.schema):
        docs[res.region.text_index].regions.append(res)
