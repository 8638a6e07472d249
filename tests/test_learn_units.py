"""The learning loop's small parts: mention replacement, the uncertainty score, picking by it, and the model
registry's overview of what serves which schema."""

import numpy as np

from hybrid_ner.learn.augment import mention_pool, replace_mentions
from hybrid_ner.learn.select import PoolText, _pick_diverse, _pick_uncertain, uncertainty
from hybrid_ner.model_registry import overview
from hybrid_ner.ner.data import TaggedSentence
from hybrid_ner.ner.tags import spans_from_bio

SENTENCES = [
    TaggedSentence(
        ["Ana", "Souza", "met", "Lena", "in", "Oslo", "."],
        ["B-person", "I-person", "O", "B-person", "O", "B-city", "O"],
    ),
    TaggedSentence(["Rain", "in", "New", "York", "."], ["O", "O", "B-city", "I-city", "O"]),
    TaggedSentence(["Nothing", "here", "."], ["O", "O", "O"]),
]


def test_mention_replacement_keeps_contexts_and_types():
    pool = mention_pool(SENTENCES)
    assert pool == {"person": [("Ana", "Souza"), ("Lena",)], "city": [("Oslo",), ("New", "York")]}
    copies = replace_mentions(SENTENCES, copies=3, seed=1)
    assert len(copies) == 6  # sentences without entities are not copied
    for s in copies:
        assert len(s.words) == len(s.tags)
        for a, b, t in spans_from_bio(s.tags):
            assert tuple(s.words[a:b]) in pool[t]
        assert [w for w, t in zip(s.words, s.tags, strict=True) if t == "O"] in (
            ["met", "in", "."],
            ["Rain", "in", "."],
        )
    assert replace_mentions(SENTENCES, 2, seed=1) == replace_mentions(SENTENCES, 2, seed=1)


def test_uncertainty_counts_unsure_words_and_entity_like_ones_for_unknown_types():
    sure = np.log(np.array([[0.98, 0.01, 0.01], [0.98, 0.01, 0.01]]))
    unsure = np.log(np.array([[0.4, 0.3, 0.3], [0.98, 0.01, 0.01]]))
    entity = np.log(np.array([[0.02, 0.97, 0.01]]))
    assert uncertainty([sure], novel=False) < uncertainty([unsure], novel=False)
    assert uncertainty([entity], novel=False) < 0.05 < uncertainty([entity], novel=True)
    assert uncertainty([sure, unsure], novel=False) == uncertainty([sure], False) + uncertainty([unsure], False)


def test_picking_passes_over_near_duplicates_and_k_centre_spreads_out():
    texts = [PoolText(i, f"t{i}", score=s) for i, s in enumerate([5.0, 4.9, 1.0, 3.0])]
    vectors = np.array([[1, 0], [1, 0.01], [0, 1], [0.7, 0.7]], dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    assert _pick_uncertain(texts, 2, vectors) == [0, 3]  # 1 is a near duplicate of 0
    assert (
        sorted(_pick_diverse(vectors, 2)) in ([0, 2], [1, 2], [2, 3], [0, 3])
        and len(set(_pick_diverse(vectors, 3))) == 3
    )


def test_overview_says_which_model_serves_which_schema():
    about = {"card": {}, "created_at": "t", "created_by": "a"}
    registered = [{"name": "music", "digest": "d1", "labels": ["album"], **about},
                  {"name": "spare", "digest": "d2", "labels": [], **about}]  # fmt: skip
    default = {"name": "base", "digest": "d0", "labels": ["PER"]}
    rows = overview(registered, {"default": None, "shop": None, "music": "music"}, default)
    assert [(r["name"], r["state"], r["schemas"], r["share"]) for r in rows] == [
        ("base", "default", ["default", "shop"], 1.0), ("music", "serving", ["music"], 1.0),
        ("spare", "registered", [], 0.0)]  # fmt: skip
