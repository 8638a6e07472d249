"""SQL tables. Every change to them comes with a migration in ``kb/migrations/versions``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Float, ForeignKey, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kb.db import Base


def utcnow() -> datetime:
    return datetime.now(UTC)


class SchemaVersionRow(Base):
    """One immutable version of a named entity schema; an edit inserts the next version."""

    __tablename__ = "schema_versions"
    __table_args__ = (UniqueConstraint("name", "version", name="uq_schema_name_version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(128), index=True)
    version: Mapped[int] = mapped_column(Integer)
    body: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    created_by: Mapped[str] = mapped_column(String(128), default="")


class KBEntityRow(Base):
    """A knowledge-base entity; ``id`` is the stable external id (``Q90``, ``geonames:2988507``)."""

    __tablename__ = "kb_entities"

    id: Mapped[str] = mapped_column(String(200), primary_key=True)
    name: Mapped[str] = mapped_column(String(500), default="")
    types: Mapped[list[str]] = mapped_column(JSON, default=list)
    description: Mapped[str] = mapped_column(Text, default="")
    prior: Mapped[float] = mapped_column(Float, default=0.0)
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_seq: Mapped[int] = mapped_column(Integer, default=0, index=True)


class AliasRow(Base):
    """A surface form of an entity: ``norm`` is the lookup key, ``raw`` the form as written."""

    __tablename__ = "kb_aliases"
    __table_args__ = (UniqueConstraint("entity_id", "norm", name="uq_alias_entity_norm"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # looked up through the unique (entity_id, norm) index, which begins with it (migration 0008)
    entity_id: Mapped[str] = mapped_column(String(200), ForeignKey("kb_entities.id", ondelete="CASCADE"))
    norm: Mapped[str] = mapped_column(String(500), index=True)
    raw: Mapped[str] = mapped_column(String(500))
    source: Mapped[str] = mapped_column(String(64), default="")


class OverrideRow(Base):
    """A policy rule applied after linking: force a link, block, flag for review, or redact."""

    __tablename__ = "kb_overrides"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    pattern: Mapped[str] = mapped_column(String(500))
    match: Mapped[str] = mapped_column(String(16))  # exact | normalized | regex
    label: Mapped[str | None] = mapped_column(String(64), nullable=True)
    context: Mapped[str | None] = mapped_column(String(500), nullable=True)  # regex over the sentence
    action: Mapped[str] = mapped_column(String(16))  # force_link | block | review | redact
    kb_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    drop_entity: Mapped[bool] = mapped_column(default=False)
    priority: Mapped[int] = mapped_column(Integer, default=0)
    enabled: Mapped[bool] = mapped_column(default=True)
    note: Mapped[str] = mapped_column(String(500), default="")


class AuditRow(Base):
    """Who changed what, when, with the state before and after."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(32))
    object_type: Mapped[str] = mapped_column(String(32))
    object_id: Mapped[str] = mapped_column(String(200))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)


class MetaRow(Base):
    """Small counters (the KB and override versions that key caches and indexes) and the database's identity."""

    __tablename__ = "kb_meta"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[int] = mapped_column(Integer, default=0)
    text: Mapped[str | None] = mapped_column(String(64), nullable=True)


class ImportJobRow(Base):
    """A bulk import run in the background; in SQL so any worker or machine can report its status."""

    __tablename__ = "kb_jobs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    status: Mapped[str] = mapped_column(String(16))  # running | done | failed
    actor: Mapped[str] = mapped_column(String(128))
    loaded: Mapped[int] = mapped_column(Integer, default=0)
    skipped: Mapped[int] = mapped_column(Integer, default=0)
    errors: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class ModelRow(Base):
    """A registered NER model: its name, the digest of its content and what it labels."""

    __tablename__ = "models"

    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    digest: Mapped[str] = mapped_column(String(64))
    labels: Mapped[list[str]] = mapped_column(JSON, default=list)
    card: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # base, data digest, dev F1 and ECE, ...
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    created_by: Mapped[str] = mapped_column(String(128), default="")


class ModelFileRow(Base):
    """The files of a model by content digest, so every worker on every machine can materialise it."""

    __tablename__ = "model_files"

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class FeedbackRow(Base):
    """A user's correction: a text with its right entities (and links). Kept whole: it is training data."""

    __tablename__ = "feedback"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(128))
    schema_name: Mapped[str] = mapped_column(String(128), index=True)
    schema_version: Mapped[int] = mapped_column(Integer, default=1)
    text: Mapped[str] = mapped_column(Text)
    text_digest: Mapped[str] = mapped_column(String(64))
    entities: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    links: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)


class DeploymentRow(Base):
    """Which model serves a schema, and what is being rolled out beside it. ``version`` is compared and set on
    every change, so of several workers deciding the same transition exactly one makes it."""

    __tablename__ = "model_deployments"

    schema_name: Mapped[str] = mapped_column(String(128), primary_key=True)
    served: Mapped[str | None] = mapped_column(String(128), nullable=True)  # None: the schema's own or the default
    candidate: Mapped[str | None] = mapped_column(String(128), nullable=True)
    mode: Mapped[str] = mapped_column(String(16), default="")  # "" | shadow | canary
    sample: Mapped[float] = mapped_column(Float, default=0.0)
    steps: Mapped[list[float]] = mapped_column(JSON, default=list)
    step: Mapped[int] = mapped_column(Integer, default=0)
    min_requests: Mapped[int] = mapped_column(Integer, default=0)
    guards: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    history: Mapped[list[str | None]] = mapped_column(JSON, default=list)  # models served before, oldest first
    reason: Mapped[str] = mapped_column(Text, default="")
    version: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class RolloutStatsRow(Base):
    """One worker's counts for one model in one state of a deployment; summed over workers by whoever decides."""

    __tablename__ = "rollout_stats"

    schema_name: Mapped[str] = mapped_column(String(128), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    worker: Mapped[str] = mapped_column(String(128), primary_key=True)
    role: Mapped[str] = mapped_column(String(16), primary_key=True)  # served | candidate
    counts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class EvalSetRow(Base):
    """A labelled evaluation set registered for a schema: what the promotion gate scores models on."""

    __tablename__ = "eval_sets"

    schema_name: Mapped[str] = mapped_column(String(128), primary_key=True)
    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    content: Mapped[str] = mapped_column(Text)
    digest: Mapped[str] = mapped_column(String(64))
    sentences: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    created_by: Mapped[str] = mapped_column(String(128), default="")
