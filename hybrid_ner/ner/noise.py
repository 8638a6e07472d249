"""Noisy copies of training sentences, so the model does not learn that a name is capitalised and a sentence ends
in a full stop: text from chat, search boxes and tweets is lowercased, shouted, title-cased, tagged with ``#`` and
left unpunctuated, and opened with a user handle. ``train-ner --noise SHARE`` adds one copy of that share of the
sentences, each with one of these changes; the tags follow the words (a dropped stop takes its ``O`` with it).

Words are split as the service splits text (``hybrid_ner.text``): ``#Paris`` is two words, ``#`` and ``Paris``, and
keeps its tag on ``Paris`` (as WNUT-17 annotates it); ``@jsmith`` stays one word, an account rather than a name in
the text, tagged ``O``.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

from hybrid_ner.ner.data import TaggedSentence

Change = Callable[[TaggedSentence, random.Random], TaggedSentence | None]


def _recased(case: Callable[[str], str]) -> Change:
    def change(s: TaggedSentence, rng: random.Random) -> TaggedSentence:
        return TaggedSentence([case(w) for w in s.words], list(s.tags))

    return change


def _hashtagged(s: TaggedSentence, rng: random.Random) -> TaggedSentence | None:
    """A ``#`` before one word that is a whole entity or no entity ("# Paris", "# sunny"), as tweets do."""
    ends = [i + 1 == len(s.tags) or not s.tags[i + 1].startswith("I-") for i in range(len(s.tags))]
    whole = [i for i, t in enumerate(s.tags) if not t.startswith("I-") and ends[i] and s.words[i].isalnum()]
    if not whole:
        return None
    i = rng.choice(whole)
    return TaggedSentence([*s.words[:i], "#", *s.words[i:]], [*s.tags[:i], "O", *s.tags[i:]])


def _handled(s: TaggedSentence, rng: random.Random) -> TaggedSentence:
    """Opened with a user handle, as a reply is ("@k_ross7 ...")."""
    letters = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(3, 9)))
    handle = "@" + letters + rng.choice(["", "_", str(rng.randint(1, 99))])
    return TaggedSentence([handle, *s.words], ["O", *s.tags])


def _unpunctuated(s: TaggedSentence, rng: random.Random) -> TaggedSentence | None:
    """Without the sentence-final stop (a one-word sentence keeps it)."""
    if len(s.words) < 2 or s.words[-1] not in {".", "!", "?"}:
        return None
    return TaggedSentence(s.words[:-1], s.tags[:-1])


CHANGES: dict[str, Change] = {
    "lower": _recased(str.lower),
    "upper": _recased(str.upper),
    "title": _recased(lambda w: w[:1].upper() + w[1:].lower()),
    "hashtag": _hashtagged,
    "handle": _handled,
    "unpunctuated": _unpunctuated,
}


def drawn_copies(
    sentences: Sequence[TaggedSentence], share: float, seed: int, change: Change
) -> list[tuple[TaggedSentence, int]]:
    """One ``change``d copy of about ``share`` of ``sentences`` (chosen and changed by ``seed``), each with the index
    of the sentence it was made from; a sentence the change leaves as it was, or does not apply to, gets none."""
    rng = random.Random(seed)
    out = []
    for i, s in enumerate(sentences):
        if rng.random() >= share:
            continue
        copy = change(s, rng)
        if copy is not None and copy.words != s.words:
            out.append((copy, i))
    return out


def noisy_pairs(sentences: Sequence[TaggedSentence], share: float, seed: int) -> list[tuple[TaggedSentence, int]]:
    """One noisy copy of about ``share`` of ``sentences``, each change drawn from ``CHANGES`` (a sentence the drawn
    change does not apply to, with no word to hashtag, gets none)."""
    names = sorted(CHANGES)
    return drawn_copies(sentences, share, seed, lambda s, rng: CHANGES[rng.choice(names)](s, rng))
