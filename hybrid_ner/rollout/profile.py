"""A model's reference input profile, from the text it was trained or tuned on, run through the model itself
(entity types, confidence and escalations are the model's own on that text)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hybrid_ner.config import get_settings
from hybrid_ner.ner.artifacts import PROFILE_FILE
from hybrid_ner.ner.data import read_conll
from hybrid_ner.rollout import drift
from hybrid_ner.schemas import Schema


def reference_texts(path: Path, limit: int) -> list[str]:
    """Sentences of a CoNLL file (words joined by spaces), the ``text`` of JSONL rows, or plain lines."""
    import json

    path = Path(path)
    raw = path.read_text(encoding="utf-8")
    lines = raw.splitlines()
    texts: list[str] = []
    if path.suffix in {".jsonl", ".json"}:
        texts = [json.loads(line)["text"] for line in lines if line.strip()]
    elif any(
        line.split()[-1:] == ["O"] or line.split()[-1][:2] in {"B-", "I-"} for line in lines[:2000] if line.split()
    ):
        texts = [" ".join(s.words) for s in read_conll(path, skipped=[])]  # CoNLL: the project's own reader
    else:
        texts = drift.texts_of(lines)
    return texts[:limit]


def profile_model(directory: Path, data: Path, limit: int, schema: Schema | None = None) -> dict[str, Any]:
    texts = reference_texts(data, limit)
    if not texts:
        raise ValueError(f"{data}: no texts")
    return write_reference(directory, texts, schema)


def write_reference(directory: Path, texts: list[str], schema: Schema | None = None) -> dict[str, Any]:
    """Run the model in ``directory`` over ``texts`` and write its profile beside its files (the profile is not
    part of the content digest: it describes the model's input, not its predictions)."""
    from hybrid_ner.components import build_extractor
    from hybrid_ner.pipeline import Pipeline

    settings = get_settings()
    extractor = build_extractor(settings, Path(directory))
    pipeline = Pipeline(schema, strategy="local", settings=settings, extractor=extractor, model=Path(directory))
    results = pipeline.extract(texts, link=False)
    profile = drift.build_profile(texts, results, settings.ner_threshold)
    drift.write_profile(Path(directory), profile)
    return {"directory": str(directory), "texts": profile.texts, "file": PROFILE_FILE}
