import random

import numpy as np
import pytest
from seqeval.metrics import classification_report

from hybrid_ner.ner.metrics import score_entities
from hybrid_ner.ner.tags import bio_labels, spans_from_bio, to_bio, transition_mask, viterbi

TYPES = ["PER", "ORG", "LOC", "MISC"]


def test_bio_labels_order():
    assert bio_labels(["PER", "LOC"]) == ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]


def test_to_bio_converts_iob1():
    assert to_bio(["I-PER", "I-PER", "O", "I-LOC", "I-ORG", "B-ORG", "I-ORG"]) == [
        "B-PER",
        "I-PER",
        "O",
        "B-LOC",
        "B-ORG",
        "B-ORG",
        "I-ORG",
    ]


def test_spans_from_bio():
    assert spans_from_bio(["B-PER", "I-PER", "O", "B-LOC", "B-LOC", "I-ORG"]) == [
        (0, 2, "PER"),
        (3, 4, "LOC"),
        (4, 5, "LOC"),
        (5, 6, "ORG"),
    ]


def test_viterbi_never_starts_with_inside_or_switches_type():
    labels = bio_labels(TYPES)
    trans, start = transition_mask(labels)
    rng = np.random.default_rng(0)
    for _ in range(200):
        logp = np.log(rng.dirichlet(np.ones(len(labels)), size=rng.integers(1, 12)))
        tags = [labels[i] for i in viterbi(logp, trans, start)]
        assert to_bio(tags) == tags  # already valid BIO


def test_viterbi_prefers_valid_path():
    labels = bio_labels(["PER"])
    trans, start = transition_mask(labels)
    # the argmax of word 0 is I-PER, which cannot start a sequence
    logp = np.log(np.array([[0.1, 0.3, 0.6], [0.1, 0.1, 0.8]]))
    assert [labels[i] for i in viterbi(logp, trans, start)] == ["B-PER", "I-PER"]


def test_viterbi_shortcut_returns_what_the_full_search_returns():
    labels = bio_labels(TYPES)
    trans, start = transition_mask(labels)
    soft = np.where(trans == 0, 0.0, -1e3)  # not a 0/-inf mask: the full search always runs
    rng = np.random.default_rng(1)
    shortcut = 0
    for _ in range(300):
        logp = np.log(rng.dirichlet(np.full(len(labels), 0.3), size=rng.integers(1, 12)))
        path = viterbi(logp, trans, start)
        assert path == viterbi(logp, soft, np.where(start == 0, 0.0, -1e3))
        shortcut += path == list(logp.argmax(axis=1))
    assert 0 < shortcut < 300  # both the shortcut and the search were taken


def _random_tags(rng, n):
    return to_bio([rng.choice(["O", "O", "O", *(f"{p}-{t}" for p in "BI" for t in TYPES)]) for _ in range(n)])


def test_scores_match_seqeval():
    rng = random.Random(7)
    gold_seqs = [_random_tags(rng, rng.randint(1, 15)) for _ in range(300)]
    pred_seqs = [[t if rng.random() < 0.8 else rng.choice(g) for t in g] for g in gold_seqs]
    pred_seqs = [to_bio(p) for p in pred_seqs]
    gold = {(i, a, b, t) for i, s in enumerate(gold_seqs) for a, b, t in spans_from_bio(s)}
    pred = {(i, a, b, t) for i, s in enumerate(pred_seqs) for a, b, t in spans_from_bio(s)}
    ours = score_entities(gold, pred)
    ref = classification_report(gold_seqs, pred_seqs, output_dict=True)
    assert ours.micro.f1 == pytest.approx(ref["micro avg"]["f1-score"])
    assert ours.micro.precision == pytest.approx(ref["micro avg"]["precision"])
    for lab in TYPES:
        assert ours.per_label[lab].f1 == pytest.approx(ref[lab]["f1-score"])
        assert ours.per_label[lab].support == ref[lab]["support"]


def test_empty_scores_are_zero_not_errors():
    s = score_entities([], [])
    assert s.micro.f1 == 0.0 and s.per_label == {}
