"""SQL tables. Every change to them comes with a migration in ``kb/migrations/versions``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Integer, String, UniqueConstraint
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
