"""Fit ``linking/weights.json`` on benchmark files: ``python -m eval.link_train --set KB FIT_FILES EVAL_FILES ...``.

Each KB (a file, or ``default`` for the bundled one) is loaded into a scratch database and indexed; one reranker
is fitted on the candidates of all fit files (ELEVANT JSONL format) and written out, and candidate recall@k and
gold-span accuracy are reported on each eval file.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

from eval.datasets import read_dataset
from hybrid_ner.components import build_embedder, build_extractor
from hybrid_ner.config import Settings
from hybrid_ner.protocols import Extractor
from kb import bundled
from kb.db import open_db
from kb.dbpedia import enrich, read_redirects
from kb.loaders import load_file
from kb.store import SQLKBStore
from linking.candidates import UnionCandidates
from linking.embedder import Embedder
from linking.fit import GoldMention, evaluate, fit, prepare, save
from linking.index import DenseIndex
from linking.rerank import FEATURES, WEIGHTS, LogisticReranker
from linking.resolver import Resolver

# Coreference is out of scope: pronouns, and a determiner before a common noun ("the company"), as ELEVANT counts them.
_PRONOUNS = frozenset(
    {
        "i",
        "my",
        "me",
        "myself",
        "mine",
        "you",
        "your",
        "yourself",
        "yours",
        "he",
        "his",
        "him",
        "himself",
        "she",
        "her",
        "herself",
        "hers",
        "it",
        "its",
        "itself",
        "we",
        "our",
        "us",
        "ourselves",
        "ours",
        "they",
        "their",
        "them",
        "themselves",
        "theirs",
    }
)
_DETERMINERS = frozenset(["the", "this", "that", "these", "those", "my", "your", "his", "her", "its", "our", "their"])


def is_coreference(mention: str) -> bool:
    first, _, rest = mention.strip().partition(" ")
    return mention.strip().lower() in _PRONOUNS or (first.lower() in _DETERMINERS and rest[:1].islower())


def ner_labels(
    extractor: Extractor | None, texts: Sequence[str], spans: Sequence[Sequence[tuple[int, int]]]
) -> list[list[str | None]]:
    """The label the extractor gives each span (that of an entity it found overlapping it), None where it
    found nothing or there is no extractor. Benchmarks' own types describe the gold entity: using them
    as the mention's label would leak the answer."""
    found = extractor.extract(texts) if extractor is not None else [[] for _ in texts]
    return [
        [next((e.span.label for e in ents if e.span.start < end and e.span.end > start), None) for start, end in sp]
        for ents, sp in zip(found, spans, strict=True)
    ]


def gold_mentions(paths: Sequence[Path], extractor: Extractor | None = None) -> list[GoldMention]:
    """Labelled mentions of ELEVANT-format files, coreference left out, labelled by ``extractor``."""
    docs = [doc for path in paths for doc in read_dataset(path, "elevant").documents]
    kept = [[e for e in doc.entities if not is_coreference(doc.text[e.start : e.end])] for doc in docs]
    labels = ner_labels(extractor, [d.text for d in docs], [[(e.start, e.end) for e in ents] for ents in kept])
    return [
        (doc.text, e.start, e.end, label, e.kb_id)
        for doc, ents, labs in zip(docs, kept, labels, strict=True)
        for e, label in zip(ents, labs, strict=True)
    ]


def open_resolver(
    workdir: Path,
    kb: str,
    redirects: bool = True,
    embedder: Embedder | None = None,
    reranker: LogisticReranker | None = None,
    nationalities: bool = False,
) -> Resolver:
    """A resolver over a scratch database holding ``kb`` (a KB file, or ``default`` for the bundled KB); a KB
    file is enriched with Wikipedia redirects (``kb enrich --source dbpedia``) unless ``redirects`` is off. The
    encoder is ``embedder``, else the one ``HNER_LINK_ENCODER`` names, as in the service; the reranker is
    ``reranker``, else one of zero weights (what fitting starts from: it only gathers candidates); with
    ``nationalities``, found nationality adjectives are linked (``HNER_LINK_NATIONALITIES``)."""
    workdir.mkdir(parents=True, exist_ok=True)
    _, sessions = open_db(f"sqlite:///{(workdir / 'kb.sqlite3').resolve()}")
    store = SQLKBStore(sessions)
    if store.count() == 0:
        print(bundled.build(store) if kb == "default" else load_file(store, Path(kb)))
        if kb != "default" and redirects:
            print(enrich(store, read_redirects()))
    embedder = embedder or build_embedder(Settings())
    index = DenseIndex(store, embedder, workdir / "index", processes=2)
    index.refresh()
    reranker = reranker or LogisticReranker([0.0] * len(FEATURES), 0.5)
    return Resolver(store, embedder, index, UnionCandidates(store, index), reranker, nationalities=nationalities)


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument(
        "--set",
        nargs=3,
        action="append",
        metavar=("KB", "FIT", "EVAL"),
        required=True,
        help="a KB file (or 'default'), comma-separated fit files, comma-separated eval files",
    )
    ap.add_argument("--workdir", type=Path, default=Path("runs/linking"))
    ap.add_argument("--out", type=Path, default=WEIGHTS)
    args = ap.parse_args(argv)
    extractor = build_extractor(Settings())
    fit_sets, eval_sets = [], {}
    for i, (kb, fit_files, eval_files) in enumerate(args.set):
        resolver = open_resolver(args.workdir / f"kb{i}", kb)
        fit_sets.append(prepare(resolver, gold_mentions([Path(p) for p in fit_files.split(",") if p], extractor)))
        for p in (p for p in eval_files.split(",") if p):
            eval_sets[Path(p).name] = prepare(resolver, gold_mentions([Path(p)], extractor))
    reranker = fit(fit_sets)
    save(reranker, args.out, [p for _, f, _ in args.set for p in f.split(",") if p])
    print(json.dumps({name: evaluate(reranker, p) for name, p in eval_sets.items()}, indent=2))


if __name__ == "__main__":
    main()
