"""Records in and rows out, shared by ``extract --file`` and the batch jobs: ``{"id", "text"}`` in; out,
``{"id", "entities", "degraded", ...}`` for a result or ``{"id", "error"}`` for a record that could not be read."""

from __future__ import annotations

import json
from typing import Any

from hybrid_ner.datamodel import Result


def parse_line(raw: bytes, lineno: int) -> tuple[Any, dict[str, Any] | None, str | None]:
    """``(id, record, error)`` for one JSONL line whose ``text`` must be a string; exactly one of record and
    error is set."""
    try:
        row = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        return None, None, f"line {lineno}: not valid UTF-8 ({exc.reason} at byte {exc.start})"
    except json.JSONDecodeError as exc:
        return None, None, f"line {lineno}: invalid JSON ({exc.msg})"
    if not isinstance(row, dict):
        return None, None, f"line {lineno}: expected a JSON object"
    return check_record(row, f"line {lineno}")


def check_record(row: dict[str, Any], where: str) -> tuple[Any, dict[str, Any] | None, str | None]:
    """A decoded record with a string ``text``, or the error row's message."""
    if not isinstance(row.get("text"), str):
        return row.get("id"), None, f"{where}: 'text' must be a string"
    return row.get("id"), row, None


def result_row(rid: Any, result: Result) -> dict[str, Any]:
    return {"id": rid, **result.to_output()}


def error_row(rid: Any, error: str) -> dict[str, Any]:
    return {"id": rid, "error": error}
