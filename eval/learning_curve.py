"""Learning curve: F1 after 25, 50 and 100 labelled sentences chosen by ``select`` (uncertainty, in rounds: each
round's model picks the next batch) against the same numbers chosen at random, from a domain's train+dev pool,
the mean of three seeds. Every model trains for the same default schedule with no held-out data, and is scored on
the domain's test split (fp32; the curve compares choices of data, not runtimes)."""

from __future__ import annotations

import random
import statistics
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from eval.adapt_data import Domain, schema_for
from hybrid_ner.config import DEFAULT_NER_MODEL_DIR
from hybrid_ner.learn.adapt import AdaptArgs, train_fixed
from hybrid_ner.learn.select import By, PoolText, select
from hybrid_ner.model_registry import directory_ref
from hybrid_ner.ner.data import TaggedSentence
from hybrid_ner.ner.extractor import LocalNER
from hybrid_ner.ner.model import save_model
from hybrid_ner.ner.train import evaluate

SIZES = (25, 50, 100)
SEEDS = (1, 2, 3)


def _train(args: AdaptArgs, picked: list[TaggedSentence], test: list[TaggedSentence], keep: Path | None) -> float:
    labels = [t.name for t in args.schema.types if any(f"B-{t.name}" in s.tags for s in picked)]
    model, tokenizer, config = train_fixed(args, labels, picked)
    if keep is not None:
        save_model(model, config, keep)
    return float(evaluate(model, tokenizer, config, test)[0]["f1"])


def _rounds(args: AdaptArgs, pool: list[TaggedSentence], test: list[TaggedSentence], work: Path) -> list[float]:
    """Active learning: the base model picks the first batch, each trained model the next."""
    texts = [PoolText(i, " ".join(s.words)) for i, s in enumerate(pool)]
    chosen: list[int] = []
    model: Any = LocalNER(DEFAULT_NER_MODEL_DIR, runtime="torch", quantize=False)
    scores = []
    for n in SIZES:
        left = [t for t in texts if t.id not in set(chosen)]
        chosen += [t.id for t in select(left, n - len(chosen), By.UNCERTAINTY, model, args.schema, args.seed)]
        keep = work / f"round-{n}"
        scores.append(_train(args, [pool[i] for i in chosen], test, keep))
        model = LocalNER(keep, runtime="torch", quantize=False)
    return scores


def run_curve(
    domain: Domain,
    work: Path,
    out_dir: Path,
    progress: Callable[[dict[str, Any]], object] | None = None,
    seeds: tuple[int, ...] = SEEDS,
) -> dict[str, Any]:
    """``progress`` gets the summary so far after every seed, so an interrupted run still reports what it measured."""
    pool = domain.read("train") + domain.read("dev")
    test = domain.read("test")
    schema = schema_for(domain.name, pool)
    runs: dict[str, list[list[float]]] = {"select": [], "random": []}
    for seed in seeds:
        with tempfile.TemporaryDirectory(dir=work) as tmp:
            args = AdaptArgs(
                schema=schema,
                train=domain.train,
                out=Path(tmp) / "unused",
                base=directory_ref(DEFAULT_NER_MODEL_DIR),
                seed=seed,
            )
            order = random.Random(seed).sample(range(len(pool)), max(SIZES))
            runs["random"].append([_train(args, [pool[i] for i in order[:n]], test, None) for n in SIZES])
            runs["select"].append(_rounds(args, pool, test, Path(tmp)))
        summary = _summary(domain.name, len(pool), list(seeds[: seeds.index(seed) + 1]), runs, out_dir)
        if progress is not None:
            progress(summary)
    return summary


def _summary(
    domain: str, pool: int, seeds: list[int], runs: dict[str, list[list[float]]], out_dir: Path
) -> dict[str, Any]:
    mean = {k: [round(statistics.mean(r[i] for r in v), 4) for i in range(len(SIZES))] for k, v in runs.items()}
    _plot(mean, runs, out_dir / "learning_curve.png", domain)
    return {
        "domain": domain,
        "pool": pool,
        "sizes": list(SIZES),
        "seeds": seeds,
        "runs": runs,
        "mean_f1": mean,
        "plot": "learning_curve.png",
    }


def _plot(mean: dict[str, list[float]], runs: dict[str, list[list[float]]], path: Path, domain: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.5))
    for name, style in (("select", "o-"), ("random", "s--")):
        label = f"{name} (mean of {len(runs[name])} seeds)"
        ax.plot(SIZES, [100 * f for f in mean[name]], style, label=label)
        low = [100 * min(r[i] for r in runs[name]) for i in range(len(SIZES))]
        high = [100 * max(r[i] for r in runs[name]) for i in range(len(SIZES))]
        ax.fill_between(SIZES, low, high, alpha=0.15)
    ax.set_xlabel("labelled sentences")
    ax.set_ylabel("test F1")
    ax.set_title(f"CrossNER {domain}: select vs random")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
