"""Integration tests on the shipped model and the real base encoder package."""

import pytest

from hybrid_ner.ner.calibration import WordSpan
from hybrid_ner.ner.extractor import LocalNER, attach_hashtags, drop_retweet_markers, join_articles
from hybrid_ner.pipeline import Pipeline
from hybrid_ner.text import split_sentences

pytestmark = pytest.mark.integration


def _check_offsets(text, entities):
    assert entities, "expected entities"
    for e in entities:
        assert text[e.span.start : e.span.end] == e.span.text
        assert 0.0 <= e.score <= 1.0
        assert e.source.value == "local"
        assert e.decision.routed == "local"
        assert e.span.label in {"PER", "ORG", "LOC", "MISC"}


def test_labels_are_conll(local_ner):
    assert local_ner.labels == ["LOC", "MISC", "ORG", "PER"]


def test_finds_obvious_entities_with_high_confidence(local_ner):
    text = "Angela Merkel met Emmanuel Macron in Paris on Tuesday to discuss the European Union budget."
    ents = local_ner.extract([text])[0]
    _check_offsets(text, ents)
    found = {(e.span.text, e.span.label) for e in ents}
    assert ("Angela Merkel", "PER") in found
    assert ("Emmanuel Macron", "PER") in found
    assert ("Paris", "LOC") in found
    assert all(e.score > 0.5 for e in ents if e.span.text in {"Angela Merkel", "Paris"})


def test_offsets_with_unicode_spaces_and_newlines(local_ner):
    text = "  Zoë   Saldaña\n\nflew to  São Paulo 🙂 with\tJürgen Klopp.\r\nThen   東京 ."
    ents = local_ner.extract([text])[0]
    _check_offsets(text, ents)
    assert any(e.span.text == "Jürgen Klopp" for e in ents)


@pytest.mark.parametrize("text", ["", "   \n\t ", "\x00\x01\x02", "\u200b\u200b", "...!!!"])
def test_degenerate_inputs_give_no_entities_and_no_error(local_ner, text):
    assert local_ner.extract([text]) == [[]]


def test_batch_keeps_order_and_matches_single_calls(local_ner):
    texts = ["Barack Obama visited Berlin.", "", "Shares of Apple fell in New York.", "nothing here"]
    batched = local_ner.extract(texts)
    assert len(batched) == len(texts)
    for text, ents in zip(texts, batched, strict=True):
        single = local_ner.extract([text])[0]
        assert [(e.span.start, e.span.end, e.span.label) for e in ents] == [
            (e.span.start, e.span.end, e.span.label) for e in single
        ]
        assert [e.score for e in ents] == [e.score for e in single]  # exactly: no dependence on batch-mates


def test_a_text_scores_the_same_alone_and_inside_different_batches(local_ner):
    """The served runtime batches windows (static int8 scales), so batch-mates must not change a result."""
    assert local_ner.variant == "onnx-int8" and local_ner.batch_size > 1
    target = "Officials of Siemens AG met Lula da Silva in Brasilia, the Brazilian capital, said Reuters."
    short = ["Paris.", "Bayern Munich won.", "IBM hired Jane Doe in Austin , Texas ."]
    long = [" ".join(["The Bank of England raised rates in London while Mario Draghi spoke"] * k) for k in (2, 5, 9)]
    alone = local_ner.extract([target])[0]
    assert alone

    def key(entities):
        return [(e.span.start, e.span.end, e.span.label, e.score) for e in entities]

    for mates in (short, long, short + long * 8, long[::-1] + short * 11):
        for at in (0, len(mates) // 2, len(mates)):
            texts = [*mates[:at], target, *mates[at:]]
            assert key(local_ner.extract(texts)[at]) == key(alone)  # identical entities and scores, bit for bit


def test_long_sentence_windows_match_unwindowed_predictions(local_ner):
    """A sentence longer than one window is predicted in pieces with no loss or duplicates at the edges."""
    sentence = " , ".join(["Angela Merkel met Emmanuel Macron in Paris"] * 12) + " ."
    whole = local_ner.extract([sentence])[0]
    small = LocalNER(local_ner.model_dir, max_tokens=32)
    pieces = small.extract([sentence])[0]
    _check_offsets(sentence, pieces)
    spans = [(e.span.start, e.span.end) for e in pieces]
    assert len(spans) == len(set(spans))
    assert sum(e.span.text == "Paris" for e in pieces) == 12
    assert sum(e.span.text == "Paris" for e in whole) == 12


def test_large_document_is_not_truncated(local_ner):
    unit = "Reuters reported that Microsoft opened an office in Dublin.\n"
    text = unit * (200_000 // len(unit))
    ents = local_ner.extract([text])[0]
    _check_offsets(text, ents)
    dublins = [e for e in ents if e.span.text == "Dublin"]
    assert len(dublins) == text.count("Dublin")
    assert dublins[-1].span.end > len(text) - len(unit)


def test_pipeline_returns_results(local_ner):
    results = Pipeline(extractor=local_ner).extract(["Apple hired Tim Cook.", ""])
    assert len(results) == 2 and results[1].entities == []
    assert results[0].degraded is False
    with pytest.raises(TypeError, match="text 0 is int"):
        Pipeline(extractor=local_ner).extract([3])  # type: ignore[list-item]


def test_parallel_batches_give_the_same_results(local_ner):
    """Two batches at once on threads (HNER_THREADS=2) change nothing but the speed."""
    from hybrid_ner.config import DEFAULT_NER_MODEL_DIR

    two = LocalNER(DEFAULT_NER_MODEL_DIR, threads=2, batch_size=4)
    texts = [f"Talks {i} between Siemens and Airbus in Toulouse ended, said Anne Martin." for i in range(20)]
    assert two.parallel == 2

    def key(results):
        return [[(e.span.start, e.span.end, e.span.label, e.score) for e in es] for es in results]

    assert key(two.extract(texts)) == key(local_ner.extract(texts))


def test_an_article_tagged_alone_joins_the_entity_after_it_or_is_dropped():
    sentence = split_sentences("The Globe and Mail and The View reported , said a man .")[0]
    spans = [
        WordSpan(0, 1, "ORG", 0.6),  # "The"
        WordSpan(1, 4, "ORG", 0.9),  # "Globe and Mail"
        WordSpan(5, 6, "ORG", 0.5),  # "The", before a MISC
        WordSpan(6, 7, "MISC", 0.8),  # "View"
        WordSpan(10, 11, "PER", 0.4),  # "a", nothing after it
    ]
    assert join_articles(spans, sentence) == [WordSpan(0, 4, "ORG", 0.6), WordSpan(6, 7, "MISC", 0.8)]
    assert join_articles(spans[1:2], sentence) == spans[1:2]


def test_a_retweet_marker_before_a_handle_is_no_entity_and_rt_elsewhere_is_left_to_the_model():
    sentence = split_sentences("RT @cnn : RT said RT @ bbc and rt @x")[0]
    words = [w.text for w in sentence]
    spans = [WordSpan(i, i + 1, "ORG", 0.9) for i, w in enumerate(words) if w.lower() == "rt"]
    kept = drop_retweet_markers(spans, sentence)
    assert [words[ws.first] for ws in kept] == ["RT", "rt"]  # the channel ("RT said") and a lower-case "rt"
    assert all(words[ws.first + 1] in ("said", "@x") for ws in kept)
    longer = [WordSpan(0, 2, "ORG", 0.9)]  # a span that holds more than the marker is the model's call
    assert drop_retweet_markers(longer, sentence) == longer


def test_batch_size_and_window_settings_reach_the_model_and_change_only_the_speed(local_ner, monkeypatch):
    """HNER_NER_BATCH_SIZE cuts a call's windows into smaller batches; HNER_NER_MAX_TOKENS bounds each window."""
    from hybrid_ner.config import Settings
    from hybrid_ner.ner.encoding import make_windows
    from hybrid_ner.ner.extractor import make_local_ner

    monkeypatch.setenv("HNER_NER_BATCH_SIZE", "2")
    monkeypatch.setenv("HNER_NER_MAX_TOKENS", "48")
    built = make_local_ner(Settings())
    assert (built.batch_size, built.max_tokens) == (2, 48)
    texts = ["Siemens hired Anne Martin in Toulouse.", "Paris.", "Talks between Airbus and Boeing in Seattle ended."]

    def key(results):
        return [[(e.span.start, e.span.end, e.span.label, e.score) for e in es] for es in results]

    assert key(built.extract(texts)) == key(local_ner.extract(texts))  # short sentences: one window each
    long = [" ".join(["Angela Merkel met Emmanuel Macron in Paris"] * 6)]
    assert max(len(w.input_ids) for w in make_windows(built.tokenizer, [long[0].split()], built.max_tokens)) <= 48
    assert sum(e.span.text == "Paris" for e in built.extract(long)[0]) == 6


def test_a_hashtag_joins_the_entity_it_names_and_a_loose_or_inner_hash_does_not():
    sentence = split_sentences("#Astros win , # Denver next , (#Cubs) and #Go Padres")[0]
    words = [w.text for w in sentence]
    at = {w: i for i, w in enumerate(words)}
    spans = [WordSpan(at[w], at[w] + 1, "ORG", 0.9) for w in ("Astros", "Denver", "Cubs", "Padres")]
    spans.append(WordSpan(at["Go"], at["Go"] + 2, "ORG", 0.8))
    joined = attach_hashtags(spans, sentence)
    shown = [" ".join(words[ws.first : ws.last]) for ws in joined]
    # "#Astros" and "(#Cubs)" take their mark; "# Denver" is apart from it; "Padres" has none
    assert shown == ["# Astros", "Denver", "# Cubs", "Padres", "# Go Padres"]
    assert [(ws.label, ws.raw) for ws in joined] == [(ws.label, ws.raw) for ws in spans]


def test_the_local_model_gives_a_hashtagged_place_with_its_mark(local_ner):
    text = "Best #livemusic in #Denver tonight with friends from #Chicago"
    spans = {e.span.text for e in local_ner.extract([text])[0]}
    assert {"#Denver", "#Chicago"} <= spans
