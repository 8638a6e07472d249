"""Linking with the real embedder, a real FAISS index and a small KB in SQLite."""

import json
import re

import pytest

from hybrid_ner.components import build_resolver
from hybrid_ner.config import Settings
from hybrid_ner.pipeline import Pipeline, run_sync
from kb.db import open_db
from kb.overrides import OverrideIn
from kb.records import EntityIn
from kb.store import SQLKBStore
from linking.candidates import Mention, initials, longer_forms, written_as_initials
from linking.fit import gather
from linking.resolver import context_of, is_dateline, qualifier_of
from tests.test_cli import run_cli

pytestmark = pytest.mark.integration

KB = [
    {
        "id": "geonames:2988507",
        "name": "Paris",
        "types": ["city"],
        "prior": 2138551,
        "description": "city in Ile-de-France, France, population 2,138,551",
    },
    {
        "id": "geonames:4717560",
        "name": "Paris",
        "types": ["city"],
        "prior": 24171,
        "description": "city in Texas, United States, population 24,171",
    },
    {
        "id": "geonames:4250542",
        "name": "Springfield",
        "types": ["city"],
        "prior": 116565,
        "description": "city in Illinois, United States, population 116,565",
    },
    {
        "id": "geonames:4951788",
        "name": "Springfield",
        "types": ["city"],
        "prior": 153606,
        "description": "city in Massachusetts, United States, population 153,606",
    },
    {
        "id": "org:siemens",
        "name": "Siemens",
        "aliases": ["Siemens AG"],
        "types": ["Organization", "company"],
        "description": "German technology company",
        "prior": 1000,
    },
]


@pytest.fixture()
def kb(tmp_path):
    """The small KB in the database the settings name, and the linker the settings build for it."""
    settings = Settings(data_dir=tmp_path)
    _, sessions = open_db(settings.database_url)
    store = SQLKBStore(sessions)
    store.upsert([EntityIn(**e) for e in KB])
    return store, build_resolver(settings, store)


def test_context_window():
    text = "a " * 200 + "Paris" + " b" * 200
    ctx = context_of(text, 400, 405, width=20, reach=10)
    assert "Paris" in ctx and len(ctx) <= 40
    assert ctx.index("Paris") >= 8 and len(ctx) - ctx.index("Paris") - 5 >= 8  # context on both sides (cut at spaces)
    # a mention at the end of its cell still reaches past it, and one that crosses the cell's end is whole
    late_text = "a " * 209 + "Paris" + " b" * 200  # "Paris" at 418-423 crosses the end of the cell 400-420
    late = context_of(late_text, 418, 423, width=20, reach=10)
    assert late.index("Paris") >= 16 and len(late) - late.index("Paris") - 5 >= 8


def test_mentions_of_one_stretch_share_their_context():
    """Contexts sit on a fixed grid, so a document's mentions in one cell are encoded once."""
    text = "word " * 500
    same = {context_of(text, s, s + 4) for s in range(800, 1600, 5)}
    assert len(same) == 1
    assert context_of(text, 795, 799) != context_of(text, 800, 804)


def test_longer_forms_spell_out_a_mention_in_its_own_document():
    texts = [("Donald Trump", 0), ("Trump", 0), ("NYSE", 0), ("New York Stock Exchange", 0), ("Trump", 1)]
    mentions = [Mention(t, None, t, doc=d) for t, d in texts]
    assert longer_forms(mentions) == [[], [0], [3], [], []]
    # an acronym may leave out joining words and a leading "U.S."; its own initials never spell a lone word
    texts = [("U.S. Food and Drug Administration", 0), ("FDA", 0), ("Bank of England", 0), ("BoE", 0), ("Apple", 0)]
    mentions = [Mention(t, None, t, doc=d) for t, d in texts]
    assert longer_forms(mentions) == [[], [0], [], [2], []]
    assert initials(["u", "s", "food", "and", "drug", "administration"]) == {"usfada", "fda"}
    assert initials(["apple"]) == set()
    # a capitalised word is a name, not initials: "Hu" does not spell "Harvard University"
    texts = [("Harvard University", 0), ("Hu", 0), ("HU", 0), ("hu", 1), ("Harvard University", 1)]
    mentions = [Mention(t, None, t, doc=d) for t, d in texts]
    assert longer_forms(mentions) == [[], [], [], [4], []]  # "Hu" stands for "HU" (same words): neither


def test_initials_are_written_in_capitals_or_in_a_text_without_any():
    assert all(written_as_initials(t) for t in ("NASA", "BoE", "U.S.", "nasa", "FDA's"))
    assert not any(written_as_initials(t) for t in ("Hu", "La.", "Koh", "Sc", "Nasa"))


def test_a_capitalised_word_is_not_read_as_the_initials_of_a_name(kb):
    store, resolver = kb
    store.upsert(
        [
            EntityIn(id="Q65", name="Los Angeles", types=["city"], prior=9_900_000),
            EntityIn(id="Q1588", name="Louisiana", types=["state"], prior=4_600_000),  # "la": its AP abbreviation
            EntityIn(id="Q13371", name="Harvard University", types=["Organization"], prior=20_000),
        ]
    )
    text = "Floods hit Lafayette, La. on Monday. Hu said LA and HU were spared."
    la, hu, la_caps, hu_caps = resolver.link(
        [(text, [(22, 25, "LOC"), (37, 39, "PER"), (45, 47, "LOC"), (52, 54, "ORG")])]
    )[0]
    # The state ranks first, not the better-known city whose initials are LA (whether an abbreviation this short
    # links at all is the calibrated threshold's call).
    assert la.candidates[0].kb_id == "Q1588"
    assert hu.kb_id is None  # a surname the KB lacks, not Harvard University
    assert "Q65" in {c.kb_id for c in la_caps.candidates}  # written in capitals, initials find them
    assert hu_caps.candidates[0].kb_id == "Q13371"


def test_a_surname_links_to_the_person_named_in_full_earlier(kb):
    store, resolver = kb
    store.upsert(
        [
            EntityIn(id="Q100", name="Tom Grenville", types=["Person"]),
            EntityIn(id="Q200", name="Ada Grenville", types=["Person"]),
        ]
    )
    text = "Ada Grenville opened the meeting. Later that day, Grenville left for Paris."
    full, short = resolver.link([(text, [(0, 13, "PER"), (50, 59, "PER")])])[0]
    assert full.kb_id == "Q200"
    assert short.kb_id == "Q200"  # not the better-known Tom Grenville: the document says which one
    assert {c.kb_id for c in short.candidates} >= {"Q100", "Q200"}


def test_a_short_name_takes_the_entity_of_the_fuller_name_in_its_text(kb):
    store, resolver = kb
    store.upsert(
        [
            EntityIn(id="Q19837", name="Steve Jobs", types=["Person"], prior=50),
            EntityIn(id="Q-steven", name="Steven", aliases=["Steve"], types=["given name"], prior=5000),
            EntityIn(id="Q-jobs-film", name="Jobs", types=["film"], prior=5000),
            EntityIn(id="Q-cnn", name="CNN", types=["Organization"], prior=900),
            EntityIn(id="Q-cnn-films", name="CNN Films", types=["Organization"], prior=10),
        ]
    )
    text = "Steve Jobs opened the show. Later Jobs smiled, and Steve left. CNN Films filmed it for CNN."
    spans = [(0, 10, "PER"), (34, 38, "PER"), (51, 56, "PER"), (63, 72, "ORG"), (87, 90, "ORG")]
    full, jobs, steve, films, cnn = resolver.link([(text, spans)])[0]
    assert full.kb_id == "Q19837" and full.decision.reason is None
    for short in (jobs, steve):  # not the film or the given name, however well known
        assert short.kb_id == "Q19837" and short.decision.stage == "alias"
    assert films.kb_id == "Q-cnn-films"
    # Named exactly so, and an organisation: its own entity ranks first (with CNN Films close behind in this
    # tiny KB, whether it links is the calibrated threshold's call).
    assert cnn.candidates[0].kb_id == "Q-cnn" and cnn.decision.reason is None


def test_a_surname_whose_person_the_kb_lacks_is_nil_not_the_best_known_bearer(kb):
    store, resolver = kb
    store.upsert([EntityIn(id="Q-james-cook", name="James Cook", aliases=["Cook"], types=["Person"], prior=900)])
    text = "Tim Quillfeather said the plant would open. Quillfeather spoke in Paris. Cook sailed on."
    spans = [(0, 16, "PER"), (44, 56, "PER"), (73, 77, "PER")]
    alone = "Quillfeather spoke in Paris."
    full, short, cook = resolver.link([(text, spans)])[0]
    assert full.kb_id is None and short.kb_id is None and short.decision.reason == "unknown_person"
    assert cook.kb_id == "Q-james-cook" and cook.decision.reason is None  # no fuller name of its own in the text
    # given the span alone, the fuller name written in the text still says who it is
    (given,) = resolver.link([(text, [(44, 56, "PER")])])[0]
    assert given.kb_id is None and given.decision.reason == "unknown_person"
    (lone,) = resolver.link([(alone, [(0, 12, "PER")])])[0]
    assert lone.decision.reason is None  # no fuller name anywhere: the ranking decides alone
    renamed = text.replace("Tim Quillfeather", "James Cook").replace("Quillfeather", "Cook")
    spans = [(0, 10, "PER"), (38, 42, "PER"), (59, 63, "PER")]
    assert [lk.kb_id for lk in resolver.link([(renamed, spans)])[0]] == ["Q-james-cook"] * 3


def test_an_organisation_named_by_its_alias_keeps_its_link_beside_a_fuller_name_of_another(kb):
    store, resolver = kb
    store.upsert(
        [
            EntityIn(id="Q864407", name="The Home Depot", aliases=["Home Depot"], types=["Organization"], prior=90),
            EntityIn(id="Q5629392", name="Home Depot Supply", types=["Organization"], prior=10),
        ]
    )
    text = "Shares of Home Depot rose after Home Depot Supply was sold."
    spans = [(10, 20, "ORG"), (32, 49, "ORG")]
    short, unit = resolver.link([(text, spans)])[0]
    assert unit.kb_id == "Q5629392" and "Q5629392" in {c.kb_id for c in short.candidates}
    assert short.kb_id == "Q864407" and short.decision.reason is None  # its alias, not the unit's longer name


def test_links_have_candidates_scores_and_nil(kb):
    _, resolver = kb
    texts = [
        "Siemens AG reported higher quarterly profits.",
        "The new plant is in Paris, the French capital.",
        "Zorblaxian Quux was there.",
    ]
    items = [(texts[0], [(0, 10, "ORG")]), (texts[1], [(20, 25, "LOC")]), (texts[2], [(0, 15, "PER")])]
    (siemens,), (paris,), (unknown,) = resolver.link(items)
    assert siemens.kb_id == "org:siemens" and not siemens.nil
    assert paris.kb_id == "geonames:2988507"
    assert {c.kb_id for c in paris.candidates} >= {"geonames:2988507", "geonames:4717560"}
    assert paris.candidates[0].score >= paris.candidates[-1].score
    assert unknown.kb_id is None and unknown.nil  # nothing in the KB fits a made-up name


def test_a_qualifier_picks_the_place_it_names(kb):
    """A qualified "Paris, Texas" or "Springfield (Massachusetts)" goes to the place the qualifier names, not
    the better-known namesake; a qualified name the KB spells whole ("Springfield, Illinois") is found whole."""
    store, resolver = kb
    texts = [
        "Officials in Paris, Texas approved the budget.",
        "The storm hit Springfield (Massachusetts) overnight.",
        "He grew up in Paris, France.",
    ]
    items = [
        (t, [(t.index(n), t.index(n) + len(n), "LOC")])
        for t, n in zip(texts, ["Paris", "Springfield", "Paris"], strict=True)
    ]
    (texas,), (mass,), (france,) = resolver.link(items)
    assert texas.kb_id == "geonames:4717560" and mass.kb_id == "geonames:4951788"
    assert france.kb_id == "geonames:2988507"
    store.upsert([EntityIn(id="Q28515", name="Springfield, Illinois", types=["city"])])
    t = "Springfield, Illinois is the capital."
    [[whole]] = resolver.link([(t, [(0, 11, "LOC")])])
    assert {"Q28515", "geonames:4250542"} & {c.kb_id for c in whole.candidates[:2]}


def test_a_qualifier_links_to_the_region_its_place_lies_in(kb):
    """In "Paris, Texas" the qualifier is the state that Paris's entity lies in ("city in Texas"): it links to the
    place named exactly so, never to Texas City, which only a looser key finds and which the city around it pulls
    up (without the rule it does). A mention spelled "Texas City" keeps its own entity."""
    store, resolver = kb
    store.upsert(
        [
            EntityIn(id="geonames:4736286", name="Texas", types=["us_state"], prior=2_000_000,
                     description="state of the United States"),
            EntityIn(id="geonames:4736134", name="Texas City", types=["city"], prior=47_618,
                     description="city in Texas, United States, population 47,618"),
            EntityIn(id="geonames:4684888", name="Dallas", types=["city"], prior=1_300_000,
                     description="city in Texas, United States, population 1,300,092"),
        ]
    )  # fmt: skip
    t = "She grew up in Paris, Texas, before moving to Texas City near Dallas."
    spans = [(t.index(n), t.index(n) + len(n), "LOC") for n in ("Paris", "Texas", "Texas City", "Dallas")]
    paris, texas, city, dallas = resolver.link([(t, spans)])[0]
    assert paris.kb_id == "geonames:4717560"
    assert texas.kb_id == "geonames:4736286" and texas.decision.stage == "alias"
    assert texas.decision.reason == "qualifier" and texas.decision.margin >= 0
    assert texas.candidates[0].kb_id == "geonames:4736286"
    assert texas.candidates[0].score >= max(c.score for c in texas.candidates)  # the list stays in score order
    assert city.kb_id == "geonames:4736134" and city.decision.reason is None
    assert dallas.kb_id == "geonames:4684888"


def test_a_dateline_state_abbreviation_places_the_city(kb):
    """ "SPRINGFIELD, Ill. (AP)": the abbreviation spells out Illinois, so the smaller Springfield that lies in it
    wins over the better-known one in Massachusetts (without the rule it does not), and "Ill." finds the state
    by the abbreviation alone."""
    store, resolver = kb
    store.upsert(
        [
            EntityIn(id="geonames:4896861", name="Illinois", types=["us_state"], prior=12_800_000,
                     description="state of the United States"),
        ]
    )  # fmt: skip
    t = "SPRINGFIELD, Ill. (AP) — The city council approved the budget on Monday."
    springfield, ill = resolver.link([(t, [(0, 11, "LOC"), (13, 17, "LOC")])])[0]
    assert springfield.kb_id == "geonames:4250542"  # Illinois's, not Massachusetts's (prior 153,606)
    assert ill.candidates[0].kb_id == "geonames:4896861"


def test_a_dateline_city_the_ner_calls_a_person_links_by_its_state(kb):
    """ "JACKSON, Miss. (AP)" with the city labelled PER: the state after the comma is read as its qualifier, which
    lifts the type clash for the city that lies there; without a state, "Jackson" as PER is the actor."""
    store, resolver = kb
    store.upsert(
        [
            EntityIn(id="geonames:4431410", name="Jackson", types=["city"], prior=160_628,
                     description="city in Mississippi, United States, population 160,628"),
            EntityIn(id="Q172678", name="Samuel L. Jackson", types=["person"], prior=5000,
                     description="American actor"),
        ]
    )  # fmt: skip
    t = "JACKSON, Miss. (AP) — Jackson said the film would open in June."
    dateline, actor = resolver.link([(t, [(0, 7, "PER"), (t.index("Jackson said"), t.index(" said"), "PER")])])[0]
    assert dateline.kb_id == "geonames:4431410"
    assert actor.candidates and actor.candidates[0].kb_id == "Q172678"


def test_a_datelines_place_is_the_city_the_story_was_filed_from(kb):
    """ "WASHINGTON (AP) —" is the capital, not the far more populous state of that name, and "NEW YORK" the city
    its derived key "new york" finds, not the state (without the rule both are the states); the same word in a
    sentence is left to the reranker."""
    store, resolver = kb
    store.upsert(
        [
            EntityIn(id="geonames:5815135", name="Washington", types=["us_state"], prior=7_700_000,
                     description="state of the United States"),
            EntityIn(id="geonames:4140963", name="Washington", types=["city"], prior=689_545,
                     description="city in District of Columbia, United States, population 689,545"),
            EntityIn(id="geonames:5128638", name="New York", types=["us_state"], prior=27_680_366,
                     description="state of the United States"),
            EntityIn(id="geonames:5128581", name="New York City", types=["city"], prior=8_804_190,
                     description="city in New York, United States, population 8,804,190"),
        ]
    )  # fmt: skip
    filed = "WASHINGTON (AP) — The state of Washington sued the company.\nNEW YORK - Stocks fell."
    spans = [(0, 10, "LOC"), (filed.index("Washington sued"), filed.index(" sued"), "LOC")]
    spans.append((filed.index("NEW YORK"), filed.index(" - "), "LOC"))
    dateline, state, new_york = resolver.link([(filed, spans)])[0]
    assert dateline.kb_id == "geonames:4140963"
    assert dateline.decision is not None
    assert (dateline.decision.stage, dateline.decision.reason) == ("alias", "dateline")
    assert state.kb_id == "geonames:5815135" and (state.decision and state.decision.reason) != "dateline"
    assert new_york.kb_id == "geonames:5128581"


def test_a_dateline_is_a_line_opening_place_in_capitals_before_an_agency_or_a_dash():
    assert is_dateline("WASHINGTON (AP) — The", 0, 10)
    assert is_dateline("Headline\n  NASHVILLE, Tenn. (AP) -", 11, 20)
    assert is_dateline("LONDON - Shares fell", 0, 6)
    assert not is_dateline("Washington (AP) — The", 0, 10)  # not in capitals
    assert not is_dateline("In WASHINGTON (AP)", 3, 13)  # not where a line opens
    assert not is_dateline("WASHINGTON said on Monday", 0, 10)  # no agency or dash


def test_a_region_the_kb_gives_a_place_settles_its_qualifier(kb):
    """ "London, Ontario": the Canadian city's description names only its country, but its ``region`` attribute
    says Ontario, so the qualifier picks it over the far better-known London; and "Ontario" is the province, not
    the city of Ontario, California, though both are named exactly so."""
    store, resolver = kb
    store.upsert(
        [
            EntityIn(id="geonames:2643743", name="London", types=["city"], prior=8_961_989,
                     description="city in United Kingdom, population 8,961,989", attributes={"region": "England"}),
            EntityIn(id="geonames:6058560", name="London", types=["city"], prior=422_324,
                     description="city in Canada, population 422,324", attributes={"region": "Ontario"}),
            EntityIn(id="iso3166-2:CA-ON", name="Ontario", types=["province"], description="province of Canada"),
            EntityIn(id="geonames:5379439", name="Ontario", types=["city"], prior=175_265,
                     description="city in California, United States, population 175,265"),
        ]
    )  # fmt: skip
    t = "He was born in London, Ontario, and moved to Los Angeles."
    spans = [(t.index(n), t.index(n) + len(n), "LOC") for n in ("London", "Ontario")]
    london, ontario = resolver.link([(t, spans)])[0]
    assert london.kb_id == "geonames:6058560"
    assert ontario.kb_id == "iso3166-2:CA-ON" and ontario.decision.reason == "qualifier"
    t = "He was born in London, England, and moved to Los Angeles."
    [[england]] = resolver.link([(t, [(15, 21, "LOC")])])
    assert england.kb_id == "geonames:2643743"


def test_qualifiers_are_read_after_places_only():
    text = "Springfield, Illinois and Smith, John met Apple (company) staff in Valencia (Spain)."
    assert qualifier_of(text, 11, "LOC") == "Illinois"
    assert qualifier_of(text, 31, "PER") == ""  # "Smith, John" is not a place with a qualifier
    # a dateline's city the NER took for a person or an organisation: a state or country only
    dateline = "JACKSON, Miss. (AP) — ALBANY, N.Y. — Obama, Texas Governor Rick Perry and Gates, Washington"
    assert qualifier_of(dateline, 7, "PER") == "Miss."
    assert qualifier_of(dateline, dateline.index(", N.Y."), "ORG") == "N.Y."
    assert qualifier_of(dateline, dateline.index(", Texas"), "PER") == ""  # four capitalised words, no state
    assert qualifier_of(dateline, dateline.index(", Washington"), "PER") == "Washington"
    assert qualifier_of(text, 47, "ORG") == "company"
    assert qualifier_of(text, text.index(" (Spain)"), None) == "Spain"
    assert qualifier_of(text, 4, "LOC") == ""


def test_a_person_or_organisation_never_links_to_a_place(kb):
    """An ORG or PER mention never links to a place; an entity without types is neither favoured nor excluded."""
    store, resolver = kb
    store.upsert([EntityIn(id="geonames:1850144", name="Toyota", types=["city"], description="city in Japan")])
    t = "Toyota reported record profits. Paris and Toyota shares rose."
    links = resolver.link([(t, [(0, 6, "ORG"), (32, 37, "PER"), (42, 48, None)])])[0]
    assert links[0].nil and links[0].kb_id is None
    assert links[1].nil  # a person named Paris is not the city
    assert links[2].kb_id == "geonames:1850144"  # no label: nothing to clash with
    store.upsert([EntityIn(id="x:toyota", name="Toyota", description="Japanese carmaker")])  # no types
    [[toyota]] = resolver.link([(t, [(0, 6, "ORG")])])
    assert toyota.candidates[0].kb_id == "x:toyota"  # ranked first: not excluded (linked or NIL by its score)
    assert toyota.kb_id in (None, "x:toyota")


def test_a_company_named_like_a_person_links_to_the_company_not_to_the_bearer_of_the_surname(kb):
    """ "Siemens" as ORG is the company the KB names so, not Carl Wilhelm Siemens found by his surname, however the
    scores fall; as PER, with no person named exactly so, the scores still decide (the label may be wrong)."""
    store, resolver = kb
    founder = EntityIn(
        id="per:carl_wilhelm_siemens",
        name="Carl Wilhelm Siemens",
        types=["person"],
        description="German-British engineer; brother of Werner von Siemens",
        prior=50_000,  # better known than the company here: popularity would pick him
    )
    store.upsert([founder])
    t = "Angela Merkel met the European Union budget team with Siemens."
    start = t.index("Siemens")
    [[as_org]] = resolver.link([(t, [(start, start + 7, "ORG")])])
    assert as_org.kb_id == "org:siemens"
    assert "per:carl_wilhelm_siemens" not in [c.kb_id for c in as_org.candidates if c.score > 0]
    [[as_per]] = resolver.link([(t, [(start, start + 7, "PER")])])
    assert {c.kb_id for c in as_per.candidates} >= {"org:siemens", "per:carl_wilhelm_siemens"}
    assert all(c.score > 0 for c in as_per.candidates if c.kb_id == "per:carl_wilhelm_siemens")


def test_a_place_named_after_a_person_links_to_the_place_not_to_the_bearer_of_the_surname(kb):
    """ "in Washington" as LOC is the city, not George Washington found by his surname, even where he is better
    known and the text speaks of presidents; where the document names him in full, the label may be wrong and the
    scores decide."""
    store, resolver = kb
    store.upsert(
        [
            EntityIn(
                id="per:george_washington",
                name="George Washington",
                types=["person"],
                description="first president of the United States",
                prior=5_000_000,  # better known than the city here: popularity would pick him
            ),
            EntityIn(
                id="geonames:4140963",
                name="Washington",
                types=["city"],
                description="city in District of Columbia, United States, population 689,545",
                prior=689_545,
            ),
        ]
    )
    t = "Jimmy Carter, the former president, had never worked in Washington before."
    start = t.index("Washington")
    [[place]] = resolver.link([(t, [(start, start + 10, "LOC")])])
    assert place.kb_id == "geonames:4140963"
    assert "per:george_washington" not in [c.kb_id for c in place.candidates if c.score > 0]
    named = "George Washington crossed the Delaware. Washington later became president."
    at = named.rindex("Washington")
    [full, spelled] = resolver.link([(named, [(0, 17, "PER"), (at, at + 10, "LOC")])])[0]
    assert full.kb_id == "per:george_washington"
    assert any(c.kb_id == "per:george_washington" and c.score > 0 for c in spelled.candidates)


def test_a_given_first_name_follows_the_full_name_the_text_writes_out(kb):
    """Only "Taylor" is a given span; the headline writes "Taylor Swift". The span links to her, not to the
    better-known Taylor the KB has, and the answer holds one link per given span. Alone, the context decides."""
    store, resolver = kb
    store.upsert(
        [
            EntityIn(
                id="per:richard_taylor",
                name="Richard E. Taylor",
                aliases=["Taylor"],
                types=["person"],
                description="Canadian physicist, Nobel Prize in Physics",
                prior=900_000,
            ),
            EntityIn(id="per:taylor_swift", name="Taylor Swift", types=["person"], description="American singer"),
        ]
    )
    t = "Taylor Swift's new album is out. Fans say Taylor sings about her exes on the second track."
    at = t.index("Taylor sings")
    [[link]] = resolver.link([(t, [(at, at + 6, "PER")])])
    assert link.kb_id == "per:taylor_swift"
    # No fuller name written: nothing to follow, the scores alone decide, and both stay on the list.
    [[alone]] = resolver.link([(t[at:], [(0, 6, "PER")])])
    assert alone.decision.reason is None
    assert {c.kb_id for c in alone.candidates} >= {"per:richard_taylor", "per:taylor_swift"}


def test_a_club_named_after_its_city_is_the_club_as_an_organisation_and_the_city_as_a_place(kb):
    """News calls a football club by its city ("Chelsea beat Liverpool"): the KB's "Chelsea F.C." is found by
    its name without the designator, and an ORG mention takes it; a LOC mention keeps the place."""
    store, resolver = kb
    store.upsert(
        [
            EntityIn(id="org:chelsea_fc", name="Chelsea F.C.", types=["organization"], description="football club"),
            EntityIn(
                id="geonames:2653265",
                name="Chelsea",
                types=["city"],
                prior=20_000,
                description="district in London, United Kingdom",
            ),
        ]
    )
    t = "Chelsea beat Arsenal 2-1 on Saturday. House prices in Chelsea rose again."
    late = t.rindex("Chelsea")
    [[club, place]] = resolver.link([(t, [(0, 7, "ORG"), (late, late + 7, "LOC")])])
    assert club.kb_id == "org:chelsea_fc" and club.decision.stage == "alias"
    assert place.kb_id == "geonames:2653265"


def test_the_type_sanity_benchmark_counts_links_whose_types_clash_with_the_label(kb, tmp_path):
    from eval.kb_sets import type_sanity

    store, resolver = kb
    store.upsert([EntityIn(id="per:paris", name="Paris", types=["person"], description="Trojan prince")])
    rows = [
        {"text": "Siemens cut jobs.", "mentions": [{"span": [0, 7], "label": "ORG", "text": "Siemens"}]},
        {"text": "Paris, Texas is small.", "mentions": [{"span": [0, 5], "label": "LOC", "text": "Paris"}]},
        {"text": "Paris took Helen to Troy.", "mentions": [{"span": [0, 5], "label": "ORG", "text": "Paris"}]},
    ]
    path = tmp_path / "sanity.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    report = type_sanity(resolver, path)
    assert report["mentions"] == 3
    by_mention = {(o["mention"], o["label"]): o for o in report["links"]}
    assert by_mention["Siemens", "ORG"]["kb_id"] == "org:siemens" and not by_mention["Siemens", "ORG"]["clash"]
    assert by_mention["Paris", "LOC"]["kb_id"] == "geonames:4717560"
    org_paris = by_mention["Paris", "ORG"]
    assert org_paris["clash"] == (org_paris["kb_id"] is not None)  # only a person or places named Paris
    assert report["violations"] == sum(o["clash"] for o in report["links"])
    assert report["linked"] == sum(o["kb_id"] is not None for o in report["links"])


def test_a_kb_with_names_only_links_with_the_same_code(tmp_path):
    """No types, no aliases, no priors, no redirects: candidates come from names and meaning, nothing is excluded."""
    settings = Settings(data_dir=tmp_path)
    _, sessions = open_db(settings.database_url)
    store = SQLKBStore(sessions)
    store.upsert([EntityIn(id="Q1", name="Marisol Quenby"), EntityIn(id="Q2", name="Dorrance Vale")])
    resolver = build_resolver(settings, store)
    text = "Marisol Quenby spoke first; later Quenby thanked Dorrance Vale."
    links = resolver.link([(text, [(0, 14, "PER"), (34, 40, "PER"), (49, 62, None)])])[0]
    assert [lk.kb_id for lk in links] == ["Q1", "Q1", "Q2"]


def test_entity_added_later_is_linkable_without_rebuild(kb, tmp_path):
    store, resolver = kb
    text = "Qarthville is a town."
    assert resolver.link([(text, [(0, 10, "LOC")])])[0][0].nil
    base_before = resolver.index.base_version
    store.upsert(
        [EntityIn(id="x:qarth", name="Qarthville", types=["city"], description="town in Westeros", prior=5000)]
    )
    link = resolver.link([(text, [(0, 10, "LOC")])])[0][0]
    assert link.kb_id == "x:qarth"
    assert resolver.index.base_version == base_before  # served from the delta index, no full rebuild


def test_pipeline_links_and_overrides_apply_on_the_next_request(kb, local_ner, tmp_path):
    _, resolver = kb
    pipeline = Pipeline(settings=Settings(data_dir=tmp_path), extractor=local_ner, resolver=resolver)
    text = "Angela Merkel visited Siemens in Paris."
    first = {e.span.text: e for e in pipeline.extract(text)[0].entities}
    assert first["Paris"].link.kb_id == "geonames:2988507"
    assert first["Angela Merkel"].link is not None and first["Angela Merkel"].link.nil
    rules = pipeline.components.overrides
    rules.save(OverrideIn(pattern="Paris", action="force_link", kb_id="geonames:4717560"), actor="test")
    rules.save(OverrideIn(pattern="Angela Merkel", action="redact"), actor="test")
    second = {e.span.start: e for e in pipeline.extract(text)[0].entities}
    assert second[33].link.kb_id == "geonames:4717560" and second[33].source == "override"
    assert second[33].link.name == "Paris"  # a forced link names its entity like any other
    assert second[0].span.text == "█" * len("Angela Merkel") and second[0].redacted


def test_the_article_sets_score_each_expected_link_of_each_text(kb, local_ner, tmp_path):
    """``eval.kb_sets`` reads one article (``text``) or several (``texts``), extracts and links them for real, and
    counts a mention right when its link is the expected one (a mention the NER misses is "not found")."""
    from eval.kb_sets import news

    store, resolver = kb
    store.upsert([EntityIn(id="org:chelsea_fc", name="Chelsea F.C.", types=["organization"], description="club")])
    pipeline = Pipeline(settings=Settings(data_dir=tmp_path), extractor=local_ner, resolver=resolver)
    one = {"text": "Angela Merkel visited Siemens in Paris.", "expected": {"Paris": "geonames:2988507", "Berlin": None}}
    two = {"texts": [{"text": "Chelsea beat Arsenal 2-1 on Saturday.", "expected": {"Chelsea": "org:chelsea_fc"}}, one]}
    (tmp_path / "one.json").write_text(json.dumps(one))
    (tmp_path / "two.json").write_text(json.dumps(two))
    single = news(pipeline, tmp_path / "one.json")
    assert single["links"]["Paris"] == {"expected": "geonames:2988507", "got": "geonames:2988507"}
    assert single["links"]["Berlin"]["got"] == "not found" and (single["right"], single["expected"]) == (1, 2)
    several = news(pipeline, tmp_path / "two.json")
    assert several["links"]["0: Chelsea"] == {"expected": "org:chelsea_fc", "got": "org:chelsea_fc"}
    assert set(several["links"]) == {"0: Chelsea", "1: Paris", "1: Berlin"} and several["right"] == 2


def test_cli_kb_load_and_link(tmp_path):
    kb_file = tmp_path / "kb.jsonl"
    kb_file.write_text("\n".join(json.dumps(e) for e in KB) + "\n")
    env_dir = tmp_path / "state"
    for _ in range(2):  # idempotent
        proc = run_cli("kb", "load", str(kb_file), env={"HNER_DATA_DIR": str(env_dir)})
        assert proc.returncode == 0, proc.stderr
        assert json.loads(proc.stdout.strip().splitlines()[-1])["entities"] == len(KB)
    links_in = tmp_path / "in.jsonl"
    text = "Springfield, Illinois is the capital of the state."
    links_in.write_text(
        json.dumps({"id": 1, "text": text, "spans": [{"start": 0, "end": 11, "label": "LOC"}]})
        + "\n"
        + json.dumps({"id": 2, "text": "x", "spans": [{"start": 0, "end": 9}]})
        + "\n"
    )
    proc = run_cli("link", "--file", str(links_in), env={"HNER_DATA_DIR": str(env_dir)})
    assert proc.returncode == 1  # line 2 has a span outside its text
    first, second = (json.loads(line) for line in proc.stdout.splitlines())
    assert first["id"] == 1 and first["links"][0]["kb_id"] == "geonames:4250542"
    assert first["links"][0]["candidates"][0]["kb_id"] == "geonames:4250542"
    assert "error" in second and "line 2" in second["error"]
    proc = run_cli("extract", "Siemens opened an office in Paris.", env={"HNER_DATA_DIR": str(env_dir)})
    ents = json.loads(proc.stdout)["entities"]
    assert all("link" in e for e in ents) and any(e["link"]["kb_id"] == "org:siemens" for e in ents)


def test_eval_run_reports_linking_metrics_when_the_dataset_has_links(tmp_path):
    from eval.harness import EvalConfig, run_eval
    from tests.fakes import FakeExtractor

    settings = Settings(data_dir=tmp_path / "state")
    _, sessions = open_db(settings.database_url)
    SQLKBStore(sessions).upsert([EntityIn(**e) for e in KB])
    docs = [
        ("Siemens AG reported higher profits.", [0, 10], "org:siemens", "Q43229"),
        ("The plant is in Paris, France.", [16, 21], "geonames:2988507", "Q27096213"),
    ]
    path = tmp_path / "tiny.benchmark.jsonl"
    path.write_text(
        "".join(
            json.dumps(
                {
                    "id": i,
                    "text": t,
                    "evaluation_span": [0, len(t)],
                    "labels": [{"id": 0, "span": span, "entity_id": kb_id, "name": "", "type": typ}],
                }
            )
            + "\n"
            for i, (t, span, kb_id, typ) in enumerate(docs)
        )
    )
    local = FakeExtractor([("Siemens AG", "ORG", 0.99), ("Paris", "LOC", 0.99)])
    report = run_eval(
        EvalConfig(data=path, fmt=None, strategies=["local"], thresholds=[], out=tmp_path), settings, extractor=local
    )
    lk = report["linking"]
    assert lk["known"] == 2 and lk["candidate_recall"] == 1.0
    assert lk["gold_span_accuracy"] == 1.0 and lk["e2e_f1"] == 1.0


def test_links_are_the_same_for_a_text_alone_and_in_a_batch_of_32(kb):
    _, resolver = kb
    texts = [f"Siemens AG opened office {i} in Paris and another in Springfield, Illinois." for i in range(32)]
    texts[7] = "The plant near Paris, Texas supplies Siemens in Springfield."
    items = [(t, [(m.start(), m.end(), None) for m in re.finditer(r"Siemens|Paris|Springfield", t)]) for t in texts]
    alone = resolver.link([items[7]])[0]
    batched = resolver.link(items)[7]
    assert [link.model_dump() for link in alone] == [link.model_dump() for link in batched]


def test_spans_the_ner_found_are_judged_by_their_own_threshold_and_given_spans_by_the_other(kb, tmp_path, local_ner):
    """``/v1/link`` (spans given) and ``/v1/extract`` (spans found) link the same "Paris" with the same score,
    but a found span is NIL below the threshold for found spans, which the end-to-end fit sets higher."""
    _, resolver = kb
    text = "The new plant is in Paris, the French capital."
    [[given]] = resolver.link([(text, [(20, 25, "LOC")])])
    assert given.kb_id == "geonames:2988507" and given.score >= resolver.reranker.found_threshold  # none set: same
    kept = resolver.reranker
    strict = resolver.reranker.with_thresholds(found=given.score + 0.001)
    assert strict.digest != kept.digest  # a cached result of the other threshold is never served
    resolver = resolver.reranked_by(strict)
    assert resolver.version() != kb[1].version() and kb[1].reranker is kept  # a new resolver; the first as it was
    assert resolver.fresh is kb[1].fresh and resolver.records is kb[1].records  # caches no reranker changes
    [[again]] = resolver.link([(text, [(20, 25, "LOC")])])
    [[found]] = resolver.link([(text, [(20, 25, "LOC")])], detected=True)
    assert again.kb_id == "geonames:2988507" and found.kb_id is None and found.nil
    assert found.score == again.score and found.candidates == again.candidates  # the same ranking, another cut
    pipeline = Pipeline(settings=Settings(data_dir=tmp_path), extractor=local_ner, resolver=resolver)
    [extracted] = pipeline.extract(text, link=True)
    paris = next(e for e in extracted.entities if e.span.text == "Paris")
    assert paris.link is not None and paris.link.kb_id is None  # found by the NER: the stricter cut
    [[linked]] = run_sync(pipeline.alink([(text, [(20, 25, "LOC")])]))
    assert linked.link is not None and linked.link.kb_id == "geonames:2988507"  # given: the other one


def test_an_abbreviation_its_text_defines_links_as_the_name_it_stands_for(kb):
    store, resolver = kb
    store.upsert(
        [
            EntityIn(
                id="Q-ashland", name="Ashland Inc.", aliases=["Ashland Oil Inc"], types=["Organization"], prior=50
            ),
            EntityIn(id="Q-ash-band", name="ASH", types=["Organization"], prior=400),  # a namesake of the letters
        ]
    )
    text = "Ashland Oil Inc (ASH) said it would buy back stock. ASH shares rose, and ASH said so."
    spans = [(0, 15, "ORG"), (17, 20, "ORG"), (52, 55, "ORG"), (73, 76, "MISC")]
    full, *short = resolver.link([(text, spans)])[0]
    assert full.kb_id == "Q-ashland"
    for s in short:  # every use, whatever its label, and not the organisation named exactly so
        assert s.kb_id == "Q-ashland" and s.decision.reason == "longer_form"
    (alone,) = resolver.link([("ASH said so.", [(0, 3, "ORG")])])[0]
    assert alone.kb_id == "Q-ash-band"  # undefined, the letters are the namesake's
    unknown = "Ashquill Holdings Inc (ASH) said it would buy back stock. ASH rose."
    spans = [(0, 21, "ORG"), (23, 26, "ORG"), (58, 61, "ORG")]
    assert [unknown[s:e] for s, e, _ in spans] == ["Ashquill Holdings Inc", "ASH", "ASH"]
    full, *short = resolver.link([(unknown, spans)])[0]
    assert full.kb_id is None
    assert all(s.kb_id is None and s.decision.reason == "unknown_abbreviation" for s in short)


def test_training_reads_a_text_as_the_service_does_with_its_abbreviations(kb):
    """Gold mentions gathered for fitting the reranker carry the abbreviations their text defines, so the
    abbreviation's candidates hold the name's entity (found through the document) as they do when served."""
    store, resolver = kb
    store.upsert([EntityIn(id="Q-ashland", name="Ashland Inc.", aliases=["Ashland Oil Inc"], types=["Organization"])])
    text = "Ashland Oil Inc (ASH) said it would buy back stock."
    gathered = gather(resolver, [(text, 0, 15, "ORG", "Q-ashland"), (text, 17, 20, "ORG", "Q-ashland")])
    assert [m.expands for m in gathered.mentions] == ["", "Ashland Oil Inc"]
    assert [m.doc for m in gathered.mentions] == [0, 0]
    assert any(c.kb_id == "Q-ashland" and c.doc_hit for c in gathered.cands[1])
