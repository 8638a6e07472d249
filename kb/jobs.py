"""Bulk imports as background jobs. Their status lives in SQL, so any worker process or machine that shares the
database can report on a job another one started."""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from kb.loaders import load_rows, read_jsonl_lines
from kb.models import ImportJobRow
from kb.store import KBStore

log = logging.getLogger(__name__)


def _as_dict(row: ImportJobRow) -> dict[str, Any]:
    return {"id": row.id, "status": row.status, "loaded": row.loaded, "skipped": row.skipped, "errors": row.errors}


class ImportJobs:
    """Start a JSONL import in a thread and read its status back; every entity it writes is audited."""

    def __init__(self, sessions: sessionmaker[Session], store: KBStore) -> None:
        self._sessions = sessions
        self._store = store

    def start(self, lines: Sequence[bytes], actor: str) -> dict[str, Any]:
        """Record the job, then load in the background; returns the job as first stored."""
        job_id = uuid.uuid4().hex[:12]
        with self._sessions.begin() as s:
            row = ImportJobRow(id=job_id, status="running", actor=actor, errors=[])
            s.add(row)
            s.flush()
            started = _as_dict(row)
        threading.Thread(target=self._run, args=(job_id, lines, actor), name=f"import-{job_id}", daemon=True).start()
        return started

    def get(self, job_id: str) -> dict[str, Any] | None:
        with self._sessions() as s:
            row = s.get(ImportJobRow, job_id)
            return _as_dict(row) if row else None

    def _run(self, job_id: str, lines: Sequence[bytes], actor: str) -> None:
        try:
            report = load_rows(self._store, read_jsonl_lines(lines), "import", "api", actor=actor)
            update: dict[str, Any] = {
                "status": "done",
                "loaded": report.loaded,
                "skipped": report.skipped,
                "errors": report.errors,
            }
        except Exception as exc:  # the job reports it; the server keeps running
            log.error("import job failed", extra={"fields": {"job": job_id, "error": type(exc).__name__}})
            update = {"status": "failed", "errors": [type(exc).__name__]}
        with self._sessions.begin() as s:
            row = s.get(ImportJobRow, job_id)
            if row is not None:
                for key, value in update.items():
                    setattr(row, key, value)
                row.finished_at = datetime.now(UTC)
