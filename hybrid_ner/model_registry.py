"""Registered NER models: names in SQL bound to the digest of a model's content, with the files in SQL too.

Registering copies a model directory's files into the database, so every worker on every machine that shares it
can serve the model: each materialises the files once under ``data_dir/models/<digest>/`` and loads them from
there. A name can be registered again with another model; every registration is audited and bumps the
``model_version`` counter, which requests read with the KB state, so all workers follow the change.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from hybrid_ner.config import MODELS_DIR
from hybrid_ner.errors import HybridNERError, ModelArtifactError
from hybrid_ner.files import scratch_dir
from hybrid_ner.ner.artifacts import ARTIFACT_FILES, MODEL_FILES, content_digest, stored_digest, verified_digest
from hybrid_ner.ner.model import DIGEST_FILE, NERConfig

CARD_KEYS = ("base", "schema", "data_digest", "dev_f1", "ece", "seed", "seconds", "calibration")


class ModelNotFoundError(HybridNERError, LookupError):
    """A model name that is neither registered nor shipped, or a path that is not a model directory."""


@dataclass(frozen=True)
class ModelRef:
    """A model as requests use it: what it was called, where its files are, and what it is (content digest)."""

    name: str
    path: Path
    digest: str


def shipped_names() -> list[str]:
    return sorted(p.name for p in MODELS_DIR.iterdir() if (p / "ner_config.json").is_file())


def card_of(config: NERConfig) -> dict[str, Any]:
    """The model card's summary as the registry lists it."""
    adapt = dict(config.metrics.get("adapt", {}))
    dev = config.metrics.get("dev", {})
    return {k: v for k, v in {**adapt, "dev_f1": dev.get("f1"), "ece": dev.get("ece")}.items() if k in CARD_KEYS}


class ModelStore:
    """Model names and files in SQL; materialised copies under ``cache_dir`` (``NAME@DIGEST12``), written once."""

    def __init__(self, sessions: sessionmaker[Session], cache_dir: Path) -> None:
        self._sessions = sessions
        self.cache_dir = Path(cache_dir)

    def add(self, name: str, directory: Path, actor: str) -> dict[str, Any]:
        """Register ``directory`` under ``name`` (checked loadable by the served runtime first); audited."""
        from hybrid_ner.ner.extractor import LocalNER
        from kb import audit
        from kb.meta import MODEL_VERSION, bump
        from kb.models import ModelFileRow, ModelRow, utcnow

        if name in shipped_names():
            raise ValueError(f"{name!r} is a shipped model's name; register yours under another name")
        directory = Path(directory)
        if not (directory / "ner_config.json").is_file():
            raise ModelNotFoundError(f"{directory} is not a model directory (no ner_config.json)")
        model = LocalNER(directory)  # the served runtime must load it: the graph, its weights, the base package
        files = {n: (directory / n).read_bytes() for n in MODEL_FILES if (directory / n).is_file()}
        with self._sessions.begin() as s:
            row = s.get(ModelRow, name)
            before = {"digest": row.digest, "labels": row.labels} if row else None
            if s.scalar(select(ModelFileRow.name).where(ModelFileRow.digest == model.digest).limit(1)) is None:
                s.add_all(ModelFileRow(digest=model.digest, name=n, data=b) for n, b in files.items())
            row = row or ModelRow(name=name)
            row.digest, row.labels, row.card, row.created_by = model.digest, model.labels, card_of(model.config), actor
            row.created_at = utcnow()
            s.add(row)
            bump(s, MODEL_VERSION)
            audit.record(s, actor, "update" if before else "create", "model", name, before, _entry(row))
        return _entry(row)

    def list(self) -> list[dict[str, Any]]:
        from kb.models import ModelRow

        with self._sessions() as s:
            return [_entry(r) for r in s.scalars(select(ModelRow).order_by(ModelRow.name))]

    def digest_of(self, name: str) -> str | None:
        from kb.models import ModelRow

        with self._sessions() as s:
            row = s.get(ModelRow, name)
            return row.digest if row else None

    def materialise(self, name: str) -> ModelRef:
        """The registered model's files on this machine (written once per digest, atomically)."""
        digest = self.digest_of(name)
        if digest is None:
            raise ModelNotFoundError(f"no model named {name!r} is registered")
        target = self.cache_dir / f"{name}@{digest[:12]}"  # its name reads in versions and logs; its digest is inside
        if stored_digest(target) != digest:
            self._write(digest, target)
        return ModelRef(name, target, digest)

    def _write(self, digest: str, target: Path) -> None:
        from kb.models import ModelFileRow

        with self._sessions() as s:
            files = {r.name: r.data for r in s.scalars(select(ModelFileRow).where(ModelFileRow.digest == digest))}
        with scratch_dir(target.with_name(f".{target.name}.partial-{os.getpid()}")) as tmp:
            for n, data in files.items():
                if n in MODEL_FILES:
                    (tmp / n).write_bytes(data)
            if content_digest(tmp) != digest:
                raise ModelArtifactError(f"the stored files of model {digest[:12]} do not match their digest")
            (tmp / DIGEST_FILE).write_text(digest + "\n")
        try:
            os.rename(tmp, target)
        except OSError:  # another worker materialised the same content first
            shutil.rmtree(tmp, ignore_errors=True)
            if stored_digest(target) != digest:
                raise


def _entry(row: Any) -> dict[str, Any]:
    return {
        "name": row.name,
        "digest": row.digest,
        "labels": list(row.labels or []),
        "card": dict(row.card or {}),
        "created_at": row.created_at.isoformat() if row.created_at else None,
        "created_by": row.created_by,
    }


def directory_ref(path: Path) -> ModelRef:
    """A model directory given by path (``extract --model DIR``)."""
    if not all((path / n).is_file() for n in ARTIFACT_FILES[:2]):
        raise ModelNotFoundError(f"{path} is not a model directory (it needs ner_config.json and weights)")
    return ModelRef(path.name, path, verified_digest(path))


def resolve(value: str | Path, store: ModelStore | None, *, directories: bool = True) -> ModelRef:
    """A model by registered name, then (with ``directories``) by path, then by shipped name."""
    text = str(value)
    if store is not None and isinstance(value, str):
        try:
            return store.materialise(text)
        except ModelNotFoundError:
            pass  # not a registered name: a path or a shipped model
    path = Path(value)
    if directories and path.is_dir():
        return directory_ref(path)
    if text in shipped_names():
        return directory_ref(MODELS_DIR / text)
    registered = [e["name"] for e in store.list()] if store is not None else []
    known = ", ".join([*registered, *shipped_names()])
    what = "a registered or shipped model, or a model directory" if directories else "a registered or shipped model"
    raise ModelNotFoundError(f"{text!r} is not {what}; models: {known}")


def overview(
    registered: list[dict[str, Any]],
    schema_models: dict[str, str | None],
    default: dict[str, Any],
    rollouts: dict[str, tuple[str | None, str | None, str, float]] | None = None,
) -> list[dict[str, Any]]:
    """Every registered model and the default one, with the schemas each serves and its share of their traffic.

    ``schema_models``: each schema's name → the model it is served by outside a rollout (``None``: the default).
    ``default``: ``{"name", "digest", "labels"}`` of the service's model. ``rollouts``: schema → (served,
    candidate, mode, candidate's share) for the schemas with a deployment.
    """
    rows = [{**default, "card": {}, "created_at": None, "created_by": "", "default": True}]
    rows += [{**r, "default": False} for r in registered]
    rollouts = rollouts or {}
    out = []
    for r in rows:
        shares: dict[str, float] = {}
        state = "default" if r["default"] else "registered"
        for schema, model in schema_models.items():
            served, candidate, mode, share = rollouts.get(schema, (model, None, "", 0.0))
            served = served if schema in rollouts and served is not None else model
            if (served is None and r["default"]) or served == r["name"]:
                shares[schema] = 1.0 - share
                state = "serving" if not r["default"] else state
            elif candidate == r["name"]:
                shares[schema] = share
                state = mode or "candidate"
        serves = sorted(s for s, v in shares.items() if v > 0)
        share = max(shares.values(), default=0.0)
        out.append({**r, "schemas": serves, "share": round(share, 4), "state": state})
    return out
