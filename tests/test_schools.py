"""Universities called by their place: the sentences that tell of study, the names a place gives its universities,
the candidates they bring, the feature and the fit set, with the real encoder, FAISS index, shipped reranker and
SQLite over small KBs."""

import pytest

from eval.school_set import build
from hybrid_ner.components import build_resolver
from kb.db import open_db
from kb.records import EntityIn
from kb.store import SQLKBStore
from linking.candidates import Mention, school_hits
from linking.rerank import FEATURES, features
from linking.resolver import mention_at
from linking.schools import academic, school_names, where_one_studies
from tests.test_demonyms import small_kb

KB = [
    EntityIn(id="geo:pit", name="Pittsburgh", types=["city"], prior=300_000),
    EntityIn(id="u:pit", name="University of Pittsburgh", types=["organization"], prior=50),
    EntityIn(id="geo:shf", name="Sheffield", types=["city"], prior=500_000),
    EntityIn(id="u:shf", name="University of Sheffield", types=["organization"], prior=40),
    EntityIn(id="u:ucb", name="University of California, Berkeley", types=["organization"], prior=80),
    EntityIn(id="geo:ber", name="Berkeley", types=["city"], prior=100_000),
]
STORY = "Born in Pittsburgh, she earned a doctorate from Pittsburgh in 1970."


@pytest.fixture()
def kb(tmp_path):
    return small_kb(tmp_path, KB)


def test_a_school_is_named_after_at_or_from_in_a_sentence_about_study():
    assert academic("She earned a doctorate in 1970.") and academic("He was a professor of law.")
    assert not academic("She moved to Pittsburgh in 1970.")
    assert where_one_studies("She studied physics at ", "She studied physics at Berkeley.")
    assert where_one_studies("a doctorate from ", STORY)
    assert not where_one_studies("Born in ", STORY)  # where someone was born is the place
    assert not where_one_studies("She arrived at ", "She arrived at Pittsburgh on Monday.")  # no study
    assert where_one_studies("At ", "At Berkeley she studied law.")
    senator = "After a master's degree he became the junior Senator from "  # the preposition is the title's
    assert not where_one_studies(senator, senator + "Minnesota.")
    campus = "He was a professor of physics at the University of California at "  # part of a name
    assert not where_one_studies(campus, campus + "San Diego.")
    assert school_names("Pittsburgh") == [
        "university of pittsburgh", "pittsburgh university", "university of california, pittsburgh"
    ]  # fmt: skip
    assert school_names("Harvard University") == [] and school_names("") == []
    born, school = (mention_at(STORY, s, s + 10, "LOC", 0, [len(STORY)]) for s in (8, 48))
    assert (born.studied_at, school.studied_at) == (False, True)


@pytest.mark.integration
def test_where_someone_studies_brings_the_universities_of_the_place_and_elsewhere_none(kb):
    store, _ = kb
    mentions = [
        Mention("Berkeley", "LOC", "She studied physics at Berkeley.", studied_at=True),
        Mention("Pittsburgh", "LOC", STORY),
        Mention("Sheffield", "ORG", "He taught at Sheffield until 1990.", studied_at=True),
    ]
    assert school_hits(store, mentions) == [["u:ucb"], [], ["u:shf"]]


@pytest.mark.integration
def test_a_place_where_someone_studies_links_to_its_university_and_a_birthplace_to_the_place(kb):
    store, settings = kb
    resolver = build_resolver(settings, store)
    born, school = resolver.link([(STORY, [(8, 18, "LOC"), (48, 58, "LOC")])])[0]
    assert (born.kb_id, school.kb_id) == ("geo:pit", "u:pit")
    [[berkeley]] = resolver.link([("She studied physics at Berkeley.", [(23, 31, "LOC")])])
    assert berkeley.kb_id == "u:ucb"
    [[city]] = resolver.link([("She moved to Berkeley in 1970.", [(13, 21, "LOC")])])
    assert city.kb_id == "geo:ber"
    m = mention_at("He taught at Sheffield until 1990.", 13, 22, "LOC", 0, [34])
    cands, entities, vectors = resolver.gather([m])
    rows = features(m, cands[0], entities, vectors)
    marked = {c.kb_id for c, row in zip(cands[0], rows, strict=True) if row[FEATURES.index("school")]}
    assert marked == {"u:shf"}


@pytest.mark.integration
def test_the_school_fit_set_labels_a_place_as_its_university_and_as_a_birthplace_and_keeps_test_places_apart(
    tmp_path,
):
    kb_dir = tmp_path / "kb"
    kb_dir.mkdir()
    _, sessions = open_db(f"sqlite:///{kb_dir / 'kb.sqlite3'}")
    places = {"Pittsburgh": "u:pit", "Sheffield": "u:shf", "Glasgow": "u:gla", "Kyoto": "u:kyo", "Leeds": "u:lds"}
    SQLKBStore(sessions).upsert(
        [EntityIn(id=i, name=f"University of {p}", types=["organization"]) for p, i in places.items()]
    )
    dev, test = build(kb_dir)
    assert dev and test
    schools = set(places.values())
    for row in dev + test:
        kinds = []
        for label in row["labels"]:
            s, e = label["span"]
            assert row["text"][s:e] == label["name"]
            kinds.append(label["entity_id"] in schools)
            if kinds[-1]:
                assert places[label["name"]] == label["entity_id"]
            else:
                assert label["entity_id"].startswith("geonames:")  # the gazetteer's place of that name
        assert any(kinds)
    assert any(not all(label["entity_id"] in schools for label in row["labels"]) for row in dev + test)
    named = [{label["name"] for r in rows for label in r["labels"]} for rows in (dev, test)]
    assert not named[0] & named[1] and named[0] | named[1] == set(places)
