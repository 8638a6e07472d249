"""Unlabelled text for distillation (``train-ner --unlabelled FILE --teacher DIR``): the teacher's tag
distributions on it are the student's only target there, so a student learns from more text than was labelled.

A file holds one text per line (a paragraph, a sentence), UTF-8; its sentences are split into words as the service
splits text (``hybrid_ner.text``), so the student learns on the words it will be given. The sentences carry ``O``
tags only to share the labelled data's type: training never reads them.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from hybrid_ner.errors import HybridNERError
from hybrid_ner.ner.data import TaggedSentence
from hybrid_ner.ner.holdout import Holdout, check_disjoint

MAX_LINE_CHARS = 20_000  # a longer "line" is not prose (a minified dump, a binary read as text)


class UnlabelledTextError(HybridNERError, ValueError):
    """An unlabelled text file that cannot be read as UTF-8 prose, or holds none."""


def read_unlabelled(path: Path, holdouts: Sequence[Holdout] = ()) -> list[TaggedSentence]:
    """The sentences of ``path``'s non-blank lines; a line that is not UTF-8 or is far too long is an error that
    names the file and the line (nothing is trained on a file read halfway), and so is text that holds an
    evaluation set's sentences (``hybrid_ner.ner.holdout``)."""
    from hybrid_ner.text import split_sentences

    out: list[TaggedSentence] = []
    with open(path, "rb") as fh:
        for lineno, raw in enumerate(fh, 1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise UnlabelledTextError(
                    f"{path}:{lineno}: not UTF-8 (byte {raw[exc.start]:#04x} at column {exc.start + 1})"
                ) from None
            if len(line) > MAX_LINE_CHARS:
                raise UnlabelledTextError(
                    f"{path}:{lineno}: a line of {len(line):,} characters (at most {MAX_LINE_CHARS:,}): "
                    "write one paragraph or sentence per line"
                )
            for sentence in split_sentences(line):
                words = [w.text for w in sentence]
                out.append(TaggedSentence(words, ["O"] * len(words)))
    if not out:
        raise UnlabelledTextError(f"{path}: holds no text (one paragraph or sentence per line)")
    check_disjoint(path, out, holdouts)
    return out
