"""hybrid-ner: local transformer NER with calibrated confidence, LLM escalation and KB linking.

The public API is what this module exports; everything else is an implementation detail. Names are imported on
first use, so that importing a low-level module (the data model, say) does not load the whole pipeline.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hybrid_ner.config import Settings, get_settings
    from hybrid_ner.datamodel import Candidate, Decision, Entity, Link, Result, Source, Span
    from hybrid_ner.errors import HybridNERError, ModelArtifactError, ModelPackageMissingError
    from hybrid_ner.pipeline import Pipeline
    from hybrid_ner.protocols import Extractor

_EXPORTS = {
    "Candidate": "hybrid_ner.datamodel",
    "Decision": "hybrid_ner.datamodel",
    "Entity": "hybrid_ner.datamodel",
    "Link": "hybrid_ner.datamodel",
    "Result": "hybrid_ner.datamodel",
    "Source": "hybrid_ner.datamodel",
    "Span": "hybrid_ner.datamodel",
    "Extractor": "hybrid_ner.protocols",
    "HybridNERError": "hybrid_ner.errors",
    "ModelArtifactError": "hybrid_ner.errors",
    "ModelPackageMissingError": "hybrid_ner.errors",
    "Pipeline": "hybrid_ner.pipeline",
    "Settings": "hybrid_ner.config",
    "get_settings": "hybrid_ner.config",
}
__all__ = [
    "Candidate",
    "Decision",
    "Entity",
    "Extractor",
    "HybridNERError",
    "Link",
    "ModelArtifactError",
    "ModelPackageMissingError",
    "Pipeline",
    "Result",
    "Settings",
    "Source",
    "Span",
    "get_settings",
]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'hybrid_ner' has no attribute {name!r}")
    return getattr(import_module(_EXPORTS[name]), name)
