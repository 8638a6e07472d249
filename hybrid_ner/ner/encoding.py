"""Turn word sequences into model windows and model outputs back into per-word log-probabilities.

A sentence that fits the window is one window. A longer one is cut into
consecutive *cores* that each carry some words of context on either side;
every word is predicted in exactly one core, so nothing is truncated and
nothing is counted twice at window edges.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from hybrid_ner.ner.features import PAD, word_shape

MAX_SUBTOKENS_PER_WORD = 16


@dataclass
class Window:
    """One model input: subword ids, shapes, and where each core word's first subtoken sits."""

    sentence: int
    input_ids: list[int]
    shape_ids: list[int]
    positions: list[int]  # index into input_ids of each core word's first subtoken
    words: list[int]  # the sentence word index of each core word


def _word_pieces(tokenizer: Any, sentences: Sequence[Sequence[str]], cap: int) -> list[list[list[int]]]:
    """Subword ids per word per sentence, at most ``cap`` per word (a dropped word gets an empty list)."""
    if not sentences:
        return []
    enc = tokenizer([list(s) for s in sentences], is_split_into_words=True, add_special_tokens=False)
    out: list[list[list[int]]] = []
    for i, words in enumerate(sentences):
        pieces: list[list[int]] = [[] for _ in words]
        for tok_id, w in zip(enc["input_ids"][i], enc.word_ids(i), strict=True):
            if w is not None and len(pieces[w]) < cap:
                pieces[w].append(tok_id)
        out.append(pieces)
    return out


def _cores(lengths: list[int], budget: int) -> Iterator[tuple[int, int]]:
    """Greedy consecutive word ranges whose subtoken total fits ``budget`` (a lone long word gets its own)."""
    start, used = 0, 0
    for i, n in enumerate(lengths):
        if used + n > budget and i > start:
            yield start, i
            start, used = i, 0
        used += n
    if start < len(lengths):
        yield start, len(lengths)


def make_windows(tokenizer: Any, sentences: Sequence[Sequence[str]], max_tokens: int) -> list[Window]:
    """Windows for every sentence; words the tokenizer drops are left out of every window."""
    cls_id, sep_id = tokenizer.cls_token_id, tokenizer.sep_token_id
    budget = max_tokens - 2
    context = budget // 8
    cap = min(MAX_SUBTOKENS_PER_WORD, budget - 2 * context)
    windows: list[Window] = []
    for s_idx, (words, pieces) in enumerate(zip(sentences, _word_pieces(tokenizer, sentences, cap), strict=True)):
        shapes = [word_shape(w) for w in words]
        kept = [i for i, p in enumerate(pieces) if p]
        lengths = [len(pieces[i]) for i in kept]
        core_budget = budget if sum(lengths) <= budget else budget - 2 * context
        for lo, hi in _cores(lengths, core_budget):
            left, room = lo, context if core_budget < budget else 0
            while left > 0 and lengths[left - 1] <= room:
                left -= 1
                room -= lengths[left]
            right, room = hi, context if core_budget < budget else 0
            while right < len(kept) and lengths[right] <= room:
                room -= lengths[right]
                right += 1
            ids, shp, positions, core_words = [cls_id], [PAD], [], []
            for k in range(left, right):
                w = kept[k]
                if lo <= k < hi:
                    positions.append(len(ids))
                    core_words.append(w)
                ids.extend(pieces[w])
                shp.extend([shapes[w]] * len(pieces[w]))
            ids.append(sep_id)
            shp.append(PAD)
            windows.append(Window(s_idx, ids, shp, positions, core_words))
    return windows


def collate(windows: Sequence[Window]) -> dict[str, torch.Tensor]:
    """Pad a batch of windows to its longest member."""
    width = max(len(w.input_ids) for w in windows)
    ids = torch.zeros((len(windows), width), dtype=torch.long)
    shapes = torch.zeros_like(ids)
    mask = torch.zeros_like(ids)
    for i, w in enumerate(windows):
        n = len(w.input_ids)
        ids[i, :n] = torch.tensor(w.input_ids)
        shapes[i, :n] = torch.tensor(w.shape_ids)
        mask[i, :n] = 1
    return {"input_ids": ids, "attention_mask": mask, "shape_ids": shapes}


# What one more model call costs, in padded tokens: measured with the served ONNX graph at one thread, a call
# costs about 0.5 ms plus 0.065 ms per padded token, so a call is worth about 8 tokens of padding.
CALL_COST_TOKENS = 8


def padded_batches(lengths: Sequence[int], batch_size: int) -> list[tuple[int, int]]:
    """Cut windows sorted by length into consecutive batches of at most ``batch_size`` that minimise the padded
    tokens run plus ``CALL_COST_TOKENS`` per call (dynamic programming over the cut points).

    A batch costs its width times its rows, so one long sentence in a batch of short ones made a news article's
    NER pass read 1.8 times its tokens. Rows of the served graph do not depend on their batch, so the cut
    changes speed only.
    """
    n = len(lengths)
    best = np.zeros(n + 1, dtype=np.int64)  # best[j]: least cost of the first j windows
    cut = [0] * (n + 1)
    for hi in range(1, n + 1):
        lo = np.arange(max(0, hi - batch_size), hi)
        costs = best[lo] + CALL_COST_TOKENS + (hi - lo) * lengths[hi - 1]
        k = int(np.argmin(costs))  # the first of equal costs: the fewest calls
        best[hi], cut[hi] = costs[k], int(lo[k])
    spans, hi = [], n
    while hi > 0:
        spans.append((cut[hi], hi))
        hi = cut[hi]
    return spans[::-1]


def word_logprobs(
    model: Callable[..., torch.Tensor],
    tokenizer: Any,
    sentences: Sequence[Sequence[str]],
    *,
    num_labels: int,
    max_tokens: int,
    batch_size: int,
    temperature: float = 1.0,
    parallel: int = 1,
) -> list[np.ndarray]:
    """Per-sentence arrays (words, labels) of temperature-scaled log-probabilities.

    Windows are sorted by length before batching so padding stays small. A word
    the tokenizer drops (e.g. a lone zero-width character) is certain ``O``
    (label index 0). With ``parallel`` > 1, that many batches run at once on
    threads (for a model call that releases the GIL, such as ONNX Runtime's):
    on short windows this uses the cores better than threads inside one call.
    """
    out = [np.full((len(s), num_labels), -1e4, dtype=np.float32) for s in sentences]
    for arr in out:
        arr[:, 0] = 0.0
    windows = sorted(make_windows(tokenizer, sentences, max_tokens), key=lambda w: len(w.input_ids))
    batches = [windows[lo:hi] for lo, hi in padded_batches([len(w.input_ids) for w in windows], batch_size)]

    def run(batch: list[Window]) -> None:
        with torch.inference_mode():
            logits = model(**collate(batch))
            logp = torch.log_softmax(logits / temperature, dim=-1).numpy()
        for row, w in enumerate(batch):  # every window owns its words' rows: no two threads write the same row
            out[w.sentence][w.words] = logp[row, w.positions]

    if parallel > 1 and len(batches) > 1:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(parallel) as pool:
            list(pool.map(run, batches))
    else:
        for batch in batches:
            run(batch)
    return out
