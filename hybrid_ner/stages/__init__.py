"""The request's path as named stages: chunk → local → route → llm → merge → link → override.

Each stage is a small unit with one job, reading and writing the per-text working state (:class:`Doc`). A stage
that fails marks the documents degraded, and every later stage still runs: linking and the override list apply
whatever happened upstream.
"""

from hybrid_ner.stages.chunk import chunk
from hybrid_ner.stages.doc import Doc, Request
from hybrid_ner.stages.link import link
from hybrid_ner.stages.llm import llm
from hybrid_ner.stages.local import local
from hybrid_ner.stages.merge import merge
from hybrid_ner.stages.override import Policy, PolicyUnavailableError
from hybrid_ner.stages.path import Stages, build
from hybrid_ner.stages.route import route

__all__ = [
    "Doc",
    "Policy",
    "PolicyUnavailableError",
    "Request",
    "Stages",
    "build",
    "chunk",
    "link",
    "llm",
    "local",
    "merge",
    "route",
]
