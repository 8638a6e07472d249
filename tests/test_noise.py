"""Noisy copies of training sentences (``train-ner --noise``): which changes, on which sentences, with the tags
following the words. Unit tests on sentences written here."""

import random
from collections import Counter

from hybrid_ner.ner.data import TaggedSentence
from hybrid_ner.ner.noise import CHANGES, noisy_pairs

ADA = TaggedSentence(["Ada", "Lovelace", "visited", "Paris", "."], ["B-PER", "I-PER", "O", "B-LOC", "O"])


def test_each_change_keeps_the_tags_on_their_words():
    rng = random.Random(0)
    got = {name: change(ADA, rng) for name, change in CHANGES.items()}
    assert got["lower"].words == ["ada", "lovelace", "visited", "paris", "."]
    assert got["upper"].words == ["ADA", "LOVELACE", "VISITED", "PARIS", "."]
    assert got["title"].words == ["Ada", "Lovelace", "Visited", "Paris", "."]
    assert got["unpunctuated"] == TaggedSentence(ADA.words[:-1], ADA.tags[:-1])
    assert all(s.tags == ADA.tags for n, s in got.items() if n not in {"unpunctuated", "hashtag", "handle"})
    handle = got["handle"]
    assert handle.words[0].startswith("@") and handle.words[1:] == ADA.words and handle.tags == ["O", *ADA.tags]


def test_a_hashtag_is_a_word_of_its_own_before_a_whole_entity_or_a_plain_word():
    seen = set()
    for seed in range(40):
        tagged = CHANGES["hashtag"](ADA, random.Random(seed))
        i = tagged.words.index("#")
        assert tagged.tags[i] == "O" and tagged.words[:i] + tagged.words[i + 1 :] == ADA.words
        assert tagged.tags[:i] + tagged.tags[i + 1 :] == ADA.tags
        seen.add(tagged.words[i + 1])
    assert seen == {"visited", "Paris"}  # never inside "Ada Lovelace", never before the stop


def test_a_share_of_the_sentences_gets_one_copy_the_same_for_a_seed():
    sentences = [TaggedSentence([f"Report{i}", *ADA.words], ["O", *ADA.tags]) for i in range(1000)]
    copies = noisy_copies(sentences, 0.3, seed=7)
    assert 250 < len(copies) < 350 and copies == noisy_copies(sentences, 0.3, seed=7)
    assert copies != noisy_copies(sentences, 0.3, seed=8)
    assert all(len(c.words) == len(c.tags) for c in copies)
    kinds = Counter(_kind(c) for c in copies)
    assert set(kinds) == set(CHANGES)  # every kind of change is drawn
    assert noisy_copies(sentences, 0.0, seed=7) == []
    for copy, source in noisy_pairs(sentences, 0.3, seed=7):  # each copy names the sentence it was made from
        assert sentences[source].words[0].casefold() in [w.casefold() for w in copy.words]


def noisy_copies(sentences, share, seed):
    return [copy for copy, _ in noisy_pairs(sentences, share, seed)]


def _kind(copy: TaggedSentence) -> str:
    if "#" in copy.words:
        return "hashtag"
    if copy.words[0].startswith("@"):
        return "handle"
    if copy.words[-1] != ".":
        return "unpunctuated"
    return {"report": "lower", "REPORT": "upper"}.get(copy.words[0][:6], "title")


def test_a_change_that_does_not_apply_adds_nothing():
    words = TaggedSentence(["hello", "world"], ["O", "O"])  # no stop, lowercase already
    assert all(c.words != words.words for c in noisy_copies([words] * 200, 1.0, seed=1))
    assert CHANGES["hashtag"](TaggedSentence(["!!"], ["O"]), random.Random(0)) is None


def test_the_teacher_reads_the_clean_sentence_a_recased_copy_was_made_from(tokenizer):
    from hybrid_ner.ner.encoding import make_windows
    from hybrid_ner.ner.train import _views

    rng = random.Random(0)
    lower, upper = CHANGES["lower"](ADA, rng), CHANGES["upper"](ADA, rng)
    cut, tagged = CHANGES["unpunctuated"](ADA, rng), CHANGES["hashtag"](ADA, rng)
    train = [ADA, lower, upper, cut, tagged]
    windows = make_windows(tokenizer, [s.words for s in train], 128)
    views = _views(windows, {1: 0, 2: 0, 3: 0, 4: 0})
    own = {w.sentence: w for w in windows}
    clean = own[0]
    for copy in (1, 2):  # same subwords (the encoder is uncased): the teacher sees the original's shapes
        view = views[id(own[copy])]
        assert view.input_ids == own[copy].input_ids and view.shape_ids == clean.shape_ids != own[copy].shape_ids
    assert id(own[3]) not in views and id(own[4]) not in views and id(clean) not in views  # other words: its own
