"""Alternate names of countries (ISO 3166 via pycountry) and US states (the ``us`` package): a KB that
has only one name per entity still finds "United States" for "United States of America", "U.S." for
it, or "Calif." for California."""

from __future__ import annotations

from functools import cache


@cache
def alternates() -> dict[str, frozenset[str]]:
    """Normalized name → every name of the same place (codes included), normalized."""
    import pycountry
    import us

    from kb.keys import normalize

    groups: list[set[str]] = []
    for c in pycountry.countries:
        names = {c.name, c.alpha_2, c.alpha_3}
        names |= {n for n in (getattr(c, "official_name", None), getattr(c, "common_name", None)) if n}
        groups.append(names)
    for s in us.states.STATES_AND_TERRITORIES:
        groups.append({n for n in (s.name, s.abbr, s.ap_abbr) if n})
    out: dict[str, set[str]] = {}
    for names in groups:
        norms = {normalize(n) for n in names} - {""}
        for n in norms:
            out.setdefault(n, set()).update(norms)
    return {n: frozenset(v) for n, v in out.items()}
