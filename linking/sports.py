"""Teams named after their place: in a report on a match, "England" is the national rugby side and "Ohio State"
the college's football team, not the country or the university. Wikipedia names such teams by the place and the
sport ("England national rugby union team", "Ohio State Buckeyes football"), so a place's teams can be looked up
by the names the sports of its context give, and told apart from other things that begin with the place's name.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import TYPE_CHECKING

from kb.keys import normalize

if TYPE_CHECKING:
    from linking.candidates import Mention

# A word of the context → the sports it names, as team names spell them.
SPORTS = {
    "rugby": ("rugby union", "rugby league"),
    "football": ("association football", "football"),
    "soccer": ("association football",),
    "cricket": ("cricket",),
    "hockey": ("ice hockey", "field hockey"),
    "basketball": ("basketball",),
    "baseball": ("baseball",),
    "volleyball": ("volleyball",),
    "handball": ("handball",),
}
# Words that say the text reports a game, whatever the sport.
_GAME = frozenset(
    ["match", "matches", "season", "coach", "tournament", "championship", "league", "scored", "touchdown", "innings",
     "quarterback", "playoff", "playoffs", "squad", "fixture", "world cup", "six nations"]
)  # fmt: skip
_WORD = re.compile(r"[a-z]+(?: (?:cup|nations))?")
# What the rest of a team's name holds after its place: the sport (a word of ``SPORTS``), or "team"/"club".
_SPORT = re.compile(r"\b(?:" + "|".join(SPORTS) + r")\b")
_TEAM = re.compile(r"\b(?:team|club|" + "|".join(SPORTS) + r")\b")


# Words before a name that make it a place rather than a side: "In Spain, Barcelona won", "fans from England".
LOCATIVE = frozenset(["in", "at", "from", "to", "into", "near", "across", "throughout", "outside", "inside", "around"])
_LAST_WORD = re.compile(r"([A-Za-z]+)\W*$")


def located(before: str) -> bool:
    """Whether the text right before a name ends with a word that places it ("... In", "fans from")."""
    found = _LAST_WORD.search(before[-20:])
    return found is not None and found.group(1).lower() in LOCATIVE


def team_context(mention: Mention) -> bool:
    """Whether a mention may name a team: a place, an organisation or unlabelled, and not placed by a preposition."""
    return mention.label in (None, "LOC", "ORG") and not mention.located


@lru_cache(maxsize=4096)
def sports_in(context: str) -> tuple[str, ...]:
    """The sports a mention's context names ("rugby union", "rugby league" for "rugby"), or ("",) where it only
    reports a game ("season", "coach"); empty where it says nothing of sport."""
    words = set(_WORD.findall(context.lower()))
    named = tuple(dict.fromkeys(s for w in sorted(words) for s in SPORTS.get(w, ())))
    return named or (("",) if words & _GAME else ())


def team_names(place: str, sports: tuple[str, ...]) -> list[str]:
    """The normalized names Wikipedia gives a place's teams in these sports ("england national rugby union team",
    "england cricket team"); for a game of no named sport, its national team."""
    p = normalize(place)
    out = []
    for sport in sports:
        out += [f"{p} national {sport} team", f"{p} {sport} team"] if sport else [f"{p} national team"]
    return out


def is_team_of(mention: str, name: str, sports: tuple[str, ...] = ("",)) -> bool:
    """Whether an entity's name is a team's that begins with the mention's ("Ohio State Buckeyes football" for
    "Ohio State"), as opposed to another thing named after the place ("Ohio State University"), and names no sport
    but those of ``sports`` (the context's): beside "rugby", Scotland's football team is not the side."""
    m, n = normalize(mention), normalize(name)
    if not m or not n.startswith(m + " ") or not _TEAM.search(rest := n[len(m) :]):
        return False
    allowed = {w for sport in sports for w in sport.split()}
    named = set(_SPORT.findall(rest))
    return "" in sports or named <= allowed
