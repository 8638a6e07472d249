import itertools

from hybrid_ner.text import SEGMENT_CHARS, _segments, split_sentences, words_from_tokens


def _all_words(text):
    return [w for s in split_sentences(text) for w in s]


def test_offsets_index_original_string_with_unicode_spaces_and_newlines():
    text = "  Zoë Saldaña   flew to\n\nSão Paulo.\tThen 東京 ! 🙂 Müller\r\nwon."
    words = _all_words(text)
    assert words, "expected words"
    for w in words:
        assert text[w.start : w.end] == w.text
        assert not w.text.isspace()
    assert [w.text for w in words][:3] == ["Zoë", "Saldaña", "flew"]


def test_empty_whitespace_and_control_only():
    assert split_sentences("") == []
    assert split_sentences(" \n\t  ") == []
    assert _all_words("\x00\x01\x02") == []


def test_control_characters_do_not_shift_offsets():
    text = "Angela\x00 Merkel\x07visited\x1fParis"
    for w in _all_words(text):
        assert text[w.start : w.end] == w.text
    assert "Paris" in [w.text for w in _all_words(text)]


def test_sentences_are_split():
    sents = split_sentences("Alice went home. Bob stayed in Rome! Did Carol?")
    assert [" ".join(w.text for w in s) for s in sents] == ["Alice went home .", "Bob stayed in Rome !", "Did Carol ?"]


def test_a_line_break_ends_a_sentence_unless_a_lower_case_word_follows():
    """A title and its article, or a headline and the line under it, are never one sentence, so no entity spans
    them ("Rudolf Senti\n\nRudolf Senti was..."); a hard wrap inside a sentence is not a break."""
    text = (
        "Rudolf Senti\n\nRudolf Senti was a Swiss farmer.\nEx-president Ford \n \nwas buried in\n"
        "Grand Rapids on\nthe Michigan shore."
    )
    got = [" ".join(w.text for w in s) for s in split_sentences(text)]
    assert got == [
        "Rudolf Senti",
        "Rudolf Senti was a Swiss farmer .",
        "Ex-president Ford",
        "was buried in",
        "Grand Rapids on the Michigan shore .",
    ]


def test_segments_cover_text_exactly_and_prefer_breaks():
    text = ("word " * 50_000) + "\n\n" + ("x" * (SEGMENT_CHARS * 2 + 7))
    segs = _segments(text)
    assert segs[0][0] == 0 and segs[-1][1] == len(text)
    assert all(a[1] == b[0] for a, b in itertools.pairwise(segs))
    assert all(0 < e - s <= SEGMENT_CHARS for s, e in segs)


def test_one_megabyte_document_is_fully_tokenised():
    unit = "Ms. Smith met officials in Geneva on Tuesday, 2024.\n"
    text = unit * (1_000_000 // len(unit) + 1)
    words = _all_words(text)
    assert len(words) == (len(text) // len(unit)) * len(_all_words(unit))
    assert words[-1].end == len(text) - 1  # the trailing newline is the only thing after the last word
    assert all(text[w.start : w.end] == w.text for w in words[::997])


def test_words_from_tokens_round_trip():
    text, words = words_from_tokens(["UN", "rejects", "Danish", "plan"])
    assert text == "UN rejects Danish plan"
    assert [text[w.start : w.end] for w in words] == ["UN", "rejects", "Danish", "plan"]


def test_the_tokenizer_vocabulary_stays_bounded(monkeypatch):
    """A service sees unique words forever; the interned strings must not grow without bound."""
    from hybrid_ner import text as text_module

    monkeypatch.setattr(text_module, "MAX_VOCAB_STRINGS", 5_000)
    for i in range(800):  # unbounded, this would intern well over 5,000 strings
        doc = f"Unique{i}a met Person{i}b and Company{i}c in Town{i}d ."
        assert [w.text for w in split_sentences(doc)[0]][:2] == [f"Unique{i}a", "met"]
    assert len(text_module._nlp().vocab.strings) <= 5_000 + 100
