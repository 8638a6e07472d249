"""The names a model was trained on (``hybrid_ner.ner.seen``): their keys, their file, and the served confidence."""

from __future__ import annotations

import pytest

from hybrid_ner.ner.data import TaggedSentence
from hybrid_ner.ner.seen import SEEN_FILE, SeenMentions, mention_key

SENTENCES = [
    TaggedSentence(["Maria", "Fernandes", "visited", "Berlin", "."], ["B-PER", "I-PER", "O", "B-LOC", "O"]),
    TaggedSentence(["Berlin", "beat", "Hamburg"], ["B-ORG", "O", "B-ORG"]),
]


def test_a_key_folds_case_and_spacing_but_not_the_label():
    assert mention_key("New  York", "LOC") == mention_key("new york", "LOC") == mention_key(" NEW YORK\n", "LOC")
    assert mention_key("new york", "LOC") != mention_key("new york", "ORG")
    assert mention_key("new york", "LOC") != mention_key("newyork", "LOC")


def test_the_set_holds_each_labelled_name_and_round_trips_without_the_names(tmp_path):
    seen = SeenMentions.from_sentences(SENTENCES)
    assert len(seen) == 4  # Maria Fernandes/PER, Berlin/LOC, Berlin/ORG, Hamburg/ORG
    assert seen.has("maria fernandes", "PER") and seen.has("Berlin", "ORG") and not seen.has("Hamburg", "LOC")
    assert not seen.has("Maria", "PER")  # the whole name, not its parts
    assert seen.flags(["Berlin", "Paris"], ["LOC", "LOC"]).tolist() == [1.0, 0.0]
    seen.save(tmp_path)
    stored = (tmp_path / SEEN_FILE).read_bytes()
    assert len(stored) == 4 * 8 and b"Berlin" not in stored and b"berlin" not in stored
    again = SeenMentions.load(tmp_path)
    assert again is not None and len(again) == 4 and again.has("BERLIN", "LOC")
    assert SeenMentions.load(tmp_path / "elsewhere") is None  # a model without the file has no such term


@pytest.mark.integration
def test_the_served_model_scores_a_name_it_was_trained_on_through_the_seen_term(tmp_path):
    from hybrid_ner.config import DEFAULT_NER_MODEL_DIR
    from hybrid_ner.ner.artifacts import copy_model, write_digest
    from hybrid_ner.ner.extractor import LocalNER

    text = "Maria Fernandes visited Berlin ."
    copies = {}
    for name, names in (("none", []), ("berlin", [SENTENCES[0]])):
        directory = tmp_path / name
        directory.mkdir()
        copy_model(DEFAULT_NER_MODEL_DIR, directory)
        (directory / SEEN_FILE).unlink()
        if names:
            SeenMentions.from_sentences(names).save(directory)
        write_digest(directory)
        copies[name] = {e.span.text: e.score for e in LocalNER(directory).extract([text])[0]}
    shipped = LocalNER(DEFAULT_NER_MODEL_DIR)
    offset, slope = shipped.config.platt_seen
    assert offset > 0 and slope > 0 and shipped.seen is not None and len(shipped.seen) > 1000
    assert set(copies["none"]) == set(copies["berlin"]) == {"Maria Fernandes", "Berlin"}
    for name in ("Berlin", "Maria Fernandes"):  # both in the second copy's set: the seen offset and slope apply
        assert copies["berlin"][name] > copies["none"][name]
    SeenMentions([]).save(tmp_path / "none")  # an empty set scores as no set at all
    write_digest(tmp_path / "none")
    assert {e.span.text: e.score for e in LocalNER(tmp_path / "none").extract([text])[0]} == copies["none"]


def test_scores_can_count_only_the_names_training_never_saw():
    """``score(names=...)`` keeps the gold and predicted entities whose words pass: here it drops Berlin, which the
    log-probs (written here) miss, so only Maria Fernandes counts."""
    import numpy as np

    from hybrid_ner.ner.model import NERConfig
    from hybrid_ner.ner.tags import bio_labels
    from hybrid_ner.ner.train import score

    config = NERConfig(labels=bio_labels(["PER", "LOC"]))
    sentence = SENTENCES[0]
    tags = ["B-PER", "I-PER", "O", "O", "O"]  # Berlin missed
    logps = np.log(np.full((5, len(config.labels)), 0.01))
    for i, tag in enumerate(tags):
        logps[i, config.labels.index(tag)] = np.log(0.96)
    seen = SeenMentions.from_sentences([TaggedSentence(["Berlin"], ["B-LOC"])])
    everything = score(config, [sentence], [logps])
    unseen = score(config, [sentence], [logps], names=lambda n: not seen.has(n, "LOC"))
    assert (everything["support"], everything["predicted"]) == (2, 1) and everything["f1"] == pytest.approx(2 / 3)
    assert (unseen["support"], unseen["predicted"], unseen["f1"]) == (1, 1, 1.0)
