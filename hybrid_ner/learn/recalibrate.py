"""``hybrid-ner calibrate``: refit only the confidence map of a model on a small labelled sample of the user's text.

Off its home domain a model is confidently wrong, and the router cannot see errors that do not look uncertain.
The weights stay as they are; temperature and the Platt map are refitted on the sample through the served runtime,
on the entities the schema would return (a label the schema does not map is dropped before anyone sees it), and
the model is written as a copy with the new map, so it has a digest of its own.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from hybrid_ner.learn.data import TrainingDataError, read_labelled
from hybrid_ner.model_registry import ModelRef
from hybrid_ner.ner.artifacts import atomic_dir, copy_model, write_digest
from hybrid_ner.ner.data import TaggedSentence
from hybrid_ner.ner.seen import SeenMentions
from hybrid_ner.schemas import Schema

MIN_ENTITIES = 10  # fewer predicted entities than this cannot fit two parameters


@dataclass
class Recalibrated:
    out: str
    model: str
    digest: str
    sentences: int
    entities: int
    ece_before: float
    ece_after: float
    f1: float
    temperature: float
    platt: tuple[float, float]
    platt_offsets: dict[str, float]
    platt_seen: tuple[float, float]  # (offset, slope) for names the model saw labelled in training
    seen_mentions: int  # how many (name, label) pairs it knows; 0: the map has no such term
    seconds: float


def _to_model_labels(
    sentences: list[TaggedSentence], schema: Schema | None, type_labels: list[str]
) -> tuple[list[TaggedSentence], set[str]]:
    """Sample tags (schema types) as the model's labels, and the model labels the schema keeps."""
    if schema is None:
        return sentences, set()
    mapping = schema.for_model(type_labels).local_map()  # model label -> schema type
    label_of: dict[str, str] = {}
    for label, type_name in mapping.items():
        label_of.setdefault(type_name, label)
    out = []
    for s in sentences:
        tags = [t if t == "O" or t[2:] not in label_of else f"{t[:2]}{label_of[t[2:]]}" for t in s.tags]
        out.append(TaggedSentence(s.words, [t if t == "O" or t[2:] in mapping else "O" for t in tags]))
    return out, set(mapping)


def recalibrate(
    model: ModelRef,
    data: Path,
    out: Path,
    schema: Schema | None = None,
    *,
    overwrite: bool = False,
    seen_from: Path | None = None,
) -> Recalibrated:
    """Fit the map on ``data`` (tags are ``schema``'s types, or the model's own labels) and write the copy. The
    model's seen names (``hybrid_ner.ner.seen``) are kept, or, with ``seen_from``, taken from that labelled file:
    the data the model was trained on."""
    import torch

    from hybrid_ner.ner.extractor import LocalNER
    from hybrid_ner.ner.train import calibrate, score

    started = time.perf_counter()
    served = LocalNER(model.path, threads=torch.get_num_threads())
    types = [t.name for t in schema.types] if schema is not None else served.labels
    sample = read_labelled(data, types)
    sentences, kept = _to_model_labels(sample.sentences, schema, served.type_labels)
    seen = served.seen if seen_from is None else _seen_in(seen_from, types, schema, served.type_labels)
    config = served.config
    logps = served.logprobs([s.words for s in sentences], temperature=1.0)
    before = score(config, sentences, logps, kept or None, seen=seen)
    predicted = int(before["predicted"])
    if predicted < MIN_ENTITIES:
        raise TrainingDataError(
            f"{data}: the model finds {predicted} entities of the sample's types; at least {MIN_ENTITIES} are "
            "needed to fit its confidence"
        )
    calibrate(config, sentences, logps, kept or None, by_label=True, seen=seen)
    after = score(config, sentences, logps, kept or None, seen=seen)
    config.metrics = {
        **config.metrics,
        "recalibrated": {"data_digest": sample.digest, "sentences": len(sentences), "from": model.digest},
        "sample": after,
    }
    with atomic_dir(out, overwrite=overwrite) as tmp:
        copy_model(model.path, tmp)  # with the model's own seen names, if it has them
        if seen_from is not None and seen is not None:
            seen.save(tmp)
        config.save(tmp)
        _note_on_card(tmp, model, sample.digest, len(sentences), before["ece"], after["ece"], seen)
        digest = write_digest(tmp)
    return Recalibrated(
        str(Path(out).resolve()), f"{model.name}@{model.digest[:12]}", digest, len(sentences), predicted,
        round(before["ece"], 4), round(after["ece"], 4), round(after["f1"], 4), round(config.temperature, 3),
        (round(config.platt_a, 4), round(config.platt_b, 4)), {k: round(v, 4) for k, v in config.platt_offsets.items()},
        (round(config.platt_seen[0], 4), round(config.platt_seen[1], 4)), len(seen) if seen is not None else 0,
        round(time.perf_counter() - started, 1),
    )  # fmt: skip


def _seen_in(path: Path, types: list[str], schema: Schema | None, type_labels: list[str]) -> SeenMentions:
    """The labelled names of a training file, under the model's own labels."""
    sentences, _ = _to_model_labels(read_labelled(path, types).sentences, schema, type_labels)
    return SeenMentions.from_sentences(sentences)


def _note_on_card(
    directory: Path,
    model: ModelRef,
    digest: str,
    sentences: int,
    before: float,
    after: float,
    seen: SeenMentions | None,
) -> None:
    card = directory / "README.md"
    text = card.read_text() if card.is_file() else "# hybrid-ner NER model\n"
    names = (
        f" It also knows the {len(seen)} (name, label) pairs the model was trained on, as digests, and gives a seen "
        "name an offset and slope of its own."
        if seen is not None
        else ""
    )
    card.write_text(
        text
        + f"""
## Recalibrated
The confidence map (temperature, and a Platt map with an intercept per label) of `{model.name}@{model.digest[:12]}`
was refitted with `hybrid-ner calibrate` on a sample of
{sentences} sentences (sha256 `{digest}`); the weights are unchanged.{names} Entity ECE on the sample: {before:.4f}
before, {after:.4f} after (in-sample).
"""
    )
