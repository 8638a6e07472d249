"""BIO tag sets, constrained decoding and tag-to-span conversion."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

NEG_INF = -1e9


def bio_labels(entity_types: Sequence[str]) -> list[str]:
    """``["O", "B-PER", "I-PER", ...]`` in a stable order."""
    out = ["O"]
    for t in entity_types:
        out += [f"B-{t}", f"I-{t}"]
    return out


def to_bio(tags: Sequence[str]) -> list[str]:
    """Normalise IOB1/BIO input to BIO: an I- that does not continue its type becomes B-."""
    out: list[str] = []
    prev = "O"
    for tag in tags:
        if tag.startswith("I-") and prev[2:] != tag[2:]:
            tag = "B-" + tag[2:]
        out.append(tag)
        prev = tag
    return out


def transition_mask(labels: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Allowed-transition scores (0 or -inf) for BIO: I-X only after B-X or I-X."""
    n = len(labels)
    trans = np.zeros((n, n), dtype=np.float32)
    start = np.zeros(n, dtype=np.float32)
    for j, to in enumerate(labels):
        if to.startswith("I-"):
            start[j] = NEG_INF
            for i, frm in enumerate(labels):
                if frm == "O" or frm[2:] != to[2:]:
                    trans[i, j] = NEG_INF
    return trans, start


def viterbi(logprobs: np.ndarray, trans: np.ndarray, start: np.ndarray) -> list[int]:
    """Best valid BIO path through per-word log-probabilities of shape (words, labels).

    With a 0/-inf mask as transitions (``transition_mask``), a path's score is the sum of its words' log-probs,
    so when the per-word best labels already form a valid path, that path is the best one: most sentences end
    here without the dynamic programme.
    """
    n_words = logprobs.shape[0]
    if n_words == 0:
        return []
    greedy = logprobs.argmax(axis=1)
    if _is_mask(trans, start) and start[greedy[0]] == 0 and not trans[greedy[:-1], greedy[1:]].any():
        return [int(g) for g in greedy]
    score = logprobs[0] + start
    back = np.zeros((n_words, logprobs.shape[1]), dtype=np.int64)
    for t in range(1, n_words):
        cand = score[:, None] + trans
        back[t] = cand.argmax(axis=0)
        score = cand.max(axis=0) + logprobs[t]
    path = [int(score.argmax())]
    for t in range(n_words - 1, 0, -1):
        path.append(int(back[t, path[-1]]))
    return path[::-1]


def _is_mask(trans: np.ndarray, start: np.ndarray) -> bool:
    return bool(np.all((trans == 0) | (trans <= NEG_INF)) and np.all((start == 0) | (start <= NEG_INF)))


def spans_from_bio(tags: Sequence[str]) -> list[tuple[int, int, str]]:
    """Word-index spans ``(first, last_exclusive, type)`` from BIO tags, counted as conlleval does."""
    spans: list[tuple[int, int, str]] = []
    start = -1
    cur = ""
    for i, tag in enumerate([*tags, "O"]):
        boundary = tag == "O" or tag.startswith("B-") or tag[2:] != cur
        if boundary and start >= 0:
            spans.append((start, i, cur))
            start = -1
        if tag != "O" and (tag.startswith("B-") or start < 0):
            start, cur = i, tag[2:]
    return spans
