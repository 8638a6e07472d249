"""Stage 7: the override list, applied last to every entity that leaves the service, on every path.

The rules are read through a version check: one counter read per request (shared with the result cache key),
and a full read only after a write. When the database cannot be read, the last rules read still apply and the
result says so; a process that never read them fails closed rather than return unpoliced entities.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence

from sqlalchemy.exc import SQLAlchemyError

from hybrid_ner.datamodel import Entity
from hybrid_ner.errors import HybridNERError
from hybrid_ner.stages.doc import Doc, Request
from kb.meta import KBState
from kb.overrides import Action, Override, OverrideStore
from kb.store import KBStore
from linking.overrides import apply_overrides
from linking.resolver import describe

log = logging.getLogger(__name__)


class PolicyUnavailableError(HybridNERError):
    """The override list could not be read, and no earlier copy is known: nothing may leave unpoliced."""


class Policy:
    """The override rules as of the database's override version."""

    def __init__(self, overrides: Callable[[], OverrideStore], kb: Callable[[], KBStore]) -> None:
        self._overrides = overrides
        self._kb = kb
        self._rules: list[Override] | None = None
        self._version = -1
        self._lock = threading.Lock()

    def rules(self, state: KBState | None) -> tuple[list[Override], bool]:
        """The rules, and whether they are known to be current."""
        with self._lock:
            if state is not None and state.override_version != self._version:
                try:
                    self._rules, self._version = self._overrides().all(), state.override_version
                except SQLAlchemyError as exc:
                    log.error("override list unreadable: %s", type(exc).__name__)
                    state = None
            if self._rules is None:
                raise PolicyUnavailableError("the override list cannot be read from the database")
            return self._rules, state is not None

    def apply(self, docs: Sequence[Doc], request: Request) -> None:
        rules, current = self.rules(request.state)
        for doc in docs:
            if not current:
                doc.degraded.append("override_list_stale")
            doc.entities = apply_overrides(rules, doc.text, doc.entities)
        self._describe_forced(docs)

    def _describe_forced(self, docs: Sequence[Doc]) -> None:
        """A link forced by a rule names its entity like any other link."""
        forced = {e.link.kb_id for d in docs for e in d.entities if _forced(e) and e.link and e.link.kb_id}
        if not forced:
            return
        try:
            records = self._kb().get(forced)
        except SQLAlchemyError as exc:  # the link itself stands; only its description is missing
            log.error("forced link not described: %s", type(exc).__name__)
            return
        for doc in docs:
            doc.entities = [
                e.model_copy(update={"link": describe(e.link, records.get(e.link.kb_id or ""))})
                if _forced(e) and e.link is not None
                else e
                for e in doc.entities
            ]


def _forced(e: Entity) -> bool:
    rule = getattr(e.decision, "override", None)
    return isinstance(rule, dict) and rule.get("action") == Action.FORCE_LINK.value
