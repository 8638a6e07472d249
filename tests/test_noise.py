"""Noisy copies of training sentences (``train-ner --noise``): which changes, on which sentences, with the tags
following the words. Unit tests on sentences written here."""

from collections import Counter

from hybrid_ner.ner.data import TaggedSentence
from hybrid_ner.ner.noise import CHANGES, noisy_copies

ADA = TaggedSentence(["Ada", "Lovelace", "visited", "Paris", "."], ["B-PER", "I-PER", "O", "B-LOC", "O"])


def test_each_change_keeps_the_tags_on_their_words():
    import random

    rng = random.Random(0)
    got = {name: change(ADA, rng) for name, change in CHANGES.items()}
    assert got["lower"].words == ["ada", "lovelace", "visited", "paris", "."]
    assert got["upper"].words == ["ADA", "LOVELACE", "VISITED", "PARIS", "."]
    assert got["title"].words == ["Ada", "Lovelace", "Visited", "Paris", "."]
    assert got["hashtag"].words == ["Ada", "Lovelace", "visited", "#Paris", "."]  # the only one-word entity
    assert got["unpunctuated"] == TaggedSentence(ADA.words[:-1], ADA.tags[:-1])
    assert all(s.tags == ADA.tags for n, s in got.items() if n != "unpunctuated")


def test_a_share_of_the_sentences_gets_one_copy_the_same_for_a_seed():
    sentences = [TaggedSentence([f"Report{i}", *ADA.words], ["O", *ADA.tags]) for i in range(1000)]
    copies = noisy_copies(sentences, 0.3, seed=7)
    assert 250 < len(copies) < 350 and copies == noisy_copies(sentences, 0.3, seed=7)
    assert copies != noisy_copies(sentences, 0.3, seed=8)
    assert all(len(c.words) == len(c.tags) for c in copies)
    kinds = Counter("#Paris" in c.words or c.words[-1] != "." or c.words[1] for c in copies)
    assert len(kinds) >= 4  # every kind of change is drawn
    assert noisy_copies(sentences, 0.0, seed=7) == []


def test_a_change_that_does_not_apply_adds_nothing():
    words = TaggedSentence(["hello", "world"], ["O", "O"])  # nothing to hashtag, no stop, lowercase already
    assert all(c.words != words.words for c in noisy_copies([words] * 200, 1.0, seed=1))
