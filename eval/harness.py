"""Router-strategy comparison runs: strategies by thresholds over a dataset, with quality, cost and speed.

``run_eval`` is what ``hybrid-ner eval run`` calls. Each (strategy, threshold)
run goes through the real :class:`~hybrid_ner.pipeline.Pipeline`; its
predictions and accounting are cached on disk, keyed by dataset, strategy,
threshold, model versions, schema and prompt, so a re-run does not pay the LLM
again. Router quality (does low confidence find the local model's errors?) is
computed from the local run alone, so it does not depend on the LLM at all.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from eval.datasets import Dataset, Document, read_dataset
from hybrid_ner.config import Settings
from hybrid_ner.datamodel import Result
from hybrid_ner.llm.extractor import LLMExtractor
from hybrid_ner.llm.prompting import prompt_version
from hybrid_ner.ner.calibration import expected_calibration_error
from hybrid_ner.ner.metrics import EntityKey, score_entities
from hybrid_ner.pipeline import Pipeline
from hybrid_ner.protocols import Extractor
from hybrid_ner.routing import STRATEGIES
from hybrid_ner.schemas import EntityType, Example, ExampleEntity, Schema, default_schema
from hybrid_ner.text import split_sentences

THRESHOLDED = ("cascade", "schema")
ROUTER_GRID = tuple(round(x, 2) for x in np.arange(0.30, 1.0, 0.05))
HOLDOUT_SHOTS = 4


@dataclass
class RunResult:
    """One (strategy, threshold) run: predictions plus accounting, as cached on disk."""

    strategy: str
    threshold: float | None
    predictions: dict[str, list[tuple[int, int, str, float, str]]]  # doc id → (start, end, label, score, source)
    latencies_ms: list[float]
    wall_s: float
    llm_calls: int = 0
    cache_hits: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float | None = 0.0
    escalated_spans: int = 0
    local_spans: int = 0
    docs_with_llm: int = 0
    degraded_docs: int = 0
    degraded_reasons: dict[str, int] = field(default_factory=dict)
    cached: bool = False


@dataclass
class EvalConfig:
    data: Path
    fmt: str | None
    strategies: list[str]
    thresholds: list[float]
    out: Path
    limit: int | None = None
    seed: int = 13
    holdout_label: str | None = None
    granularity: str | None = None
    concurrency: int | None = None


def validate(config: EvalConfig, dataset: Dataset) -> None:
    """Clear errors, listing valid names, for unknown strategies and labels."""
    unknown = [s for s in config.strategies if s not in STRATEGIES]
    if unknown or not config.strategies:
        names = ", ".join(unknown) or "(none)"
        raise ValueError(f"unknown strategy {names}; valid strategies: {', '.join(STRATEGIES)}")
    if config.holdout_label and config.holdout_label not in dataset.labels:
        valid = ", ".join(dataset.labels)
        raise ValueError(f"unknown label {config.holdout_label!r}; labels in {dataset.name}: {valid}")
    bad = [t for t in config.thresholds if not 0.0 <= t <= 1.0]
    if bad:
        raise ValueError(f"thresholds must be in [0, 1], got {bad}")


def sample(dataset: Dataset, limit: int | None, seed: int) -> list[Document]:
    docs = list(dataset.documents)
    if limit is not None and limit < len(docs):
        rng = random.Random(seed)
        docs = sorted(rng.sample(docs, limit), key=lambda d: dataset.documents.index(d))
    return docs


def holdout_schema(dataset: Dataset, label: str, exclude: set[str], seed: int) -> Schema:
    """The default schema with ``label`` known only from a description and a few examples (no local mapping)."""
    rng = random.Random(seed)
    pool = [d for d in dataset.documents if d.id not in exclude and any(e.label == label for e in d.entities)]
    shots = rng.sample(pool, min(HOLDOUT_SHOTS, len(pool)))
    descriptions = {
        "MISC": "Other named entities: nationalities and demonyms (German, French), events, works of art, "
        "products, languages, and named things that are not people, organisations or locations.",
        "PER": "Names of people.",
        "ORG": "Names of organisations: companies, institutions, teams, agencies.",
        "LOC": "Names of locations: countries, cities, regions, geographic features.",
    }
    types = []
    for t in default_schema().types:
        if t.name != label:
            types.append(t)
            continue
        examples = [
            Example(
                text=d.text,
                entities=[
                    ExampleEntity(start=e.start, end=e.end, label=e.label) for e in d.entities if e.label in {label}
                ],
            )
            for d in shots
        ]
        types.append(EntityType(name=label, description=descriptions.get(label, ""), examples=examples))
    return Schema(name=f"holdout-{label}", version=1, types=types)


def _cache_key(parts: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:24]


async def _run(
    pipeline: Pipeline,
    docs: Sequence[Document],
    strategy: str,
    threshold: float | None,
    concurrency: int,
    progress: Callable[[int], None],
) -> RunResult:
    limit = asyncio.Semaphore(concurrency)
    out = RunResult(strategy, threshold, {}, [], 0.0)
    reasons: dict[str, int] = {}

    async def one(doc: Document) -> tuple[Document, Result, float]:
        async with limit:
            t0 = time.perf_counter()
            result = (await pipeline.aextract([doc.text], strategy=strategy))[0]
            elapsed = (time.perf_counter() - t0) * 1000
        progress(1)
        return doc, result, elapsed

    if docs:  # warm-up outside the timing: lazy loads, first-call allocations
        await pipeline.aextract([docs[0].text], strategy="local")
    started = time.perf_counter()
    done = await asyncio.gather(*(one(d) for d in docs))
    out.wall_s = time.perf_counter() - started
    for doc, result, ms in done:
        out.latencies_ms.append(ms)
        out.predictions[doc.id] = [
            (e.span.start, e.span.end, e.span.label, e.score, e.source.value) for e in result.entities
        ]
        failed_local = sum(1 for e in result.entities if e.decision.reason == "escalation failed; kept local")
        out.local_spans += sum(1 for e in result.entities if e.source == "local") - failed_local
        if result.degraded:
            out.degraded_docs += 1
            reasons[result.degraded_reason or "?"] = reasons.get(result.degraded_reason or "?", 0) + 1
        if result.llm:
            llm = result.llm
            out.docs_with_llm += 1 if (llm["calls"] or llm["cache_hits"]) else 0
            out.llm_calls += llm["calls"]
            out.cache_hits += llm["cache_hits"]
            out.prompt_tokens += llm["prompt_tokens"]
            out.completion_tokens += llm["completion_tokens"]
            out.escalated_spans += llm["escalated_spans"]
            if llm["cost_usd"] is None or out.cost_usd is None:
                out.cost_usd = None
            else:
                out.cost_usd += llm["cost_usd"]
    out.local_spans += out.escalated_spans
    out.degraded_reasons = reasons
    return out


def _in_span(doc: Document, start: int, end: int) -> bool:
    return doc.evaluation_span is None or (doc.evaluation_span[0] <= start and end <= doc.evaluation_span[1])


def gold_keys(docs: Sequence[Document]) -> set[EntityKey]:
    return {(d.id, e.start, e.end, e.label) for d in docs for e in d.entities}


def pred_keys(run: RunResult, docs: Sequence[Document]) -> set[EntityKey]:
    return {(d.id, s, e, lab) for d in docs for s, e, lab, _, _ in run.predictions.get(d.id, []) if _in_span(d, s, e)}


def summarize(run: RunResult, docs: Sequence[Document]) -> dict[str, Any]:
    scores = score_entities(gold_keys(docs), pred_keys(run, docs))
    lat = np.array(run.latencies_ms) if run.latencies_ms else np.zeros(1)
    words = sum(len(d.text.split()) for d in docs)
    n = max(1, len(docs))
    cost_known = run.cost_usd is not None
    return {
        "strategy": run.strategy,
        "threshold": run.threshold,
        "precision": scores.micro.precision,
        "recall": scores.micro.recall,
        "f1": scores.micro.f1,
        "macro_f1": scores.macro_f1,
        "per_label": {k: asdict(v) for k, v in scores.per_label.items()},
        "escalation_rate_spans": run.escalated_spans / run.local_spans if run.local_spans else 0.0,
        "llm_doc_rate": run.docs_with_llm / n,
        "llm_calls": run.llm_calls,
        "llm_cache_hits": run.cache_hits,
        "prompt_tokens": run.prompt_tokens,
        "completion_tokens": run.completion_tokens,
        "cost_usd": run.cost_usd,
        "cost_per_1k_docs": (run.cost_usd or 0.0) * 1000 / n if cost_known else None,
        "tokens_per_1k_docs": (run.prompt_tokens + run.completion_tokens) * 1000 / n,
        "latency_p50_ms": float(np.percentile(lat, 50)),
        "latency_p95_ms": float(np.percentile(lat, 95)),
        "docs_per_s": len(docs) / run.wall_s if run.wall_s else 0.0,
        "words_per_s": words / run.wall_s if run.wall_s else 0.0,
        "degraded_docs": run.degraded_docs,
        "degraded_reasons": run.degraded_reasons,
        "cached": run.cached,
    }


def router_quality(local: RunResult, docs: Sequence[Document], thresholds: Sequence[float]) -> list[dict[str, Any]]:
    """For each threshold: how well "confidence < t" picks out the local model's errors.

    router precision: escalated spans that were wrong / escalated spans;
    error recall: wrong spans that were escalated / all wrong spans;
    oracle F1 (span): F1 if each escalated wrong span were replaced by the gold entity it overlaps (or removed);
    oracle F1 (sentence): F1 if every escalated sentence came back exactly right.
    """
    gold = gold_keys(docs)
    preds = [
        (d.id, s, e, lab, score)
        for d in docs
        for s, e, lab, score, _ in local.predictions.get(d.id, [])
        if _in_span(d, s, e)
    ]
    sentences = {d.id: [(s[0].start, s[-1].end) for s in split_sentences(d.text)] for d in docs}
    wrong_total = sum(1 for p in preds if p[:4] not in gold)
    rows = []
    for t in sorted(set(thresholds)):
        esc = [p for p in preds if p[4] < t]
        esc_wrong = [p for p in esc if p[:4] not in gold]
        kept = {p[:4] for p in preds} - {p[:4] for p in esc_wrong}
        fixed_span = {g for g in gold for p in esc_wrong if g[0] == p[0] and g[1] < p[2] and p[1] < g[2]}
        esc_sent = {(p[0], s) for p in esc for s in sentences[p[0]] if s[0] <= p[1] < s[1]}
        oracle_sentence = {k for k in kept if not _in_sentences(k, esc_sent, sentences)} | {
            g for g in gold if _in_sentences(g, esc_sent, sentences)
        }
        rows.append(
            {
                "threshold": t,
                "escalation_rate_spans": len(esc) / len(preds) if preds else 0.0,
                "escalation_rate_sentences": len(esc_sent) / max(1, sum(len(v) for v in sentences.values())),
                "router_precision": len(esc_wrong) / len(esc) if esc else 0.0,
                "error_recall": len(esc_wrong) / wrong_total if wrong_total else 0.0,
                "oracle_f1_span": score_entities(gold, kept | fixed_span).micro.f1,
                "oracle_f1_sentence": score_entities(gold, oracle_sentence).micro.f1,
            }
        )
    return rows


def _in_sentences(
    key: EntityKey, chosen: set[tuple[str, tuple[int, int]]], sentences: dict[str, list[tuple[int, int]]]
) -> bool:
    doc = str(key[0])
    return any((doc, s) in chosen for s in sentences[doc] if s[0] <= key[1] < s[1])


def reliability(local: RunResult, docs: Sequence[Document], bins: int = 10) -> dict[str, Any]:
    gold = gold_keys(docs)
    pairs = [
        (score, (d.id, s, e, lab) in gold)
        for d in docs
        for s, e, lab, score, src in local.predictions.get(d.id, [])
        if src == "local" and _in_span(d, s, e)
    ]
    conf = np.array([p[0] for p in pairs])
    ok = np.array([p[1] for p in pairs], dtype=float)
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(conf, edges[1:-1]), 0, bins - 1) if len(conf) else np.array([], dtype=int)
    table = [
        {
            "lo": float(edges[b]),
            "hi": float(edges[b + 1]),
            "n": int((which == b).sum()),
            "confidence": float(conf[which == b].mean()),
            "accuracy": float(ok[which == b].mean()),
        }
        for b in range(bins)
        if (which == b).any()
    ]
    return {"ece": expected_calibration_error(conf, ok), "bins": table}


def run_eval(
    config: EvalConfig,
    settings: Settings,
    *,
    extractor: Extractor | None = None,
    llm: LLMExtractor | None = None,
    progress: Callable[[str, int], Callable[[int], None]] | None = None,
) -> dict[str, Any]:
    """Run every (strategy, threshold) and the router analysis; write nothing (see ``eval.report``)."""
    dataset = read_dataset(config.data, config.fmt)
    validate(config, dataset)
    docs = sample(dataset, config.limit, config.seed)
    schema = (
        holdout_schema(dataset, config.holdout_label, {d.id for d in docs}, config.seed)
        if config.holdout_label
        else default_schema()
    )
    if config.granularity:
        settings = settings.model_copy(update={"granularity": config.granularity})
    base = Pipeline(schema, "local", settings=settings, extractor=extractor, llm=llm)
    model_version = getattr(base.components.extractor, "version", base.components.extractor.name)
    specs: list[tuple[str, float | None]] = [("local", None)]
    for s in config.strategies:
        for t in config.thresholds if s in THRESHOLDED else [None]:
            if (s, t) not in specs:
                specs.append((s, t))
    # The dataset by its content (never its size or time): an edited file is a new dataset.
    dataset_id = {"name": dataset.name, "sha256": hashlib.sha256(config.data.read_bytes()).hexdigest()}
    same = {"dataset": dataset_id, "docs": [d.id for d in docs], "model": model_version,
            "schema": schema.content_hash(), "llm": settings.llm_model, "prompt": prompt_version(),
            "granularity": settings.granularity}  # fmt: skip
    runs = {
        (strategy, threshold): _cached_run(config, settings, base, docs, same, strategy, threshold, progress)
        for strategy, threshold in specs
    }
    local = runs[("local", None)]
    summaries = [summarize(r, docs) for (s, _), r in runs.items() if s in config.strategies]
    linking = (
        linking_metrics(base, docs)
        if dataset.has_links and base.components.resolver(base.components.state()) is not None
        else None
    )
    return {
        "dataset": dataset.name,
        "path": str(config.data),
        "documents": len(docs),
        "skipped_lines": len(dataset.skipped),
        "skipped": dataset.skipped[:50],
        "labels": dataset.labels,
        "schema": schema.name,
        "holdout_label": config.holdout_label,
        "model": model_version,
        "llm_model": settings.llm_model,
        "granularity": settings.granularity,
        "prompt_version": prompt_version(),
        "limit": config.limit,
        "seed": config.seed,
        "runs": summaries,
        "router_quality": router_quality(local, docs, sorted(set(ROUTER_GRID) | set(config.thresholds))),
        "reliability": reliability(local, docs),
        "linking": linking,
    }


def _cached_run(
    config: EvalConfig,
    settings: Settings,
    base: Pipeline,
    docs: Sequence[Document],
    same: dict[str, Any],
    strategy: str,
    threshold: float | None,
    progress: Callable[[str, int], Callable[[int], None]] | None,
) -> RunResult:
    """One (strategy, threshold) over the documents, from the cache when everything it depends on is the same."""
    key = _cache_key({**same, "strategy": strategy, "threshold": threshold})
    path = settings.data_dir / "eval_cache" / f"{key}.json"
    if path.is_file():
        return RunResult(**{**json.loads(path.read_text()), "cached": True})
    run_settings = settings.model_copy(update={"ner_threshold": threshold if threshold is not None else 0.0})
    parts = base.components
    llm = parts.built("llm") if strategy == "local" else parts.llm
    pipeline = Pipeline(base.schema, strategy, settings=run_settings, extractor=parts.extractor, llm=llm)
    concurrency = 1 if strategy == "local" else (config.concurrency or settings.llm_concurrency)
    label = f"{strategy}" + (f"@{threshold}" if threshold is not None else "")
    tick = progress(label, len(docs)) if progress else (lambda n: None)
    result = asyncio.run(_run(pipeline, list(docs), strategy, threshold, concurrency, tick))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({k: v for k, v in asdict(result).items() if k != "cached"}))
    return result


def linking_metrics(pipeline: Pipeline, docs: Sequence[Document]) -> dict[str, Any]:
    """Candidate recall@k and accuracy on the gold spans, and end-to-end linking P/R/F1 with our own spans."""
    from linking.fit import evaluate, prepare
    from linking.rerank import LogisticReranker

    resolver = pipeline.components.resolver(pipeline.components.state())
    assert resolver is not None and isinstance(resolver.reranker, LogisticReranker)
    gold = [(d.text, e.start, e.end, e.label, e.kb_id) for d in docs for e in d.entities]
    on_gold = evaluate(resolver.reranker, prepare(resolver, gold))
    results = asyncio.run(pipeline.aextract([d.text for d in docs], strategy="local", link=True))
    want = {(d.id, e.start, e.end, e.kb_id) for d in docs for e in d.entities if e.kb_id}
    got = {
        (d.id, e.span.start, e.span.end, e.link.kb_id)
        for d, r in zip(docs, results, strict=True)
        for e in r.entities
        if e.link is not None and e.link.kb_id and _in_span(d, e.span.start, e.span.end)
    }
    hit = len(want & got)
    p = hit / len(got) if got else 0.0
    r = hit / len(want) if want else 0.0
    return {**on_gold, "e2e_precision": p, "e2e_recall": r, "e2e_f1": 2 * p * r / (p + r) if p + r else 0.0}
