"""Nationality words: the table, the candidates they bring and the service's rule for a found adjective, with the
real encoder, FAISS index and shipped reranker over a small KB in SQLite."""

import pytest

from eval.nationality_set import build, countries
from hybrid_ner.components import build_resolver
from hybrid_ner.config import Settings
from kb.db import open_db
from kb.demonyms import demonym, demonyms, named_by
from kb.records import EntityIn
from kb.store import SQLKBStore
from linking.candidates import Mention, demonym_hits
from linking.rerank import FEATURES, features

KB = [
    EntityIn(id="geo:us", name="United States of America", types=["country"], prior=300_000_000),
    EntityIn(id="geo:de", name="Germany", types=["country"], prior=80_000_000),
    EntityIn(id="q:americans", name="Americans", types=["ethnic group"], prior=500),
    EntityIn(id="q:the-americans", name="The Americans", types=["television series"], prior=900),
    EntityIn(id="q:american-english", name="American English", types=["language"], prior=800),
    EntityIn(id="q:german", name="German", types=["language"], prior=5000),
    EntityIn(id="q:miller", name="Arthur Miller", types=["person"], prior=100),
]


def small_kb(tmp_path, entities):
    """A KB of ``entities`` in the database the settings name: its store and the settings to build a linker."""
    settings = Settings(data_dir=tmp_path)
    _, sessions = open_db(settings.database_url)
    store = SQLKBStore(sessions)
    store.upsert(entities)
    return store, settings


@pytest.fixture()
def kb(tmp_path):
    return small_kb(tmp_path, KB)


def test_an_adjective_names_its_place_and_a_plural_its_people():
    american, americans = demonym("American"), demonym("Americans")
    assert american is not None and americans is not None
    assert american.adjective and "united states" in american.places and "united states of america" in american.places
    assert named_by(american) == (True, american.places)
    assert not americans.adjective and named_by(americans) == (False, ("americans",))
    jewish = demonym("Jewish")  # no place of its own: the people
    assert jewish is not None and named_by(jewish) == (False, ("jews", "jewish people"))
    assert demonym("Arthur") is None and demonym("") is None
    assert all(" " not in k or k[0].isalpha() for k in demonyms())  # keys are normalized forms


def test_a_malformed_line_of_the_table_names_its_file_and_line(tmp_path):
    table = tmp_path / "demonyms.tsv"
    table.write_text("# comment\nFrance\tFrench\tFrench people\nSpain\tSpanish\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"demonyms\.tsv:3: want"):
        demonyms(table)


@pytest.mark.integration
def test_a_nationality_word_offers_its_place_or_its_people_never_a_namesake_by_a_derived_key(kb):
    store, _ = kb
    mentions = [
        Mention("American", "MISC", "an American playwright"),
        Mention("Americans", "MISC", "many Americans voted"),
        Mention("German", "PER", "German Efromovich said"),  # a first name, not a nationality
        Mention("Miller", "PER", "Miller said"),
    ]
    place, people, person, other = demonym_hits(store, mentions)
    assert place == {"geo:us": True}  # by the gazetteer's full name of the United States
    assert people == {"q:americans": False}  # not the series "The Americans", found by its key "americans"
    assert person == {} and other == {}


@pytest.mark.integration
def test_a_found_nationality_adjective_stays_unlinked_unless_asked_and_a_given_one_links(kb, monkeypatch):
    store, settings = kb
    resolver = build_resolver(settings, store)
    text = "The American playwright Arthur Miller wrote it."
    span = (4, 12, "MISC")
    [[found]] = resolver.link([(text, [span])], detected=True)
    assert found.kb_id is None and found.decision.reason == "nationality"
    assert found.candidates[0].kb_id == "geo:us"  # ranked first all the same: a caller sees what it would be
    [[given]] = resolver.link([(text, [span])])
    assert given.kb_id == "geo:us" and given.decision.stage == "alias"
    monkeypatch.setenv("HNER_LINK_NATIONALITIES", "true")
    asked = build_resolver(Settings(data_dir=settings.data_dir), store)
    assert asked.version() != resolver.version()  # a result cached under one rule is never served under the other
    [[linked]] = asked.link([(text, [span])], detected=True)
    assert linked.kb_id == "geo:us" and linked.decision.reason is None
    [[language]] = resolver.link([("She speaks German.", [(11, 17, "MISC")])], detected=True)
    assert language.decision.reason == "nationality"  # the rule reads the word, not the ranking


@pytest.mark.integration
def test_the_reranker_sees_which_candidate_a_nationality_word_names(kb):
    store, settings = kb
    resolver = build_resolver(settings, store)
    [m] = [Mention("American", "MISC", "an American playwright")]
    cands, entities, vectors = resolver.gather([m])
    rows = features(m, cands[0], entities, vectors)
    flags = {
        c.kb_id: (row[FEATURES.index("demonym_place")], row[FEATURES.index("demonym_people")])
        for c, row in zip(cands[0], rows, strict=True)
    }
    assert flags["geo:us"] == (1.0, 0.0)
    assert all(v == (0.0, 0.0) for k, v in flags.items() if k != "geo:us")


def test_the_nationality_fit_set_labels_each_adjective_with_its_country_and_keeps_test_countries_apart():
    dev, test = build()
    known = set(countries().values())  # the bundled KB's countries (England, Scotland: its subdivisions' ids)
    assert dev and test
    for row in dev + test:
        [label] = row["labels"]
        s, e = label["span"]
        assert row["text"][s:e] == label["name"] and demonym(label["name"]).adjective
        assert label["entity_id"] in known
    dev_ids, test_ids = ({r["labels"][0]["entity_id"] for r in rows} for rows in (dev, test))
    assert not dev_ids & test_ids
