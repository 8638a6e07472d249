"""Names of lower-cased Wikipedia titles as a reader expects them: the spelling of the vital articles' lead
paragraphs where they mention the title, else capitalisation rules (the bundled KB build that uses both is
tested in ``test_vital``)."""

from kb.casing import cased, casings, written_lower
from kb.vital import lead_paragraphs


def test_rules_for_names_without_a_spelling_in_the_text():
    assert cased("henry iii") == "Henry III" and cased("apple ii series") == "Apple II Series"
    assert cased("malcolm x") == "Malcolm X" and cased("xi jinping") == "Xi Jinping"  # a first word is no numeral
    assert cased("harley-davidson") == "Harley-Davidson" and cased("direct-to-consumer") == "Direct-to-Consumer"
    assert cased("mcdonald's") == "McDonald's" and cased("o'brien") == "O'Brien"
    assert cased("u.s. steel") == "U.S. Steel" and cased("bank of america") == "Bank of America"
    assert cased("the who") == "The Who"


def test_acronyms_and_club_designators_are_written_in_capitals():
    assert cased("siemens plm software") == "Siemens PLM Software" and cased("hsbc") == "HSBC"
    assert cased("bbc one") == "BBC One" and cased("ngc 246") == "NGC 246"  # a short word with no vowel
    assert cased("lytham st annes") == "Lytham St Annes" and cased("dr. martens") == "Dr. Martens"  # abbreviations
    assert cased("rhythm and blues") == "Rhythm and Blues"  # "y" is a vowel
    assert cased("fc barcelona") == "FC Barcelona" and cased("afc ajax") == "AFC Ajax"
    assert cased("sevilla fc") == "Sevilla FC" and cased("ac omonia") == "AC Omonia"
    assert cased("doing business as") == "Doing Business As"  # a front-only designator elsewhere is a word
    assert cased("cadbury plc") == "Cadbury plc" and cased("vfb stuttgart") == "VfB Stuttgart"


def test_the_text_spells_a_title_by_its_most_frequent_capitalised_form():
    text = [
        "KwaZulu-Natal is a province. The Who played. The WHO warned. LL Cool J rapped.",
        "In KwaZulu-Natal, the who of it. Kwazulu-natal once.",
    ]
    known = casings(text, {"kwazulu-natal", "the who", "ll cool j", "absent title"})
    assert known["kwazulu-natal"] == "KwaZulu-Natal"
    assert known["the who"] == "The Who"  # "WHO" in capitals is another name's acronym
    assert known["ll cool j"] == "LL Cool J"
    assert "absent title" not in known
    assert cased("kwazulu-natal", known) == "KwaZulu-Natal" and cased("absent title", known) == "Absent Title"


def test_the_vital_lead_paragraphs_spell_titles_that_have_no_article_of_their_own():
    known = casings(lead_paragraphs(), {"kwazulu-natal", "henry iii", "iphone", "ipod"})
    assert known.get("kwazulu-natal") == "KwaZulu-Natal"
    assert known.get("iphone") == "iPhone" and known.get("ipod") == "iPod"  # camel case, never "IPhone"


def test_a_brand_written_in_camel_case_keeps_its_spelling():
    known = casings(["Apple sold the iPhone and the iPod. The iphone failed."], {"iphone", "ipod", "imac"})
    assert known == {"iphone": "iPhone", "ipod": "iPod"}


def test_a_name_the_text_writes_in_lower_case_inside_sentences_is_a_common_noun():
    text = [
        "Electricity powers homes. They studied electricity and civil society, and electricity again.",
        "Electricity Board is a name. The BBC reported on the Buddha, and Timur ruled; a timur is a variant.",
        "He met the Buddha. Civil Society is a journal, and civil society is a sphere.",
    ]
    common = written_lower(text, {"electricity", "civil society", "bbc", "the buddha", "timur", "absent"})
    assert common == {"electricity", "civil society"}  # "the Buddha" is cased by "Buddha"; Timur is a tie
