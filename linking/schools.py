"""Universities called by their place: in a life story, "she studied at Berkeley" and "a doctorate from
Pittsburgh" name the university, not the town. Wikipedia names such schools after the place ("University of
Pittsburgh", "Villanova University", "University of California, Berkeley"), so a place's universities can be
looked up by those names where the text speaks of study and the place is where someone studies or teaches.
"""

from __future__ import annotations

import re
from functools import lru_cache

from kb.keys import normalize

# Words that say a sentence tells of study or teaching.
_ACADEMIC = frozenset(
    ["studied", "study", "studies", "studying", "graduated", "graduate", "graduating", "degree", "degrees",
     "doctorate", "doctoral", "phd", "ph.d", "professor", "lecturer", "faculty", "enrolled", "enrollment", "alumnus",
     "alumna", "alumni", "taught", "teaching", "thesis", "dissertation", "bachelor", "master", "diploma",
     "postdoctoral", "tenure", "dean", "undergraduate", "scholar", "fellowship"]
)  # fmt: skip
_WORD = re.compile(r"[a-z]+(?:\.[a-z])?")
# The words right before a school's name in such a sentence: "studied at", "a degree from".
_BEFORE = frozenset(["at", "from"])
# The two words before a name: "studied at " → ("studied", "at"); either may be missing.
_LAST_WORDS = re.compile(r"(?:([\w.'\u2019-]+)\s+)?([A-Za-z]+)\W*$")


@lru_cache(maxsize=4096)
def academic(context: str) -> bool:
    """Whether a sentence tells of study or teaching ("studied", "doctorate", "professor")."""
    return bool(set(_WORD.findall(context.lower())) & _ACADEMIC)


def where_one_studies(before: str, context: str) -> bool:
    """Whether a name is where someone studies or teaches: right after "at" or "from" (the text ``before`` it)
    in a sentence about study ("a doctorate from Pittsburgh"); never after "in" ("born in Pittsburgh"), nor after
    a name or title that the preposition belongs to ("Senator from Minnesota", "University of California at San
    Diego")."""
    found = _LAST_WORDS.search(before[-40:])
    if found is None or found.group(2).lower() not in _BEFORE or not academic(context):
        return False
    word = found.group(1)
    return word is None or not word[:1].isupper()


def school_names(place: str) -> list[str]:
    """The normalized names Wikipedia gives a place's universities ("university of pittsburgh", "villanova
    university", "university of california, berkeley")."""
    p = normalize(place)
    if not p or p.startswith(("university", "college")) or p.endswith(("university", "college")):
        return []
    return [f"university of {p}", f"{p} university", f"university of california, {p}"]
