"""hybrid-ner: local transformer NER with calibrated confidence, LLM escalation and KB linking.

The public API is what this module exports; everything else is an implementation detail.
"""

from hybrid_ner.config import Settings, get_settings
from hybrid_ner.datamodel import Candidate, Decision, Entity, Link, Result, Source, Span
from hybrid_ner.errors import HybridNERError, ModelArtifactError, ModelPackageMissingError
from hybrid_ner.pipeline import Pipeline
from hybrid_ner.protocols import Extractor

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
