"""A place written as another's qualifier takes the region it names exactly (``hold_qualifiers``), on hand-made
ranked lists: when it moves a link, and every case where it must not."""

from kb.records import EntityRecord
from linking.candidates import Mention
from linking.document import hold_qualifiers
from linking.rerank import Scored, qualifier_fit


def _e(kb_id: str, name: str, kind: str, description: str = "") -> EntityRecord:
    return EntityRecord(id=kb_id, name=name, types=[kind], description=description, prior=1.0)


ENTITIES = {
    "paris_tx": _e("paris_tx", "Paris", "city", "city in Texas, United States"),
    "paris_fr": _e("paris_fr", "Paris", "city", "city in Ile-de-France, France"),
    "texas": _e("texas", "Texas", "us_state", "state of the United States"),
    "texas_city": _e("texas_city", "Texas City", "city", "city in Texas, United States"),
    "texas_band": _e("texas_band", "Texas", "band", "Scottish rock band"),
    "london_on": EntityRecord("london_on", "London", ["city"], "city in Canada", 1.0, region="Ontario"),
    "london_uk": EntityRecord("london_uk", "London", ["city"], "city in United Kingdom", 1.0, region="England"),
    "ontario": _e("ontario", "Ontario", "province", "province of Canada"),
    "ontario_ca": _e("ontario_ca", "Ontario", "city", "city in California, United States"),
    "nyc": _e("nyc", "New York City", "city", "city in New York, United States"),
    "ny": _e("ny", "New York", "us_state", "state of the United States"),
}
THRESHOLD = 0.1


def _place(text: str, qualifier: str = "", doc: int = 0, label: str | None = "LOC") -> Mention:
    return Mention(text, label, text, doc=doc, qualifier=qualifier)


def _ranked(*pairs: tuple[str, float]) -> list[Scored]:
    return [Scored(k, p) for k, p in pairs]


def _run(mentions, scored, named):
    return hold_qualifiers(mentions, scored, named, ENTITIES, THRESHOLD)


def test_the_qualifier_takes_the_region_it_names_with_at_least_the_displaced_probability():
    mentions = [_place("Paris", "Texas"), _place("Texas"), _place("Texas")]
    texas = _ranked(("texas_city", 0.54), ("texas", 0.46))
    scored = [_ranked(("paris_tx", 0.65), ("paris_fr", 0.43)), texas, texas]
    out, held = _run(mentions, scored, [{"paris_tx", "paris_fr"}, {"texas"}, {"texas"}])
    assert held == [False, True, True]  # every mention of the name in the document follows
    assert out[1] == [Scored("texas", 0.54), Scored("texas_city", 0.54)] == out[2]
    assert out[0] == scored[0]


def test_nothing_moves_where_the_qualified_place_does_not_lie_in_it():
    mentions = [_place("Paris", "Texas"), _place("Texas")]
    texas = _ranked(("texas_city", 0.54), ("texas", 0.46))
    named = [{"paris_fr"}, {"texas"}]
    # Paris, France's entity names no Texas ("Los Angeles, Orange" is a list, not a qualifier)
    france = [_ranked(("paris_fr", 0.7)), texas]
    assert _run(mentions, france, named) == (france, [False] * 2)
    # Paris, Texas is below the threshold: its link is NIL, so it says nothing of the qualifier
    low = [_ranked(("paris_tx", 0.05)), texas]
    assert _run(mentions, low, named) == (low, [False] * 2)


def test_nothing_moves_in_another_document_or_for_another_label():
    texas = _ranked(("texas_city", 0.54), ("texas", 0.46))
    paris = _ranked(("paris_tx", 0.65))
    named = [{"paris_tx"}, {"texas"}]
    other_doc = [_place("Paris", "Texas", doc=0), _place("Texas", doc=1)]
    assert _run(other_doc, [paris, texas], named)[1] == [False, False]
    as_org = [_place("Paris", "Texas"), _place("Texas", label="ORG")]
    assert _run(as_org, [paris, texas], named)[1] == [False, False]


def test_only_a_place_named_exactly_with_a_probability_can_take_the_link():
    mentions = [_place("Paris", "Texas"), _place("Texas")]
    paris = _ranked(("paris_tx", 0.65))
    # found only by a looser key (not in ``named``): no exact place to move to
    texas = _ranked(("texas_city", 0.54), ("texas", 0.46))
    assert _run(mentions, [paris, texas], [{"paris_tx"}, set()])[1] == [False, False]
    # named exactly, but not a place (the band), or ruled out (probability 0)
    band = _ranked(("texas_city", 0.54), ("texas_band", 0.3), ("texas", 0.0))
    assert _run(mentions, [paris, band], [{"paris_tx"}, {"texas_band", "texas"}])[1] == [False, False]
    # already first: nothing to move
    first = _ranked(("texas", 0.6), ("texas_city", 0.3))
    assert _run(mentions, [paris, first], [{"paris_tx"}, {"texas"}]) == ([paris, first], [False, False])


def test_a_region_comes_before_a_city_of_its_name_and_the_region_attribute_counts():
    """ "London, Ontario": the Canadian city says it lies in Ontario by its region, and the province of Ontario
    comes before the city of Ontario, California, though both are named exactly."""
    mentions = [_place("London", "Ontario"), _place("Ontario")]
    scored = [_ranked(("london_on", 0.6), ("london_uk", 0.3)), _ranked(("ontario_ca", 0.5), ("ontario", 0.4))]
    out, held = _run(mentions, scored, [{"london_on", "london_uk"}, {"ontario_ca", "ontario"}])
    assert held == [False, True] and out[1] == [Scored("ontario", 0.5), Scored("ontario_ca", 0.5)]
    # London, England's entity does not lie in Ontario: nothing moves
    uk = [_ranked(("london_uk", 0.6)), scored[1]]
    assert _run(mentions, uk, [{"london_uk"}, {"ontario_ca", "ontario"}]) == (uk, [False, False])


def test_a_place_with_a_qualifier_of_its_own_does_not_follow():
    """ "New York, New York": the first is the city its qualifier places in the state, and stays the city."""
    mentions = [_place("New York", "New York"), _place("New York")]
    both = _ranked(("nyc", 0.6), ("ny", 0.3))
    out, held = _run(mentions, [both, both], [{"nyc", "ny"}, {"nyc", "ny"}])
    assert held == [False, True] and out[0] == both and out[1][0].kb_id == "ny"


def test_a_qualifier_fits_what_lies_in_it_never_its_own_namesake():
    """ "Springfield, Illinois" fits the city in Illinois and the entity named so whole; in "the mayor of
    Quuxville in Paris" the qualifier is Paris, and Paris itself is no place that lies in Paris."""
    illinois = _e("spi", "Springfield", "city", "city in Illinois, United States")
    whole = _e("spw", "Springfield, Illinois", "city")
    paris = ENTITIES["paris_fr"]
    assert qualifier_fit("Illinois", illinois, "Springfield") == 1.0
    assert qualifier_fit("Illinois", whole, "Springfield") == 1.0
    assert qualifier_fit("Paris", paris, "Quuxville") == 0.0
    assert qualifier_fit("Ontario", ENTITIES["london_on"], "London") == 1.0  # by its region
    assert qualifier_fit("Ontario", ENTITIES["london_uk"], "London") == 0.0


DATELINE = {
    "portland_or": _e("portland_or", "Portland", "city", "city in Oregon, United States"),
    "orleans": _e("orleans", "Orléans", "city", "city in France"),  # whose code "ORE" is an alias
    "oregon": _e("oregon", "Oregon", "us_state", "state of the United States"),
    "lafayette_la": _e("lafayette_la", "Lafayette", "city", "city in Louisiana, United States"),
    "laos": _e("laos", "Laos", "country", "country in Asia"),
    "louisiana": _e("louisiana", "Louisiana", "us_state", "state of the United States"),
    "los_angeles": _e("los_angeles", "Los Angeles", "city", "city in California, United States"),
}


def test_a_state_as_datelines_abbreviate_it_fits_what_lies_in_it():
    """ "Springfield, Ill.", "Columbus, Ind.": the abbreviation stands for the state's name; a two-letter code
    of the same state is never taken for it ("in" would fit every "city in ...")."""
    springfield = _e("spi", "Springfield", "city", "city in Illinois, United States")
    assert qualifier_fit("Ill.", springfield, "Springfield") == 1.0
    assert qualifier_fit("Ill.", ENTITIES["paris_tx"], "Paris") == 0.0
    assert qualifier_fit("Ore.", DATELINE["portland_or"], "Portland") == 1.0
    # "Ind." is Indiana's, and its code "IN" is not spelled out: a city in Ohio does not fit
    assert qualifier_fit("Ind.", _e("x", "Columbus", "city", "city in Ohio, United States"), "Columbus") == 0.0
    assert qualifier_fit("Ind.", _e("y", "Columbus", "city", "city in Indiana, United States"), "Columbus") == 1.0
    assert qualifier_fit("N.Y.", ENTITIES["nyc"], "New York City") == 1.0


def test_an_abbreviated_state_takes_the_state_it_spells_out_before_a_place_it_names():
    """ "Portland, Ore.": Orléans is named exactly by "ORE", Oregon only found by the state's abbreviation; the
    state Portland lies in takes the link."""
    mentions = [_place("Portland", "Ore."), _place("Ore.")]
    scored = [_ranked(("portland_or", 0.9)), _ranked(("orleans", 0.2), ("oregon", 0.15))]
    out, held = hold_qualifiers(mentions, scored, [{"portland_or"}, {"orleans"}], DATELINE, THRESHOLD)
    assert held == [False, True] and out[1] == [Scored("oregon", 0.2), Scored("orleans", 0.2)]


def test_the_region_its_places_lie_in_comes_first_and_a_news_agency_is_no_qualifier():
    """ "LAFAYETTE, La. (AP)": "(AP)" fits none of the state's candidates, so it does not keep "La." from
    following; Laos and Louisiana are both regions named exactly, and Lafayette lies in Louisiana."""
    mentions = [_place("LAFAYETTE", "La."), _place("La.", "AP")]
    la = _ranked(("los_angeles", 0.08), ("laos", 0.079), ("louisiana", 0.004))
    named = [{"lafayette_la"}, {"los_angeles", "laos", "louisiana"}]
    out, held = hold_qualifiers(mentions, [_ranked(("lafayette_la", 0.75)), la], named, DATELINE, THRESHOLD)
    assert held == [False, True] and out[1][0] == Scored("louisiana", 0.08)
