from hybrid_ner.llm.grounding import ground

LABELS = {"PER", "ORG", "LOC"}


def spans(text, items):
    found, stats = ground(text, items, LABELS)
    return [(text[g.start : g.end], g.label, g.method) for g in found], stats


def test_exact_match_and_offsets():
    text = "Tim Cook leads Apple in Cupertino."
    got, stats = spans(text, [("Tim Cook", "PER"), ("Apple", "ORG")])
    assert got == [("Tim Cook", "PER", "exact"), ("Apple", "ORG", "exact")]
    assert stats.exact == 2 and stats.dropped == 0


def test_repeated_mentions_ground_in_order():
    text = "Paris is big. Paris is old."
    found, _ = ground(text, [("Paris", "LOC"), ("Paris", "LOC")], LABELS)
    assert [(g.start, g.end) for g in found] == [(0, 5), (14, 19)]


def test_word_boundaries_reject_substrings():
    got, stats = spans("I ate a pineapple.", [("apple", "ORG")])
    assert got == [] and stats.ungrounded == 1


def test_case_and_whitespace_normalized():
    text = "He moved to New   York\nCity."
    got, stats = spans(text, [("new york city", "LOC")])
    assert got == [("New   York\nCity", "LOC", "normalized")]
    assert stats.normalized == 1


def test_bounded_fuzzy_alignment_fixes_small_typos():
    got, stats = spans("Angela Merkel spoke.", [("Angela Merkell", "PER")])
    assert got == [("Angela Merkel", "PER", "fuzzy")] and stats.fuzzy == 1


def test_hallucinations_unknown_labels_and_overlaps_are_dropped_and_counted():
    text = "Barack Obama visited Berlin."
    items = [
        ("Barack Obama", "PER"),
        ("Donald Trump", "PER"),  # not in the text
        ("Berlin", "CITY"),  # not a schema label
        ("Obama", "PER"),  # only inside an already placed span
        ("x" * 500, "LOC"),  # absurdly long
        ("   ", "LOC"),
    ]
    got, stats = spans(text, items)
    assert got == [("Barack Obama", "PER", "exact")]
    assert stats.returned == 6
    assert (stats.ungrounded, stats.unknown_label, stats.overlapping) == (3, 1, 1)
    assert stats.dropped == 5


def test_no_span_escapes_the_text():
    text = "Short."
    found, _ = ground(text, [("Short.", "ORG"), ("Short. And more", "ORG")], LABELS)
    assert all(0 <= g.start < g.end <= len(text) for g in found)
