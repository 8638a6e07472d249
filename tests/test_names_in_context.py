"""A short name follows the fuller name of its document (``follow_longer_forms``), on hand-made ranked lists:
which mentions it moves, which it leaves, and what the link says about it."""

from kb.records import EntityRecord
from linking.candidates import Candidate, Mention, drop_initials
from linking.document import (
    abbreviates,
    define_abbreviations,
    earlier_forms,
    follow_longer_forms,
    unknown_abbreviations,
    unknown_people,
)
from linking.rerank import Scored
from linking.resolver import mentions_of, written_out


def _e(kb_id: str, name: str, kind: str) -> EntityRecord:
    return EntityRecord(id=kb_id, name=name, types=[kind], description="", prior=1.0)


ENTITIES = {
    "jobs": _e("jobs", "Steve Jobs", "person"),
    "film": _e("film", "Jobs", "film"),
    "laurene": _e("laurene", "Laurene Powell Jobs", "person"),
    "cnn": _e("cnn", "CNN", "organization"),
    "cnnfilms": _e("cnnfilms", "CNN Films", "organization"),
    "vegas": _e("vegas", "Las Vegas", "city"),
    "north": _e("north", "North Las Vegas", "city"),
    "depot": _e("depot", "The Home Depot", "organization"),
    "supply": _e("supply", "Home Depot Supply", "organization"),
    "bush": _e("bush", "George W. Bush", "person"),
    "kate": _e("kate", "Kate Bush", "person"),
}


def _m(text: str, label: str | None, doc: int = 0) -> Mention:
    return Mention(text, label, text, doc=doc)


def _ranked(*pairs: tuple[str, float]) -> list[Scored]:
    return [Scored(k, p) for k, p in pairs]


def test_a_surname_takes_the_fuller_names_entity_with_at_least_its_probability():
    mentions = [_m("Steve Jobs", "PER"), _m("Jobs", "PER")]
    scored = [_ranked(("jobs", 0.9)), _ranked(("laurene", 0.6), ("film", 0.3), ("jobs", 0.2))]
    out, followed = follow_longer_forms(mentions, scored, ENTITIES, threshold=0.05)
    assert followed == [False, True]
    assert [s.kb_id for s in out[1]] == ["jobs", "laurene", "film"] and out[1][0].score == 0.9
    assert out[0] == scored[0]
    first_name = [_ranked(("jobs", 0.9)), _ranked(("jobs", 0.01), ("film", 0.005))]  # found, but under NIL
    out, followed = follow_longer_forms([_m("Steve Jobs", "PER"), _m("Steve", "PER")], first_name, ENTITIES, 0.05)
    assert followed == [False, True] and out[1][0] == Scored("jobs", 0.9)


def test_it_needs_a_linked_fuller_name_of_the_same_label_in_the_same_text():
    short = _ranked(("laurene", 0.6), ("jobs", 0.2))
    cases = [
        ([_m("Steve Jobs", "PER"), _m("Jobs", "PER", doc=1)], [_ranked(("jobs", 0.9)), short]),  # another text
        ([_m("Steve Jobs", "PER"), _m("Jobs", "PER")], [_ranked(("jobs", 0.01)), short]),  # the fuller one is NIL
        ([_m("Steve Jobs", "ORG"), _m("Jobs", "PER")], [_ranked(("jobs", 0.9)), short]),  # another label
        ([_m("Steve Jobs", "PER"), _m("Jobs", "PER")], [_ranked(("jobs", 0.9)), _ranked(("laurene", 0.6))]),
    ]
    for mentions, scored in cases:  # the last: the fuller name's entity is not among the short one's candidates
        out, followed = follow_longer_forms(mentions, scored, ENTITIES, threshold=0.05)
        assert followed == [False, False] and out == scored


def test_an_exact_name_of_the_right_type_and_places_keep_their_own_links():
    mentions = [_m("CNN Films", "ORG"), _m("CNN", "ORG"), _m("North Las Vegas", "LOC"), _m("Las Vegas", "LOC")]
    scored = [
        _ranked(("cnnfilms", 0.8)),
        _ranked(("cnn", 0.7), ("cnnfilms", 0.4)),
        _ranked(("north", 0.9)),
        _ranked(("vegas", 0.8), ("north", 0.3)),
    ]
    out, followed = follow_longer_forms(mentions, scored, ENTITIES, threshold=0.05)
    assert followed == [False] * 4 and out == scored


def test_an_organisation_takes_its_own_exact_name_where_the_fuller_names_entity_ranks_above_it():
    """The rank score can put the fuller name's entity first ("CNN Films", found through the document for "CNN"):
    the organisation still takes the best candidate it names itself, at the top's probability, and does not
    follow; with no such candidate it follows as before."""
    mentions = [_m("CNN Films", "ORG"), _m("CNN", "ORG")]
    scored = [_ranked(("cnnfilms", 0.8)), _ranked(("cnnfilms", 0.4), ("cnn", 0.7))]
    out, followed = follow_longer_forms(mentions, scored, ENTITIES, 0.05, [{"cnnfilms"}, {"cnn"}])
    assert followed == [False, False] and out[1] == [Scored("cnn", 0.4), Scored("cnnfilms", 0.4)]
    no_own = [scored[0], _ranked(("cnnfilms", 0.4))]
    out, followed = follow_longer_forms(mentions, no_own, ENTITIES, 0.05, [{"cnnfilms"}, set()])
    assert followed == [False, True] and out[1] == [Scored("cnnfilms", 0.8)]


def test_a_person_named_exactly_by_the_short_mention_still_yields_to_the_fuller_name():
    """Wikidata-based KBs type the article about a given name as a person ("Barbara"): beside "Barbara Walters"
    in the same text, "Barbara" is her, not the name. A company named exactly so keeps its own link."""
    entities = {
        **ENTITIES,
        "walters": _e("walters", "Barbara Walters", "person"),
        "barbara": _e("barbara", "Barbara", "person"),
    }
    mentions = [_m("Barbara Walters", "PER"), _m("Barbara", "PER")]
    scored = [_ranked(("walters", 0.65)), _ranked(("barbara", 0.31), ("walters", 0.06))]
    out, followed = follow_longer_forms(mentions, scored, entities, 0.05, [{"walters"}, {"barbara"}])
    assert followed == [False, True]
    assert out[1] == [Scored("walters", 0.65), Scored("barbara", 0.31)]
    companies = [_m("CNN Films", "ORG"), _m("CNN", "ORG")]
    ranked = [_ranked(("cnnfilms", 0.8)), _ranked(("cnn", 0.7), ("cnnfilms", 0.4))]
    out, followed = follow_longer_forms(companies, ranked, ENTITIES, 0.05, [{"cnnfilms"}, {"cnn"}])
    assert followed == [False, False] and out == ranked


def test_an_organisation_named_by_an_alias_or_redirect_keeps_its_link_a_person_by_surname_does_not():
    """ "Home Depot" is a redirect to The Home Depot: beside "Home Depot Supply" (its supply unit) it keeps its
    own link. A surname that is an alias of one person still follows the fuller name of another."""
    mentions = [_m("Home Depot Supply", "ORG"), _m("Home Depot", "ORG")]
    scored = [_ranked(("supply", 0.8)), _ranked(("depot", 0.9), ("supply", 0.05))]
    out, followed = follow_longer_forms(mentions, scored, ENTITIES, 0.05, [{"supply"}, {"depot"}])
    assert followed == [False, False] and out == scored
    out, followed = follow_longer_forms(mentions, scored, ENTITIES, 0.05, [{"supply"}, set()])  # found by meaning
    assert followed == [False, True] and out[1][0].kb_id == "supply"
    people = [_m("George W. Bush", "PER"), _m("Bush", "PER")]
    ranked = [_ranked(("bush", 0.9)), _ranked(("kate", 0.5), ("bush", 0.4))]
    out, followed = follow_longer_forms(people, ranked, ENTITIES, 0.05, [{"bush"}, {"kate"}])
    assert followed == [False, True] and out[1][0] == Scored("bush", 0.9)


def test_a_title_in_front_of_a_persons_name_does_not_follow_it_an_organisations_short_name_does():
    """ "DJ" in front of "Casey Kasem" is a title: it keeps its own link. "Bob" of "Bob Nardelli" is a nickname
    of Robert Nardelli and follows; so does "NYSE", the initials of "New York Stock Exchange", whatever the
    entity is called now."""
    entities = {
        **ENTITIES,
        "kasem": _e("kasem", "Casey Kasem", "person"),
        "dj": _e("dj", "Disc jockey", "person"),
        "nyse": _e("nyse", "NYSE Group", "organization"),
        "other": _e("other", "NYSE Arca", "organization"),
    }
    mentions = [_m("DJ Casey Kasem", "PER"), _m("DJ", "PER")]
    scored = [_ranked(("kasem", 0.9)), _ranked(("dj", 0.4), ("kasem", 0.3))]
    out, followed = follow_longer_forms(mentions, scored, entities, 0.05)
    assert followed == [False, False] and out == scored
    entities["nardelli"] = _e("nardelli", "Robert Nardelli", "person")
    entities["bob"] = _e("bob", "Bob Dylan", "person")
    nickname = [_m("Bob Nardelli", "PER"), _m("Bob", "PER")]  # a nickname is no title: it follows
    ranked = [_ranked(("nardelli", 0.9)), _ranked(("bob", 0.5), ("nardelli", 0.3))]
    out, followed = follow_longer_forms(nickname, ranked, entities, 0.05)
    assert followed == [False, True] and out[1][0] == Scored("nardelli", 0.9)
    exchange = [_m("New York Stock Exchange", "ORG"), _m("NYSE", "ORG")]
    ranked = [_ranked(("nyse", 0.9)), _ranked(("other", 0.5), ("nyse", 0.4))]  # "nyse" named otherwise
    out, followed = follow_longer_forms(exchange, ranked, entities, 0.05)
    assert followed == [False, True] and out[1][0] == Scored("nyse", 0.9)


def test_fuller_names_the_text_writes_out_join_given_spans_as_mentions_never_as_output():
    text = "Taylor Swift's new song. Fans say Taylor sings of Joe Alwyn. Scroll Down for video. Taylor Swift again."
    at = text.index("Taylor sings")
    items = [(text, [(at, at + 6, "PER")]), ("Taylor was here.", [(0, 6, None)])]
    mentions = mentions_of(items)
    extra = written_out(items, mentions)
    assert [(m.text, m.label, m.doc) for m in extra] == [("Taylor Swift", "PER", 0)]  # once, not the possessive
    # a run that overlaps a given span is the caller's choice of span, not a fuller name
    inside = [("Taylor Swift sang. Taylor smiled.", [(0, 6, "PER"), (19, 25, "PER")])]
    assert written_out(inside, mentions_of(inside)) == []
    place = [(text, [(at, at + 6, "LOC")])]  # a place's short name follows nothing
    assert written_out(place, mentions_of(place)) == []


def test_a_short_name_whose_fuller_names_are_all_nil_is_an_unknown_person():
    mentions = [_m("Tim Cook", "PER"), _m("Cook", "PER"), _m("Cook", "PER", doc=1), _m("Cook", "ORG")]
    cook = _ranked(("bush", 0.4))  # the best-known bearer of the surname, by itself
    scored = [_ranked(("kate", 0.01)), cook, cook, cook]
    assert unknown_people(mentions, scored, ENTITIES, 0.05, [False] * 4) == [False, True, False, False]
    # a fuller name with no candidates at all is as unknown
    assert unknown_people(mentions[:2], [[], cook], ENTITIES, 0.05, [False, False]) == [False, True]
    # one linked fuller name, or a short name that already took a fuller name's entity, decides otherwise
    linked = [_ranked(("kate", 0.9)), cook]
    assert unknown_people(mentions[:2], linked, ENTITIES, 0.05, [False, False]) == [False, False]
    assert unknown_people(mentions[:2], scored[:2], ENTITIES, 0.05, [False, True]) == [False, False]
    two = [_m("Tim Cook", "PER"), _m("Richard Cook", "PER"), _m("Cook", "PER")]
    assert unknown_people(two, [scored[0], _ranked(("bush", 0.6)), cook], ENTITIES, 0.05, [False] * 3) == [False] * 3


def test_a_short_name_whose_best_candidate_the_nil_fuller_name_spells_keeps_it():
    """The fuller name ranked its own entity too low to link, the short name ranks it first: it may be that person."""
    mentions = [_m("Kate Bush", "PER"), _m("Bush", "PER")]
    scored = [_ranked(("bush", 0.03), ("kate", 0.03)), _ranked(("kate", 0.4))]
    assert unknown_people(mentions, scored, ENTITIES, 0.05, [False, False]) == [False, False]
    aliased = {"kate": EntityRecord("kate", "Catherine Bush", ["person"], "", 1.0, aliases=["Kate Bush"])}
    assert unknown_people(mentions, scored, aliased, 0.05, [False, False]) == [False, False]  # by an alias
    renamed = {"kate": EntityRecord("kate", "Catherine Bush", ["person"], "", 1.0)}
    assert unknown_people(mentions, scored, renamed, 0.05, [False, False]) == [False, True]


def test_of_two_people_a_first_name_may_stand_for_it_takes_the_one_its_own_context_ranks_first():
    mentions = [_m("Steve Jobs", "PER"), _m("Steve Laurene", "PER"), _m("Steve", "PER")]
    own = _ranked(("laurene", 0.3), ("jobs", 0.2), ("film", 0.1))
    scored = [_ranked(("jobs", 0.9)), _ranked(("laurene", 0.5)), own]
    out, followed = follow_longer_forms(mentions, scored, ENTITIES, 0.05)
    assert followed == [False, False, True] and out[2][0] == Scored("laurene", 0.5)  # not the longer "Steve Jobs"
    scored[2] = _ranked(("jobs", 0.3), ("laurene", 0.2))
    out, _ = follow_longer_forms(mentions, scored, ENTITIES, 0.05)
    assert out[2][0] == Scored("jobs", 0.9)


def test_a_fuller_name_later_in_the_short_names_sentence_is_someone_else():
    """ "Neruda took his pen name from the poet Jan Neruda": the surname is not the relative written out after it
    in one sentence; a headline's surname above the body's full name, and a company's, still follow."""
    text = "Neruda took his pen name from the poet Jan Neruda. Later Neruda wrote odes."
    items = [(text, [(0, 6, "PER"), (39, 49, "PER"), (57, 63, "PER")])]
    mentions = mentions_of(items)
    assert [m.sentence for m in mentions] == [0, 0, 1]
    assert earlier_forms(mentions) == [[], [], []]  # every "Neruda" is the first one's, the one sentence's
    scored = [_ranked(("kate", 0.6), ("bush", 0.3)), _ranked(("bush", 0.9)), _ranked(("kate", 0.6), ("bush", 0.3))]
    out, followed = follow_longer_forms(mentions, scored, ENTITIES, 0.05)
    assert followed == [False, False, False] and out == scored
    headline = "Saban leaves Dolphins for Alabama\nMIAMI - Nick Saban said on Wednesday that Saban would go."
    spans = [(k, k + len(w), "PER") for w, k in (("Saban", 0), ("Nick Saban", 42), ("Saban", headline.rindex("Saban")))]
    assert [headline[s:e] for s, e, _ in spans] == ["Saban", "Nick Saban", "Saban"]
    assert earlier_forms(mentions_of([(headline, spans)])) == [[1], [], [1]]
    company = "Home Depot rose after Home Depot Supply was sold."
    assert earlier_forms(mentions_of([(company, [(0, 10, "ORG"), (22, 39, "ORG")])])) == [[1], []]
    # without offsets (hand-made mentions), the list's order stands for the text's
    assert earlier_forms([_m("Jan Neruda", "PER"), _m("Neruda", "PER")]) == [[], [0]]


def test_abbreviations_are_read_from_the_text_by_their_letters_in_order():
    for short, name in [
        ("FDA", "U.S. Food and Drug Administration"),  # not initials: "and" and "U.S." stay out
        ("ASH", "Ashland Oil Inc"),  # a ticker symbol
        ("IMF", "International Monetary Fund"),
        ("SCHIP", "State Children's Health Insurance Program"),
    ]:
        assert abbreviates(short, name), short
    for short, name in [("XYZ", "Apple Inc"), ("Edelman", "Asher Edelman"), ("FDA", "FDA"), ("A", "Apple")]:
        assert not abbreviates(short, name), short  # letters missing, a surname, itself, one letter
    assert not abbreviates("OD", "Food")  # in order, but its first letter must open a word of the name
    text = "Shares of Food and Drug Administration (FDA) staff. The FDA said (EU) it would (OK). IMF (IMF)."
    spans = [(10, 38, "ORG"), (40, 43, "ORG"), (56, 59, "ORG"), (66, 68, "ORG"), (85, 88, "ORG"), (90, 93, "ORG")]
    assert [text[s:e] for s, e, _ in spans] == ["Food and Drug Administration", "FDA", "FDA", "EU", "IMF", "IMF"]
    mentions = mentions_of([(text, spans)])
    assert [m.expands for m in mentions] == ["", "Food and Drug Administration", "", "", "", ""]
    assert define_abbreviations(text, mentions) == mentions


def test_a_defined_abbreviation_follows_its_name_or_is_nil_with_it():
    text = "Food and Drug Administration (FDA) staff. The FDA said so."
    mentions = mentions_of([(text, [(0, 28, "ORG"), (30, 33, "ORG"), (46, 49, "MISC")])])
    own = _ranked(("cnn", 0.7), ("depot", 0.1))  # the letters' namesake, named exactly so
    out, followed = follow_longer_forms(mentions, [_ranked(("supply", 0.6)), own, own], ENTITIES, 0.05)
    assert followed == [False, True, True] and out[1][0] == out[2][0] == Scored("supply", 0.7)
    assert [s.kb_id for s in out[1]] == ["supply", "cnn", "depot"]
    nil = [_ranked(("supply", 0.01)), own, own]
    out, followed = follow_longer_forms(mentions, nil, ENTITIES, 0.05)
    assert followed == [False] * 3 and out == nil
    assert unknown_abbreviations(mentions, nil, ENTITIES, 0.05) == [False, True, True]
    assert unknown_abbreviations(mentions, [[], own, own], ENTITIES, 0.05) == [False, True, True]
    assert unknown_abbreviations(mentions, [_ranked(("supply", 0.6)), own, own], ENTITIES, 0.05) == [False] * 3
    # the abbreviation's own best candidate, named within the name that matched nothing, stays
    fda = {"fda": _e("fda", "Food and Drug Administration", "organization"), **ENTITIES}
    text = "U.S. Food and Drug Administration (FDA) staff."
    mentions = mentions_of([(text, [(0, 33, "ORG"), (35, 38, "ORG")])])
    assert unknown_abbreviations(mentions, [[], _ranked(("fda", 0.8))], fda, 0.05) == [False, False]
    assert unknown_abbreviations(mentions, [[], _ranked(("cnn", 0.8))], fda, 0.05) == [False, True]
    aliased = {
        "fda": EntityRecord("fda", "FDA", ["organization"], "", 1.0, aliases=["U.S. Food and Drug Administration"])
    }
    assert unknown_abbreviations(mentions, [[], _ranked(("fda", 0.8))], aliased, 0.05) == [False, False]
    drug = {"fda": _e("fda", "Drug", "organization")}  # one word of the name is no name
    assert unknown_abbreviations(mentions, [[], _ranked(("fda", 0.8))], drug, 0.05) == [False, True]


def test_a_candidate_only_its_initials_found_leaves_a_capitalised_word_unless_meaning_found_it_too():
    entities = {
        "la": _e("la", "Los Angeles", "city"),
        "lou": _e("lou", "Louisiana", "state"),
        "lake": _e("lake", "Lake Arrowhead", "place"),
    }
    found = [
        Candidate("la", key_hit=True),  # by the initials alone: gone
        Candidate("lou", key_hit=True),  # by a key that is no acronym of its name: stays
        Candidate("lake", key_hit=True, dense=0.4),  # the dense index found it too: stays, by meaning alone
    ]
    (kept,) = drop_initials([_m("La.", "LOC")], [found], entities)
    assert [(c.kb_id, c.key_hit) for c in kept] == [("lou", True), ("lake", False)]
    (caps,) = drop_initials([_m("LA", "LOC")], [found], entities)  # written as initials: all stay as found
    assert caps == found
    alias = [Candidate("la", key_hit=True, alias_hit=True)]  # also one of its names: stays
    assert drop_initials([_m("La", "LOC")], [alias], entities) == [alias]
