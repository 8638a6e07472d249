"""Route dependencies: JSON bodies only, and the API key a route needs."""

from __future__ import annotations

from fastapi import Depends, HTTPException, Request, status

from hybrid_ner.service.auth import Role
from hybrid_ner.service.state import service


def _require_json(request: Request) -> None:
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != "application/json":
        raise HTTPException(status.HTTP_415_UNSUPPORTED_MEDIA_TYPE, "use Content-Type: application/json")


def _reader(request: Request) -> None:
    service(request).keys.check(request, Role.READ)


def _admin(request: Request) -> None:
    service(request).keys.check(request, Role.ADMIN)


def _feedback(request: Request) -> None:
    service(request).keys.check(request, Role.FEEDBACK)


Json = Depends(_require_json)
Read = Depends(_reader)
Admin = Depends(_admin)
Feedback = Depends(_feedback)
