"""``hybrid-ner select``: which unlabelled texts would teach the model the most.

- ``uncertainty`` (default): the words the model is least sure of, summed over the text, plus, when the schema
  has types the model cannot label yet, how entity-like each word looks (its type may be one of them). Near
  duplicates of a text already picked are passed over, so one batch does not spend labels on one topic.
- ``diversity``: k-centre on sentence embeddings, for a first batch that covers the pool.
- ``random``: a seeded sample, the baseline the others are measured against.

Every pick carries the model's pre-annotations in the schema's type names, so an annotator corrects rather than
labels from scratch.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import numpy as np

from hybrid_ner.learn.data import TrainingDataError
from hybrid_ner.schemas import Schema

NEAR_DUPLICATE = 0.9  # cosine of sentence embeddings above which a text adds little to one already picked


class By(StrEnum):
    UNCERTAINTY = "uncertainty"
    DIVERSITY = "diversity"
    RANDOM = "random"


@dataclass
class PoolText:
    id: Any
    text: str
    entities: list[dict[str, Any]] = field(default_factory=list)
    score: float = 0.0


def read_pool(path: Path) -> list[PoolText]:
    """``{"id"?, "text"}`` lines; a line that is not such an object is an error naming it."""
    out: list[PoolText] = []
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise TrainingDataError(f"{path}: cannot read: {exc.strerror or exc}") from None
    for lineno, line in enumerate(raw.split(b"\n"), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise TrainingDataError(f"{path}:{lineno}: not a JSON line in UTF-8 ({type(exc).__name__})") from None
        if not isinstance(row, dict) or not isinstance(row.get("text"), str):
            raise TrainingDataError(f'{path}:{lineno}: expected an object with a string "text"')
        out.append(PoolText(row.get("id", lineno), row["text"]))
    if not out:
        raise TrainingDataError(f"{path}: no texts (the file is empty)")
    return out


def uncertainty(logps: Sequence[np.ndarray], novel: bool) -> float:
    """Σ over words of (1 - the top label's probability), plus P(not O) per word when the schema has types the
    model cannot label."""
    total = 0.0
    for lp in logps:
        p = np.exp(lp)
        total += float((1.0 - p.max(axis=1)).sum())
        if novel:
            total += float((1.0 - p[:, 0]).sum())
    return total


def _pick_uncertain(texts: list[PoolText], n: int, vectors: np.ndarray) -> list[int]:
    chosen: list[int] = []
    for i in sorted(range(len(texts)), key=lambda i: -texts[i].score):
        if len(chosen) == n:
            break
        if chosen and float((vectors[chosen] @ vectors[i]).max()) > NEAR_DUPLICATE:
            continue
        chosen.append(i)
    return chosen


def _pick_diverse(vectors: np.ndarray, n: int) -> list[int]:
    """Greedy k-centre: start nearest the centroid, then always the text farthest from everything picked."""
    centroid = vectors.mean(axis=0)
    chosen = [int(np.argmax(vectors @ centroid))]
    nearest = 1.0 - vectors @ vectors[chosen[0]]
    while len(chosen) < min(n, len(vectors)):
        i = int(np.argmax(nearest))
        chosen.append(i)
        nearest = np.minimum(nearest, 1.0 - vectors @ vectors[i])
    return chosen


def select(texts: list[PoolText], n: int, by: By, model: Any, schema: Schema, seed: int = 13) -> list[PoolText]:
    """The ``n`` texts to label next, each with the model's pre-annotations (schema types) and its score. Only
    ``uncertainty`` needs the model on the whole pool; the other ways run it on their picks alone."""
    if by == By.RANDOM:
        picked = [texts[i] for i in random.Random(seed).sample(range(len(texts)), min(n, len(texts)))]
        return _annotate(picked, model, schema)
    from hybrid_ner.components import build_embedder
    from hybrid_ner.config import get_settings

    vectors = build_embedder(get_settings()).encode([t.text[:2000] for t in texts])
    if by == By.DIVERSITY:
        return _annotate([texts[i] for i in _pick_diverse(vectors, n)], model, schema)
    _annotate(texts, model, schema)
    return [texts[i] for i in _pick_uncertain(texts, n, vectors)]


def _annotate(texts: list[PoolText], model: Any, schema: Schema) -> list[PoolText]:
    """Fill each text's score and pre-annotations from one pass of the model."""
    mapping = schema.for_model(list(getattr(model, "type_labels", []))).local_map()
    novel = any(t.name not in mapping.values() for t in schema.types)
    found, logps = model.analyse([t.text for t in texts])
    for t, per_text, entities in zip(texts, logps, found, strict=True):
        t.score = round(uncertainty(per_text, novel), 4)
        t.entities = [
            {
                "start": e.span.start,
                "end": e.span.end,
                "text": e.span.text,
                "label": mapping[e.span.label],
                "score": round(e.score, 4),
            }
            for e in entities
            if e.span.label in mapping
        ]
    return texts
