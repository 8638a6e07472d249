"""Name-swapped copies of training sentences (``train-ner --replace --names``): which entities are swapped, the
tags following the new words, and the names file's errors. Unit tests on sentences and files written here."""

import random

import pytest

from hybrid_ner.ner.data import TaggedSentence
from hybrid_ner.ner.replace import read_names, replaced, replaced_copies

ADA = TaggedSentence(
    ["Ada", "Lovelace", "of", "Acme", "visited", "Paris", "and", "German", "firms", "."],
    ["B-PER", "I-PER", "O", "B-ORG", "O", "B-LOC", "O", "B-MISC", "O", "O"],
)
NAMES = {"PER": [["Grace", "Brewster", "Hopper"]], "LOC": [["Oslo"]]}


def _entities(s):
    out, current = [], None
    for w, t in zip(s.words, s.tags, strict=True):
        if t.startswith("B-"):
            current = [t[2:], [w]]
            out.append(current)
        elif t.startswith("I-") and current:
            current[1].append(w)
        else:
            current = None
    return [(label, " ".join(words)) for label, words in out]


def test_a_swapped_name_takes_its_labels_tags_and_the_rest_stays():
    seen = set()
    for seed in range(30):
        copy = replaced(ADA, NAMES, random.Random(seed))
        assert copy is not None and len(copy.words) == len(copy.tags)
        got = _entities(copy)
        assert got[1:4:2] == [("ORG", "Acme"), ("MISC", "German")]  # labels the file lacks are never swapped
        assert got[0] in {("PER", "Ada Lovelace"), ("PER", "Grace Brewster Hopper")}
        assert got[2] in {("LOC", "Paris"), ("LOC", "Oslo")}
        assert copy.words[-4:] == ["and", "German", "firms", "."]
        seen.add((got[0][1], got[2][1]))
    assert ("Ada Lovelace", "Paris") not in seen  # a copy swaps at least one name
    assert {("Grace Brewster Hopper", "Oslo"), ("Ada Lovelace", "Oslo"), ("Grace Brewster Hopper", "Paris")} <= seen


def test_a_share_of_the_sentences_with_a_swappable_name_gets_one_copy_the_same_for_a_seed():
    plain = TaggedSentence(["Nothing", "here", "."], ["O", "O", "O"])
    sentences = [ADA, plain] * 500
    copies = replaced_copies(sentences, 0.4, NAMES, seed=3)
    assert 150 < len(copies) < 250 and copies == replaced_copies(sentences, 0.4, NAMES, seed=3)
    assert copies != replaced_copies(sentences, 0.4, NAMES, seed=4)
    assert replaced_copies([plain] * 50, 1.0, NAMES, seed=3) == []


def test_the_names_file_is_read_as_words_and_a_bad_line_is_named(tmp_path):
    path = tmp_path / "names.tsv"
    path.write_text("PER\tGrace Hopper\n\nLOC\tSaint-Étienne\nPER\tO'Neil\n", encoding="utf-8")
    # words as the service splits them
    assert read_names(path) == {"PER": [["Grace", "Hopper"], ["O'Neil"]], "LOC": [["Saint-Étienne"]]}
    path.write_text("PER\tGrace Hopper\nLOC Oslo\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"names\.tsv:2: expected 'LABEL<TAB>name', got 'LOC Oslo'"):
        read_names(path)
    path.write_bytes(b"PER\tJos\xe9\n")
    with pytest.raises(ValueError, match=r"names\.tsv: not UTF-8"):
        read_names(path)
    path.write_text("\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"names\.tsv: no names"):
        read_names(path)


def test_the_kb_names_recipe_keeps_names_that_read_like_one(tmp_path, monkeypatch, capsys):
    """``python -m eval.kb_names`` on a KB the test loads into SQLite: what it keeps, by which label, and a clear
    error for a KB with nothing to keep."""
    from eval.kb_names import main
    from hybrid_ner.config import Settings
    from kb.db import open_db
    from kb.records import EntityIn
    from kb.store import SQLKBStore

    data = tmp_path / "data"
    out = tmp_path / "names.tsv"
    monkeypatch.setattr("sys.argv", ["kb_names", "--data-dir", str(data), "--out", str(out)])
    data.mkdir()
    _, sessions = open_db(Settings(data_dir=data).database_url)
    with pytest.raises(SystemExit) as empty:
        main()
    assert empty.value.code == 2 and "holds no person, organisation or place" in capsys.readouterr().err
    assert not out.exists()
    wiki = {"dbpedia_title": "x", "redirects": 4}
    SQLKBStore(sessions).upsert(
        [
            EntityIn(id="p1", name="Grace Hopper", types=["person"]),
            EntityIn(id="p2", name="Louis XIV", types=["person"]),
            EntityIn(id="p3", name="Jean-Luc O'Neil Smith Jones Jr", types=["person"]),  # five words
            EntityIn(id="o1", name="Acme & Sons", types=["organization"], attributes=wiki),
            EntityIn(id="o2", name="Bohemian Rhapsody", types=["organization"], attributes={"redirects": 1}),
            EntityIn(id="o3", name="3M", types=["organization"], attributes=wiki),
            EntityIn(id="l1", name="Oslo", types=["city"], attributes=wiki),
            EntityIn(id="l2", name="Smallville", types=["city"]),  # no Wikipedia title
            EntityIn(id="l3", name="Oslo Airport", types=["airport"], attributes=wiki),
            EntityIn(id="c1", name="Jazz", types=["concept"], attributes=wiki),
            EntityIn(id="x1", name="Paris (band)", types=["organization"], attributes=wiki),
        ]
    )
    main()
    assert "4 names {'PER': 2, 'ORG': 1, 'LOC': 1}" in capsys.readouterr().out
    assert out.read_text(encoding="utf-8").splitlines() == [
        "LOC\tOslo",
        "ORG\tAcme & Sons",
        "PER\tGrace Hopper",
        "PER\tLouis XIV",
    ]
    assert read_names(out)["ORG"] == [["Acme", "&", "Sons"]]
