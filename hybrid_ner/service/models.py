"""Request and response bodies of the REST API (validated by FastAPI, documented in ``/docs``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path as PathParam
from fastapi import Query
from pydantic import BaseModel, ConfigDict, Field, model_validator

from hybrid_ner.datamodel import LinkDecision
from hybrid_ner.routing import STRATEGIES, routers
from hybrid_ner.schemas import NAME_PATTERN, Schema
from hybrid_ner.spans import MAX_SPANS, Positive, SpanIn

EXAMPLE_TEXT = "Angela Merkel met Emmanuel Macron in Paris to discuss the European Union budget."


class ExtractRequest(BaseModel):
    """One text (``text``) or a batch (``texts``), with an optional schema, version and strategy."""

    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
        json_schema_extra={
            "oneOf": [
                {"required": ["text"], "properties": {"text": {"type": "string"}}},
                {"required": ["texts"], "properties": {"texts": {"type": "array"}}},
            ],
            "examples": [
                {"text": EXAMPLE_TEXT},
                {"texts": [EXAMPLE_TEXT, "Tim Cook runs Apple."], "strategy": "local"},
                {"text": "Sony released the PlayStation 5.", "schema": "shop", "strategy": "schema"},
            ],
        },
    )

    text: str | None = Field(default=None, description="A single text.")
    texts: list[str] | None = Field(default=None, description="A batch of texts; errors are reported per item.")
    schema_name: str | None = Field(default=None, alias="schema", description="Stored schema name (default schema).")
    schema_version: Positive | None = Field(default=None, description="Schema version (default: latest).")
    strategy: str | None = Field(
        default=None,
        description=f"Router strategy: {', '.join(STRATEGIES)} (or a registered router.*.v1 name).",
        json_schema_extra={"enum": [*STRATEGIES, *routers.names()]},
    )

    @model_validator(mode="after")
    def _one_input(self) -> ExtractRequest:
        if (self.text is None) == (self.texts is None):
            raise ValueError("give exactly one of 'text' or 'texts'")
        return self


class CandidateOut(BaseModel):
    kb_id: str
    name: str | None = None
    score: float


class LinkOut(BaseModel):
    """The KB link of an entity: ``kb_id`` null when NIL; candidates sorted by descending score."""

    kb_id: str | None
    name: str | None = None
    description: str | None = None
    types: list[str] | None = None
    url: str | None = None
    score: float
    nil: bool
    candidates: list[CandidateOut]
    decision: LinkDecision | None = Field(default=None, description="Which stage decided the link, and its margin.")


class EntityOut(BaseModel):
    start: int
    end: int
    text: str = Field(description="input[start:end], or the masked text when redacted.")
    label: str
    score: float
    source: str
    decision: dict[str, Any]
    link: LinkOut | None = None
    redacted: bool | None = Field(default=None, description="True when an override rule masked the text.")


class ExtractResponse(BaseModel):
    entities: list[EntityOut]
    degraded: bool
    degraded_reason: str | None = None
    llm: dict[str, Any] | None = None


class ItemError(BaseModel):
    code: str
    message: str


class ErrorItem(BaseModel):
    error: ItemError


class BatchResponse(BaseModel):
    results: list[ExtractResponse | ErrorItem]


class ErrorResponse(BaseModel):
    detail: str


class SchemaWrite(BaseModel):
    """A schema body plus the version the edit started from (``null`` to create)."""

    model_config = ConfigDict(extra="forbid")

    schema_body: Schema = Field(alias="schema")
    base_version: Positive | None = Field(default=None)


class DryRunRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    schema_body: Schema = Field(alias="schema")
    text: str = Field(max_length=10_000)
    strategy: str | None = None


class LinkItem(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str
    spans: list[SpanIn] = Field(max_length=MAX_SPANS)


class LinkRequest(BaseModel):
    """One text with its spans, or a batch of them in ``items``."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "oneOf": [
                {"required": ["text"], "properties": {"text": {"type": "string"}}},
                {"required": ["items"], "properties": {"items": {"type": "array"}}},
            ],
            "examples": [{"text": "Paris is in France.", "spans": [{"start": 0, "end": 5, "label": "LOC"}]}],
        },
    )

    text: str | None = None
    spans: list[SpanIn] = Field(default_factory=list, max_length=MAX_SPANS)
    items: list[LinkItem] | None = None

    @model_validator(mode="after")
    def _one_input(self) -> LinkRequest:
        if (self.text is None) == (self.items is None):
            raise ValueError("give exactly one of 'text' (with 'spans') or 'items'")
        return self


class LinkedSpan(LinkOut):
    """A given span with its link; ``override`` says which rule applied, ``redacted`` that its text is masked."""

    start: int
    end: int
    text: str
    label: str | None = None
    override: dict[str, Any] | None = None
    redacted: bool | None = None


class LinkResponse(BaseModel):
    links: list[LinkedSpan]


class LinkBatchResponse(BaseModel):
    results: list[LinkResponse | ErrorItem]


class ImportJob(BaseModel):
    id: str
    status: str
    loaded: int = 0
    skipped: int = 0
    errors: list[str] = Field(default_factory=list)


class SchemaSummary(BaseModel):
    name: str
    version: int
    labels: list[str]


SchemaName = Annotated[str, PathParam(min_length=1, max_length=128, pattern=NAME_PATTERN)]
RuleId = Annotated[int, PathParam(ge=1, le=2**31 - 1)]  # SQL integer range: larger ids cannot exist
Version = Annotated[int, Query(ge=1, le=2**31 - 1)]  # a schema version: the SQL integer range

ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorResponse, "description": "The body is not valid JSON in UTF-8"},
    401: {"model": ErrorResponse, "description": "Missing or unknown API key"},
    403: {"model": ErrorResponse, "description": "The key may not use this endpoint"},
    413: {"model": ErrorResponse, "description": "Request body too large"},
    415: {"model": ErrorResponse, "description": "Content type is not application/json"},
    503: {"model": ErrorResponse, "description": "The override list cannot be read: nothing leaves unpoliced"},
}
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": ErrorResponse, "description": "Not found"}}
