"""Teams named after their place: the context's sports, the names they give, the candidates they bring and the
fit set, with the real encoder, FAISS index, shipped reranker and SQLite over small KBs."""

import pytest

from eval.sports_set import build
from hybrid_ner.components import build_resolver
from kb.db import open_db
from kb.records import EntityIn
from kb.store import SQLKBStore
from linking.candidates import Mention, team_hits
from linking.rerank import FEATURES, features
from linking.sports import is_team_of, located, sports_in, team_names
from tests.test_demonyms import small_kb

KB = [
    EntityIn(id="geo:en", name="England", types=["country"], prior=50_000_000),
    EntityIn(id="geo:sc", name="Scotland", types=["country"], prior=5_000_000),
    EntityIn(id="t:en-rugby", name="England national rugby union team", types=["organization"], prior=10),
    EntityIn(id="t:sc-rugby", name="Scotland national rugby union team", types=["organization"], prior=8),
    EntityIn(id="t:en-football", name="England national football team", types=["organization"], prior=12),
    EntityIn(id="u:osu", name="Ohio State University", types=["organization"], prior=500),
    EntityIn(id="t:osu", name="Ohio State Buckeyes football", types=["organization"], prior=20),
]
RUGBY = "England beat Scotland 24-10 in the Six Nations rugby match at Twickenham."


@pytest.fixture()
def kb(tmp_path):
    return small_kb(tmp_path, KB)


def test_a_preposition_before_a_name_places_it():
    assert located("In ") and located("fans travelled from ") and located("won 3-0 at ")
    assert not located("Chelsea beat ") and not located("") and not located("against ")


def test_the_context_names_its_sports_and_a_teams_name_begins_with_its_place():
    assert sports_in(RUGBY) == ("rugby union", "rugby league")
    assert sports_in("The coach said the season was long.") == ("",)  # a game, no sport named
    assert sports_in("She lives in England and likes to try new things.") == ()
    assert team_names("England", ("cricket",)) == ["england national cricket team", "england cricket team"]
    assert team_names("England", ("",)) == ["england national team"]
    assert is_team_of("Ohio State", "Ohio State Buckeyes football")
    assert not is_team_of("Ohio State", "Ohio State University") and not is_team_of("Ohio", "Ohio State University")
    rugby = sports_in(RUGBY)
    assert is_team_of("England", "England national rugby union team", rugby)
    assert not is_team_of("Scotland", "Scotland national football team", rugby)  # another sport's side
    assert is_team_of("Scotland", "Scotland national football team", ("",))  # a game of no named sport


@pytest.mark.integration
def test_a_place_in_a_match_report_brings_its_teams_in_that_sport_and_elsewhere_none(kb):
    store, _ = kb
    mentions = [
        Mention("England", "LOC", RUGBY),
        Mention("England", "LOC", "She moved to England last year."),
        Mention("England", "PER", RUGBY),  # a person's name is no team's
        Mention("England", "LOC", "In England, the rugby season began.", located=True),  # a venue, not a side
    ]
    rugby, plain, person, venue = team_hits(store, mentions)
    assert rugby == ["t:en-rugby"] and plain == [] and person == [] and venue == []


@pytest.mark.integration
def test_a_country_in_a_match_report_links_to_its_team_and_elsewhere_to_the_country(kb):
    store, settings = kb
    resolver = build_resolver(settings, store)
    spans = [(0, 7, "LOC"), (13, 21, "LOC")]
    england, scotland = resolver.link([(RUGBY, spans)])[0]
    assert (england.kb_id, scotland.kb_id) == ("t:en-rugby", "t:sc-rugby")
    [[country]] = resolver.link([("She moved to England last year.", [(13, 20, "LOC")])])
    assert country.kb_id == "geo:en"
    venue = "The rugby season began in England, where Scotland beat Wales."
    [[place, side]] = resolver.link([(venue, [(26, 33, "LOC"), (41, 49, "LOC")])])
    assert (place.kb_id, side.kb_id) == ("geo:en", "t:sc-rugby")  # "in England" is placed: the country
    [m] = [Mention("Ohio State", "ORG", "Ohio State won the football game on Saturday.")]
    cands, entities, vectors = resolver.gather([m])
    rows = features(m, cands[0], entities, vectors)
    marked = {c.kb_id for c, row in zip(cands[0], rows, strict=True) if row[FEATURES.index("sports_team")]}
    assert marked == {"t:osu"}  # found by meaning, marked by its name: the university is no team


@pytest.mark.integration
def test_the_sports_fit_set_labels_countries_with_their_teams_and_keeps_test_countries_apart(tmp_path):
    kb_dir = tmp_path / "kb"
    kb_dir.mkdir()
    _, sessions = open_db(f"sqlite:///{kb_dir / 'kb.sqlite3'}")
    teams = [(c, f"t:{c.lower()}") for c in ("England", "Scotland", "France", "Italy", "Ireland")]
    SQLKBStore(sessions).upsert(
        [EntityIn(id=i, name=f"{c} national rugby union team", types=["organization"]) for c, i in teams]
    )
    dev, test = build(kb_dir)
    assert dev and test
    by_country = dict(teams)
    for row in dev + test:
        for label in row["labels"]:
            s, e = label["span"]
            assert row["text"][s:e] == label["name"] and by_country[label["name"]] == label["entity_id"]
        assert "rugby" in row["text"]
    firsts = [{r["labels"][0]["entity_id"] for r in rows} for rows in (dev, test)]
    assert not firsts[0] & firsts[1] and firsts[0] | firsts[1] == {i for _, i in teams}
