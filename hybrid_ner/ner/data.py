"""Training and evaluation data readers: CoNLL BIO files and JSONL spans."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from hybrid_ner.ner.tags import to_bio
from hybrid_ner.text import split_sentences

log = logging.getLogger(__name__)


@dataclass
class TaggedSentence:
    words: list[str]
    tags: list[str]


def read_conll(path: Path, skipped: list[str] | None = None) -> list[TaggedSentence]:
    """Read ``token [POS ...] tag`` lines; blank lines and -DOCSTART- separate sentences.

    A malformed line raises, unless ``skipped`` is given: then it is recorded there and skipped.
    """
    out: list[TaggedSentence] = []
    words: list[str] = []
    tags: list[str] = []

    def flush() -> None:
        if words:
            out.append(TaggedSentence(list(words), to_bio(tags)))
        words.clear()
        tags.clear()

    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            parts = line.split()
            if not parts or parts[0] == "-DOCSTART-":
                flush()
                continue
            if len(parts) < 2:
                message = f"{path}:{lineno}: expected 'token ... tag', got {line.strip()!r}"
                if skipped is None:
                    raise ValueError(message)
                skipped.append(message)
                continue
            words.append(parts[0])
            tags.append(parts[-1])
    flush()
    return out


def tag_text(text: str, spans: Sequence[tuple[int, int, str]]) -> list[TaggedSentence]:
    """Character spans → BIO-tagged sentences of ``text``: a word belongs to an entity it overlaps."""
    out = []
    for sent in split_sentences(text):
        tags = ["O"] * len(sent)
        for start, end, label in sorted(spans):
            inside = [i for i, w in enumerate(sent) if w.start < end and w.end > start]
            for n, i in enumerate(inside):
                tags[i] = ("B-" if n == 0 else "I-") + label
        out.append(TaggedSentence([w.text for w in sent], tags))
    return out


def _tag_text(text: str, entities: list[dict[str, object]]) -> list[TaggedSentence]:
    spans = [(int(e["start"]), int(e["end"]), str(e["label"])) for e in entities]  # type: ignore[call-overload]
    return tag_text(text, spans)


def read_jsonl_spans(path: Path) -> list[TaggedSentence]:
    """Read ``{"text", "entities": [{"start", "end", "label"}]}`` lines; bad lines are logged and skipped."""
    out: list[TaggedSentence] = []
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                out.extend(_tag_text(row["text"], row.get("entities", [])))
            except (ValueError, KeyError, TypeError) as exc:
                log.warning("%s:%d skipped: %s", path, lineno, exc)
    return out


def read_tagged(path: Path) -> list[TaggedSentence]:
    """Pick the reader by file extension (``.jsonl``/``.json`` → spans, else CoNLL)."""
    path = Path(path)
    return read_jsonl_spans(path) if path.suffix in {".jsonl", ".json"} else read_conll(path)
