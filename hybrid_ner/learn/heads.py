"""The output rows of an adapted model, started from what the base model knows.

Each new type's B-/I- rows start from the base model's rows of the type it most resembles: the base labels the
schema maps to it (``local_labels``), else a base label of the same name, else a mix of the base rows weighted by
how close the type's name and description are to each base label's (sentence embeddings). A politician starts as
a person and a political party as an organisation, so the head does not begin from noise.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from hybrid_ner.ner.model import CaseAwareTokenClassifier, NERConfig
from hybrid_ner.schemas import EntityType, default_schema

SIMILARITY_TEMPERATURE = 0.05  # cosine gaps of a few hundredths decide the mix


def base_descriptions(config: NERConfig) -> dict[str, str]:
    """What each base label means: recorded by adaptation, or the built-in CoNLL descriptions."""
    builtin = {t.name: t.description for t in default_schema().types}
    types = sorted({lab[2:] for lab in config.labels if lab != "O"})
    return {t: config.descriptions.get(t) or builtin.get(t, t) for t in types}


def type_sources(
    types: Sequence[EntityType], base: dict[str, str], similarity: bool = True
) -> dict[str, dict[str, float]]:
    """For each new type, the base types its rows start from, with weights summing to one."""
    by_key = {b.casefold(): b for b in base}
    out: dict[str, dict[str, float]] = {}
    unmatched = []
    for t in types:
        same_name = [by_key[t.name.casefold()]] if t.name.casefold() in by_key else []
        named = [lab for lab in t.local_labels if lab in base] or same_name
        if named:
            out[t.name] = {b: 1 / len(named) for b in named}
        else:
            unmatched.append(t)
    if unmatched and similarity:
        out |= _by_similarity(unmatched, base)
    for t in unmatched:
        out.setdefault(t.name, {b: 1 / len(base) for b in base})
    return out


def _by_similarity(types: Sequence[EntityType], base: dict[str, str]) -> dict[str, dict[str, float]]:
    from hybrid_ner.components import build_embedder
    from hybrid_ner.config import get_settings

    embedder = build_embedder(get_settings())
    names = list(base)
    anchors = embedder.encode([f"{b}: {base[b]}" for b in names])
    queries = embedder.encode([f"{t.name}: {t.description}" if t.description else t.name for t in types])
    scores = queries @ anchors.T / SIMILARITY_TEMPERATURE
    weights = np.exp(scores - scores.max(axis=1, keepdims=True))
    weights /= weights.sum(axis=1, keepdims=True)
    return {t.name: dict(zip(names, map(float, w), strict=True)) for t, w in zip(types, weights, strict=True)}


def start_head(
    model: CaseAwareTokenClassifier,
    base: CaseAwareTokenClassifier,
    base_config: NERConfig,
    config: NERConfig,
    sources: dict[str, dict[str, float]],
) -> None:
    """Write the new classifier's rows (in place) as the weighted base rows named by ``sources``."""
    index = {lab: i for i, lab in enumerate(base_config.labels)}
    weight, bias = base.classifier.weight.detach(), base.classifier.bias.detach()
    with torch.no_grad():
        for row, label in enumerate(config.labels):
            mix = {"O": 1.0} if label == "O" else {f"{label[:2]}{b}": w for b, w in sources[label[2:]].items()}
            model.classifier.weight[row] = sum(w * weight[index[b]] for b, w in mix.items())
            model.classifier.bias[row] = sum(w * bias[index[b]] for b, w in mix.items())
