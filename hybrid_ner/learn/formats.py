"""Labelled or pre-annotated texts in the formats annotation tools import and ``adapt --train`` reads.

- ``jsonl``: ``{"id", "text", "entities": [{"start", "end", "label", "score"?}]}`` per line (what ``adapt`` reads);
- ``conll``: one ``token<TAB>tag`` line per word, BIO, a blank line after each sentence (what ``adapt`` reads);
- ``label-studio``: a JSON array of tasks with the entities as predictions, for Label Studio's import (its
  labelling config is :func:`label_studio_config`);
- ``doccano``: ``{"text", "label": [[start, end, label]]}`` per line, doccano's sequence-labelling import.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from enum import StrEnum
from typing import Any
from xml.sax.saxutils import quoteattr

from hybrid_ner.learn.data import tag_text


class Format(StrEnum):
    JSONL = "jsonl"
    CONLL = "conll"
    LABEL_STUDIO = "label-studio"
    DOCCANO = "doccano"


Row = dict[str, Any]  # {"id", "text", "entities": [{"start", "end", "label", "score"?}], ...}


def lines(rows: Iterable[Row], fmt: Format, model_version: str = "") -> Iterator[str]:
    """The rows as text in ``fmt``, chunk by chunk (each chunk ends with a newline)."""
    if fmt == Format.LABEL_STUDIO:
        yield json.dumps([_label_studio_task(r, model_version) for r in rows], ensure_ascii=False, indent=1) + "\n"
        return
    for row in rows:
        if fmt == Format.CONLL:
            yield _conll(row)
        elif fmt == Format.DOCCANO:
            spans = [[e["start"], e["end"], e["label"]] for e in row["entities"]]
            yield json.dumps({"text": row["text"], "label": spans, "meta": {"id": row.get("id")}}, ensure_ascii=False)
            yield "\n"
        else:
            yield json.dumps(row, ensure_ascii=False) + "\n"


def _conll(row: Row) -> str:
    spans = [(e["start"], e["end"], e["label"]) for e in row["entities"]]
    out = []
    for sentence in tag_text(row["text"], spans):
        out += [f"{w}\t{t}" for w, t in zip(sentence.words, sentence.tags, strict=True)] + [""]
    return "\n".join(out) + "\n"


def _label_studio_region(i: int, text: str, e: dict[str, Any]) -> dict[str, Any]:
    value = {"start": e["start"], "end": e["end"], "text": text[e["start"] : e["end"]], "labels": [e["label"]]}
    region = {"id": f"e{i}", "from_name": "label", "to_name": "text", "type": "labels", "value": value}
    return region | ({"score": e["score"]} if "score" in e else {})


def _label_studio_task(row: Row, model_version: str) -> dict[str, Any]:
    result = [_label_studio_region(i, row["text"], e) for i, e in enumerate(row["entities"])]
    task: dict[str, Any] = {"data": {"text": row["text"], "id": row.get("id")}}
    if result:
        task["predictions"] = [{"model_version": model_version, "score": row.get("score", 0.0), "result": result}]
    return task


def label_studio_config(labels: Sequence[str]) -> str:
    """The labelling interface that matches the tasks: one ``Labels`` control named ``label`` over ``text``."""
    choices = "".join(f"<Label value={quoteattr(lab)}/>" for lab in labels)
    return f'<View><Labels name="label" toName="text">{choices}</Labels><Text name="text" value="$text"/></View>'
