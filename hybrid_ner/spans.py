"""Spans that callers give to be linked (``POST /v1/link``, ``hybrid-ner link``): their validation and the link
output, one definition shared by both faces."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, Strict, TypeAdapter, ValidationError

from hybrid_ner.datamodel import Entity, Link

MAX_SPANS = 500


def _whole(value: Any) -> Any:
    """JSON has one number type: 12.0 is the integer 12 (as JSON Schema says), while "12", true and 12.5 stay
    wrong, so that an offset is never guessed from something that is not one."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


Whole = Annotated[int, Strict(), BeforeValidator(_whole)]  # an integer as JSON Schema has it (12 or 12.0)
Start = Annotated[int, Strict(), Field(ge=0, le=2**31 - 1), BeforeValidator(_whole)]
End = Annotated[int, Strict(), Field(ge=1, le=2**31 - 1), BeforeValidator(_whole)]
# A version or id number: bounded inside the type, so the bounds reach the OpenAPI schema as minimum/maximum even
# in an optional field (bounds put on ``Whole | None`` show up as keywords JSON Schema does not know).
Positive = Annotated[int, Strict(), Field(ge=1, le=2**31 - 1), BeforeValidator(_whole)]


class SpanIn(BaseModel):
    """A character range of the caller's text, with an optional label (it helps type-aware linking)."""

    model_config = ConfigDict(extra="forbid")

    start: Start
    end: End
    label: str | None = Field(default=None, max_length=64)


_SPANS = TypeAdapter(list[SpanIn])


def parse_spans(raw: Any) -> list[SpanIn]:
    """Spans from decoded JSON; ``ValueError`` with a readable message when they are malformed."""
    try:
        spans = _SPANS.validate_python(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ValueError(f"bad spans at {where or 'top level'}: {first['msg']}") from None
    if len(spans) > MAX_SPANS:
        raise ValueError(f"at most {MAX_SPANS} spans per text, got {len(spans)}")
    return spans


def span_error(text: str, spans: Sequence[SpanIn]) -> str | None:
    """Why these spans cannot be linked in ``text`` (None when they can)."""
    for i, sp in enumerate(spans):
        if not sp.start < sp.end <= len(text):
            return f"span {i} [{sp.start}, {sp.end}) is outside the text (length {len(text)}) or empty"
    return None


def link_output(entity: Entity) -> dict[str, Any]:
    """One linked span: offsets, text (masked when redacted), label, the link's fields, and what a rule did."""
    out: dict[str, Any] = {
        "start": entity.span.start,
        "end": entity.span.end,
        "text": entity.span.text,
        "label": entity.span.label or None,
        **(entity.link or Link()).to_output(),
    }
    rule = getattr(entity.decision, "override", None)
    if rule:
        out["override"] = rule
    if entity.redacted:
        out["redacted"] = True
    return out
