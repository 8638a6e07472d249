"""Alternate names of countries (ISO 3166 via pycountry) and US states (the ``us`` package): a KB that
has only one name per entity still finds "United States" for "United States of America", "U.S." for
it, or "Calif." for California. This module imports nothing of the project; ``kb.keys`` normalizes the names."""

from __future__ import annotations

from functools import cache


@cache
def place_names() -> tuple[frozenset[str], ...]:
    """Each place's names (codes included), as the packages spell them."""
    import pycountry
    import us

    groups: list[frozenset[str]] = []
    for c in pycountry.countries:
        names = {c.name, c.alpha_2, c.alpha_3}
        names |= {n for n in (getattr(c, "official_name", None), getattr(c, "common_name", None)) if n}
        groups.append(frozenset(names))
    for s in us.states.STATES_AND_TERRITORIES:
        groups.append(frozenset(n for n in (s.name, s.abbr, s.ap_abbr) if n))
    return tuple(groups)
