"""Linking checks on the bundled KB with the shipped reranker: ``python -m eval.kb_sets --kb-dir runs/linking/kb1``.

- *GeoNames ambiguity* and *qualified places* (``runs/geonames``, from ``eval.geonames_ambiguity``): accuracy of
  the link on each gold span (NER labels from the local model).
- *Type sanity* (``eval/sets/type_sanity.jsonl``): organisations and people whose names are also place names
  (Toyota, Honda, Kennedy, ...), companies named like people (Siemens, Michelin, Ford) and people named like
  companies, with their label; a link whose types clash with the label (a place or a person for an
  organisation, ...) is a violation.
- *News article* (``eval/sets/news_article.json``) and *sports article* (``eval/sets/sports_article.json``,
  football clubs called by their cities' names): NER and linking end to end; each expected mention's link.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path
from typing import Any

from eval.link_train import gold_mentions, open_resolver
from hybrid_ner.components import build_extractor
from hybrid_ner.config import Settings
from hybrid_ner.pipeline import Pipeline
from linking.kinds import TYPE_WORDS, type_fit
from linking.rerank import LogisticReranker
from linking.resolver import Resolver

SETS = Path(__file__).resolve().parent / "sets"


def accuracy(resolver: Resolver, path: Path, extractor: Any) -> dict[str, Any]:
    gold = gold_mentions([path], extractor)
    links = resolver.link([(text, [(s, e, label)]) for text, s, e, label, _ in gold])
    right = sum(ls[0].kb_id == g[4] for ls, g in zip(links, gold, strict=True))
    return {"mentions": len(gold), "accuracy": round(right / max(1, len(gold)), 4)}


def type_sanity(resolver: Resolver, path: Path) -> dict[str, Any]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    items = [(r["text"], [(m["span"][0], m["span"][1], m["label"]) for m in r["mentions"]]) for r in rows]
    out: list[dict[str, Any]] = []
    for row, links in zip(rows, resolver.link(items), strict=True):
        for m, link in zip(row["mentions"], links, strict=True):
            place = any(w in " ".join(link.types or []).lower() for w in TYPE_WORDS["LOC"])
            clash = bool(type_fit(m["label"], link.types or [])[1])
            row = {"mention": m["text"], "label": m["label"], "kb_id": link.kb_id, "place": place, "clash": clash}
            out.append(row)
    return {
        "mentions": len(out),
        "violations": sum(o["clash"] for o in out),
        "places": sum(o["place"] for o in out),
        "linked": sum(o["kb_id"] is not None for o in out),
        "links": out,
    }


def news(pipeline: Pipeline, path: Path) -> dict[str, Any]:
    """Each text of the file (``{"text", "expected"}``, or ``{"texts": [...]}`` of those) extracted and linked; a
    mention's check is keyed by its text, after the text's number where there are several."""
    data = json.loads(path.read_text(encoding="utf-8"))
    texts = data.get("texts", [data])
    results = asyncio.run(pipeline.aextract([t["text"] for t in texts], link=True))
    checks: dict[str, dict[str, Any]] = {}
    for i, (text, result) in enumerate(zip(texts, results, strict=True)):
        got = {e.span.text: (e.link.kb_id if e.link else None) for e in result.entities}
        for m, want in text["expected"].items():
            checks[f"{i}: {m}" if "texts" in data else m] = {"expected": want, "got": got.get(m, "not found")}
    return {"right": sum(c["expected"] == c["got"] for c in checks.values()), "expected": len(checks), "links": checks}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--kb-dir", type=Path, default=Path("runs/linking/kb1"))
    ap.add_argument("--geonames", type=Path, default=Path("runs/geonames"))
    ap.add_argument("--out", type=Path, default=Path("eval/reports"))
    args = ap.parse_args()
    resolver = open_resolver(args.kb_dir, "default", reranker=LogisticReranker.load())
    settings = Settings(data_dir=args.kb_dir / "state")
    extractor = build_extractor(settings)
    pipeline = Pipeline("default", "local", settings=settings, extractor=extractor, resolver=resolver)
    report: dict[str, Any] = {}
    for name, file in (("geonames_ambiguity", "geonames-test.jsonl"), ("qualified_places", "qualified-test.jsonl")):
        path = args.geonames / file
        # the GeoNames sets are built by ``eval.geonames_ambiguity``; without them the other sets still run
        report[name] = accuracy(resolver, path, extractor) if path.exists() else {"skipped": f"{path} not found"}
    report["type_sanity"] = type_sanity(resolver, SETS / "type_sanity.jsonl")
    for name in ("news_article", "sports_article"):
        report[name] = news(pipeline, SETS / f"{name}.json")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "kb_sets.json").write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps({k: {n: v for n, v in r.items() if n != "links"} for k, r in report.items()}, indent=2))


if __name__ == "__main__":
    main()
