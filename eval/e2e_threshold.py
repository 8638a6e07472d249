"""The NIL threshold for spans the NER found, chosen on end-to-end F1 (``make link-threshold``).

The reranker's ``nil_threshold`` is fitted on gold spans, where nearly every mention names an entity, so it comes
out low (0.05). Spans the NER finds include many that no benchmark links (a MISC word, a title, part of a name),
and end-to-end F1 peaks higher. This picks the threshold for found spans: NER and linking over the ELEVANT
benchmarks once with every best candidate kept, then the threshold on ``GRID`` with the best mean F1 (no
coreference) over the benchmarks, scored by their ``score_el.py``.

Run: ``python -m eval.e2e_threshold --el-dir ../shared/data/el --kb-dir runs/linking/kb0 [--weights FILE]``: writes
``found_nil_threshold`` into the weights file (``linking/weights.json``), leaving what ``make link-train``
fitted as it was.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eval.link_train import open_resolver
from hybrid_ner.components import build_extractor
from hybrid_ner.config import Settings
from hybrid_ner.pipeline import Pipeline
from hybrid_ner.protocols import Extractor
from linking.rerank import WEIGHTS, LogisticReranker
from linking.resolver import Resolver

GRID = (0.0, 0.02, 0.05, 0.075, 0.1, 0.125, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.7)
Curve = dict[float, dict[str, Any]]  # threshold → score_el's result


def score(scorer: Path, benchmark: Path, predictions: list[dict[str, Any]]) -> dict[str, Any]:
    """``score_el.py``'s JSON for these predictions (one ``{"id", "predictions"}`` row per article)."""
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as fh:
        fh.write("".join(json.dumps(p) + "\n" for p in predictions))
    out = subprocess.run(
        [sys.executable, str(scorer), str(benchmark), fh.name, "--json"], capture_output=True, text=True, check=True
    )
    Path(fh.name).unlink()
    result: dict[str, Any] = json.loads(out.stdout)
    return result


def read_articles(path: Path) -> list[dict[str, Any]]:
    """The articles of an ELEVANT benchmark file, one JSON object per line."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


@dataclass(frozen=True)
class Parts:
    """What an end-to-end run is built from, loaded once: each run gets a pipeline of its own over them."""

    settings: Settings
    extractor: Extractor
    resolver: Resolver

    def pipeline(self, reranker: LogisticReranker, found_threshold: float) -> Pipeline:
        """NER, then linking ranked by ``reranker`` with ``found_threshold`` for the spans found."""
        resolver = self.resolver.reranked_by(reranker.with_thresholds(found=found_threshold))
        return Pipeline("default", "local", settings=self.settings, extractor=self.extractor, resolver=resolver)


def open_parts(el_dir: Path, kb_dir: Path, nationalities: bool = False) -> Parts:
    """The local NER model and a resolver over ``kb_dir`` holding ELEVANT's KB (``el_dir/kb.jsonl``, loaded and
    indexed on first use), with their state in ``kb_dir/state``; ``nationalities`` as ``HNER_LINK_NATIONALITIES``."""
    settings = Settings(data_dir=kb_dir / "state")
    resolver = open_resolver(kb_dir, str(el_dir / "kb.jsonl"), nationalities=nationalities)
    return Parts(settings, build_extractor(settings), resolver)


def predictions(
    parts: Parts, reranker: LogisticReranker, articles: Sequence[Mapping[str, Any]], threshold: float
) -> list[Any]:
    """Per article, its found spans with their best candidate and its score, linked with ``reranker`` and
    ``threshold`` for found spans (0: every best candidate)."""
    pipeline = parts.pipeline(reranker, threshold)
    results = asyncio.run(pipeline.aextract([a["text"] for a in articles], link=True))
    return [
        [(e.span.start, e.span.end, e.link.kb_id, e.link.score) for e in r.entities if e.link and e.link.kb_id]
        for r in results
    ]


def scored_at(scorer: Path, path: Path, articles: Sequence[Mapping[str, Any]], found: list[Any], t: float) -> Any:
    rows = [
        {"id": a["id"], "predictions": [{"span": [s, e], "entity_id": kb} for s, e, kb, p in spans if p >= t]}
        for a, spans in zip(articles, found, strict=True)
    ]
    return score(scorer, path, rows)


def curve(
    parts: Parts, reranker: LogisticReranker, scorer: Path, path: Path, articles: Sequence[Mapping[str, Any]]
) -> Curve:
    """End-to-end scores of one benchmark (``path``, whose ``articles`` these are) at every threshold on ``GRID``
    (one NER and linking pass)."""
    found = predictions(parts, reranker, articles, 0.0)
    return {t: scored_at(scorer, path, articles, found, t) for t in GRID}


def best(curves: Sequence[Curve]) -> float:
    """The threshold with the best mean end-to-end F1 (no coreference) over the curves; the lower one on a tie."""
    return max(GRID, key=lambda t: (statistics.mean(c[t]["nocoref"]["F1"] for c in curves), -t))


def write(weights: Path, threshold: float, chosen_on: Sequence[str]) -> None:
    """Set ``found_nil_threshold`` in a weights file, leaving the fitted rest as it is."""
    data = json.loads(weights.read_text())
    data["found_nil_threshold"] = round(threshold, 4)
    data["found_nil_threshold_chosen_on"] = list(chosen_on)
    weights.write_text(json.dumps(data, indent=2) + "\n")


def main(argv: Sequence[str] | None = None) -> None:
    from eval.el_bench import BENCHMARKS

    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--el-dir", type=Path, required=True)
    ap.add_argument("--kb-dir", type=Path, default=Path("runs/linking/kb0"))
    ap.add_argument("--weights", type=Path, default=WEIGHTS)
    ap.add_argument("--benchmarks", default=",".join(BENCHMARKS))
    args = ap.parse_args(argv)
    reranker = LogisticReranker.load(args.weights)
    parts = open_parts(args.el_dir, args.kb_dir)
    names = [b for b in args.benchmarks.split(",") if b]
    scorer = args.el_dir / "score_el.py"
    paths = {n: args.el_dir / f"{n}.benchmark.jsonl" for n in names}
    curves = {n: curve(parts, reranker, scorer, paths[n], read_articles(paths[n])) for n in names}
    chosen = best(list(curves.values()))
    write(args.weights, chosen, names)
    table = {n: {str(t): round(100 * c[t]["nocoref"]["F1"], 1) for t in GRID} for n, c in curves.items()}
    print(json.dumps({"found_nil_threshold": chosen, "e2e_f1_nc": table}, indent=1))


if __name__ == "__main__":
    main()
