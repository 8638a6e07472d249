"""API keys: configured by env or file, held only as SHA-256 hashes, compared in constant time."""

from __future__ import annotations

import hashlib
import hmac
from enum import StrEnum

from fastapi import HTTPException, Request, status

from hybrid_ner.config import Settings

HEADER = "X-API-Key"


class Role(StrEnum):
    READ = "read"
    FEEDBACK = "feedback"  # may send corrections (training data); nothing else it could not do without a key
    ADMIN = "admin"


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _parse(raw: str) -> set[str]:
    out = set()
    for item in raw.replace("\n", ",").split(","):
        item = item.strip()
        if not item or item.startswith("#"):
            continue
        out.add(item.removeprefix("sha256:") if item.startswith("sha256:") else _hash(item))
    return out


class KeyRing:
    """Hashed admin, feedback and read keys. An admin key also works for reading and feedback; a feedback key
    also reads."""

    def __init__(self, settings: Settings) -> None:
        admin = settings.admin_keys.get_secret_value()
        if settings.admin_keys_file is not None:
            admin += "," + settings.admin_keys_file.read_text()
        self.admin = _parse(admin)
        self.read = _parse(settings.read_keys.get_secret_value())
        self.feedback = _parse(settings.feedback_keys.get_secret_value())
        self.require_read_key = settings.require_read_key

    def role(self, key: str | None) -> Role | None:
        if not key:
            return None
        digest = _hash(key)
        if any(hmac.compare_digest(digest, h) for h in self.admin):
            return Role.ADMIN
        if any(hmac.compare_digest(digest, h) for h in self.feedback):
            return Role.FEEDBACK
        if any(hmac.compare_digest(digest, h) for h in self.read):
            return Role.READ
        return None

    def check(self, request: Request, needed: Role) -> Role | None:
        """Raise 401 (no or unknown key) or 403 (a read key on an admin route)."""
        if needed == Role.READ and not self.require_read_key:
            return None
        key = request.headers.get(HEADER)
        role = self.role(key)
        if role is None:
            detail = f"missing {HEADER} header" if not key else "unknown API key"
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, detail, headers={"WWW-Authenticate": HEADER})
        if needed == Role.ADMIN and role != Role.ADMIN:
            raise HTTPException(status.HTTP_403_FORBIDDEN, "this key may not use admin endpoints")
        if needed == Role.FEEDBACK and role == Role.READ:
            raise HTTPException(status.HTTP_403_FORBIDDEN, "this key may not send feedback")
        return role
