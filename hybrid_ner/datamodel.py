"""The one data model every package and interface returns.

Offsets are character offsets into the caller's original string (Python ``str``
indices, end exclusive), so ``text == input[start:end]`` holds for every entity
except a redacted one, whose text is masked.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class Source(StrEnum):
    """Who produced an entity."""

    LOCAL = "local"
    LLM = "llm"
    RULES = "rules"
    OVERRIDE = "override"
    GIVEN = "given"  # a span the caller gave to link (``/v1/link``, ``hybrid-ner link``)


class Span(BaseModel):
    """A labelled character range of the input."""

    model_config = ConfigDict(frozen=True)

    start: int = Field(ge=0, description="Start offset (inclusive) into the original text.")
    end: int = Field(ge=0, description="End offset (exclusive) into the original text.")
    text: str = Field(description="Exactly input[start:end].")
    label: str

    @model_validator(mode="after")
    def _check_range(self) -> Span:
        if self.end <= self.start:
            raise ValueError(f"span end ({self.end}) must be greater than start ({self.start})")
        if len(self.text) != self.end - self.start:
            raise ValueError("span text length does not match its offsets")
        return self

    @classmethod
    def from_text(cls, source: str, start: int, end: int, label: str) -> Span:
        """Build a span whose text is cut from ``source`` so it can never disagree with the offsets."""
        if not 0 <= start < end <= len(source):
            raise ValueError(f"offsets [{start}, {end}) are outside the text (length {len(source)})")
        return cls(start=start, end=end, text=source[start:end], label=label)


class Decision(BaseModel):
    """Machine-readable reason an entity was kept, escalated or linked.

    ``routed`` names the path that produced the entity; the other fields are
    the evidence. Extra keys are allowed so later stages can add their reasons
    without changing the model.
    """

    model_config = ConfigDict(extra="allow")

    routed: str = Field(description="The path that produced the entity, e.g. 'local' or 'llm'.")
    strategy: str | None = Field(default=None, description="Registered router strategy name.")
    confidence: float | None = Field(default=None, ge=0.0, le=1.0)
    threshold: float | None = Field(default=None, ge=0.0, le=1.0)
    reason: str | None = None
    grounding: str | None = Field(default=None, description="How an LLM mention was found: exact|normalized|fuzzy.")
    model: str | None = Field(
        default=None, description="The model that produced the entity: the local model's name@digest, or the LLM."
    )


class Candidate(BaseModel):
    """One KB candidate with its score and the name of the entity it points at."""

    kb_id: str
    name: str | None = None
    score: float


LinkStage = Literal["alias", "dense", "cross-encoder", "llm", "override", "none"]


def link_stages(*, alias: bool, dense: bool, judges: frozenset[str] = frozenset()) -> dict[str, bool]:
    """Which linking stages run now, as ``/readyz`` reports them: the keys come from here whether or not the
    linker is built yet. ``judges`` holds the stages of the close-call judges that run."""
    return {"alias": alias, "dense": dense, "cross_encoder": "cross-encoder" in judges, "llm": "llm" in judges}


class LinkDecision(BaseModel):
    """Which stage decided a link, so a caller can weigh it: ``alias`` (a name the KB knows, ranked by the
    reranker), ``dense`` (found by meaning only), ``cross-encoder`` or ``llm`` (a close call settled by that
    stage), ``override`` (the override list), ``none`` (no linker ran, see ``reason``)."""

    stage: LinkStage
    margin: float | None = Field(
        default=None, description="Probability of the best candidate minus the second's (its own when it has no rival)."
    )
    reason: str | None = Field(
        default=None,
        description="Why no linker ran, or why a stage was skipped; ``longer_form`` when a short name took the "
        "entity of a fuller name earlier in the text (``Jobs`` after ``Steve Jobs``), or an abbreviation the text "
        "defines that of the name it stands for (``FDA`` after ``Food and Drug Administration (FDA)``); "
        "``qualifier`` when a place "
        "written as another's qualifier took the region it names (``Texas`` in ``Paris, Texas``); ``dateline`` when a "
        "dateline's place took the city of that name (``WASHINGTON (AP) —``); ``unknown_person`` "
        "when a short person name is NIL because every fuller name of it in the text is (``Cook`` after an unknown "
        "``Tim Cook``); ``unknown_abbreviation`` when an abbreviation the text defines is NIL because the name it "
        "stands for is (``VRA`` in ``Vera Resources Inc. (VRA)``); ``nationality`` when a nationality adjective the "
        "NER found is left unlinked (``American`` in ``an American playwright``; ``HNER_LINK_NATIONALITIES`` links "
        "it to its country).",
    )


class Link(BaseModel):
    """The KB link of an entity; ``nil`` is true (and ``kb_id`` null) when nothing fits.

    ``candidates`` are sorted by descending score. ``name``, ``description``, ``types`` and ``url`` describe the
    linked entity where the KB knows them, so a person can see what the link points at.
    """

    kb_id: str | None = None
    name: str | None = None
    description: str | None = None
    types: list[str] | None = None
    url: str | None = None
    score: float = 0.0
    candidates: list[Candidate] = Field(default_factory=list)
    nil: bool = True
    decision: LinkDecision | None = None

    @model_validator(mode="after")
    def _check_nil(self) -> Link:
        if self.nil != (self.kb_id is None):
            raise ValueError("nil must be true exactly when kb_id is null")
        return self

    def to_output(self) -> dict[str, Any]:
        """JSON form: descriptive fields only where known; ``kb_id`` always present (null for NIL)."""
        out = self.model_dump(exclude_none=True)
        out.setdefault("kb_id", None)
        out["candidates"] = [c.model_dump(exclude_none=True) for c in self.candidates]
        return out


class Entity(BaseModel):
    """An extracted entity: its span plus score, source, decision and optional link."""

    span: Span
    score: float = Field(ge=0.0, le=1.0, description="Calibrated probability that the entity is correct.")
    source: Source
    decision: Decision
    link: Link | None = None
    redacted: bool = Field(default=False, description="An override masked the text; offsets still say where.")

    def to_output(self) -> dict[str, Any]:
        """Flat JSON form used by the CLI and the REST service."""
        out: dict[str, Any] = {
            "start": self.span.start,
            "end": self.span.end,
            "text": self.span.text,
            "label": self.span.label,
            "score": round(self.score, 4),
            "source": self.source.value,
            "decision": self.decision.model_dump(exclude_none=True),
        }
        if self.link is not None:
            out["link"] = self.link.to_output()
        if self.redacted:
            out["redacted"] = True
        return out


class Result(BaseModel):
    """Everything extracted from one text."""

    entities: list[Entity] = Field(default_factory=list)
    degraded: bool = False
    degraded_reason: str | None = None
    llm: dict[str, Any] | None = Field(
        default=None, description="LLM accounting when the LLM was asked: calls, tokens, cost, grounding, drops."
    )
    failed: tuple[str, ...] = Field(
        default=(),
        exclude=True,
        description="Stages that failed for this text (typed codes, e.g. 'local'); not part of the output.",
    )

    def to_output(self) -> dict[str, Any]:
        out: dict[str, Any] = {"entities": [e.to_output() for e in self.entities], "degraded": self.degraded}
        if self.degraded_reason is not None:
            out["degraded_reason"] = self.degraded_reason
        if self.llm is not None:
            out["llm"] = self.llm
        return out
