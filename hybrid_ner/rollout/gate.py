"""The promotion gate: a candidate is scored beside the served model on the evaluation sets registered for the
schema (exact span and type F1 of the local path), and a regression beyond the tolerance refuses the promotion."""

from __future__ import annotations

import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from hybrid_ner.datamodel import Result
from hybrid_ner.learn.data import Labelled, read_labelled
from hybrid_ner.schemas import Schema

MAX_SET_BYTES = 5_000_000
LocalRun = Callable[[list[str], Schema, str | None], Awaitable[list[Result]]]


class EvalSets:
    """Labelled sets per schema, in SQL so every worker gates on the same data; adding one is audited."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def add(self, schema: Schema, name: str, path: Path, actor: str) -> dict[str, Any]:
        """Read ``path`` as ``adapt --train`` does (the file and line named on error), then store it."""
        from kb import audit
        from kb.models import EvalSetRow, utcnow

        if Path(path).stat().st_size > MAX_SET_BYTES:
            raise ValueError(f"{path}: larger than {MAX_SET_BYTES} bytes; an evaluation set is a sample")
        data = read_labelled(path, schema.labels)
        raw = Path(path).read_bytes()
        with self._sessions.begin() as s:
            row = s.get(EvalSetRow, (schema.name, name)) or EvalSetRow(schema_name=schema.name, name=name)
            row.content, row.digest, row.sentences = raw.decode("utf-8"), data.digest, len(data.sentences)
            row.created_at, row.created_by = utcnow(), actor
            s.add(row)
            about = {"sentences": row.sentences, "digest": row.digest, "suffix": Path(path).suffix}
            audit.record(s, actor, "create", "eval_set", f"{schema.name}/{name}", None, about)
        return {"schema": schema.name, "name": name, "sentences": len(data.sentences), "digest": data.digest}

    def load(self, schema: Schema) -> dict[str, Labelled]:
        from kb.models import EvalSetRow

        with self._sessions() as s:
            rows = [
                (r.name, r.content) for r in s.scalars(select(EvalSetRow).where(EvalSetRow.schema_name == schema.name))
            ]
        out = {}
        for name, content in rows:
            suffix = ".jsonl" if content.lstrip().startswith(("{", "[")) else ".conll"
            with tempfile.TemporaryDirectory() as tmp:
                path = Path(tmp) / f"{name}{suffix}"
                path.write_text(content, encoding="utf-8")
                out[name] = read_labelled(path, schema.labels)
        return out


@dataclass(frozen=True)
class GateReport:
    passed: bool
    reason: str
    sets: dict[str, dict[str, float]]


def _gold(data: Labelled) -> tuple[list[str], list[set[tuple[int, int, str]]]]:
    """Each sentence as text (words joined by spaces) with its entities as character spans."""
    texts, golds = [], []
    for sentence in data.sentences:
        starts, pos = [], 0
        for w in sentence.words:
            starts.append(pos)
            pos += len(w) + 1
        spans, open_ = set(), None
        for i, tag in enumerate([*sentence.tags, "O"]):
            if open_ is not None and not tag.startswith("I-"):
                b, label = open_
                spans.add((starts[b], starts[i - 1] + len(sentence.words[i - 1]), label))
                open_ = None
            if tag.startswith("B-") or (tag.startswith("I-") and open_ is None):
                open_ = (i, tag[2:])
        texts.append(" ".join(sentence.words))
        golds.append(spans)
    return texts, golds


def f1(golds: list[set[tuple[int, int, str]]], results: list[Result]) -> float:
    found = [{(e.span.start, e.span.end, e.span.label) for e in r.entities} for r in results]
    tp = sum(len(g & f) for g, f in zip(golds, found, strict=True))
    pred, gold = sum(map(len, found)), sum(map(len, golds))
    return 2 * tp / (pred + gold) if pred + gold else 1.0


async def gate(
    run: LocalRun, schema: Schema, sets: dict[str, Labelled], served: str | None, candidate: str, tolerance: float
) -> GateReport:
    """Score both models on every set; the candidate passes when none falls more than ``tolerance`` F1."""
    if not sets:
        return GateReport(False, f"no evaluation set is registered for schema {schema.name!r}", {})
    scores: dict[str, dict[str, float]] = {}
    worse = []
    for name, data in sets.items():
        texts, golds = _gold(data)
        old = f1(golds, await run(texts, schema, served))
        new = f1(golds, await run(texts, schema, candidate))
        scores[name] = {"served_f1": round(old, 4), "candidate_f1": round(new, 4), "sentences": len(texts)}
        if new < old - tolerance:
            worse.append(f"{name}: F1 {new:.4f} < served {old:.4f} - {tolerance}")
    if worse:
        return GateReport(False, "regression on " + "; ".join(worse), scores)
    return GateReport(True, "no regression beyond the tolerance on " + ", ".join(sorted(scores)), scores)
