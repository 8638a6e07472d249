"""Adaptation benchmarks: ``hybrid-ner adapt`` on CrossNER and WNUT-17, ``calibrate`` on WNUT-17, spaCy's own
training on the same splits, the adapted model's speed against the default model's, and what each adaptation
choice adds. Every figure is measured in the run that writes the report; test sets are scored once per model.

Run: ``python -m eval.adapt_bench --part all --out eval/reports`` (``make adapt-bench``); parts: crossner, spacy,
wnut, speed, ablation, curve (the learning curve lives in ``eval.learning_curve``).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from statistics import median
from typing import Any

from eval.adapt_data import NUNER_ZERO, WNUT_TO_CONLL, Domain, crossner, relabel, schema_for, write_conll
from hybrid_ner.config import DEFAULT_NER_MODEL_DIR
from hybrid_ner.learn.adapt import AdaptArgs, adapt
from hybrid_ner.model_registry import directory_ref
from hybrid_ner.ner.data import TaggedSentence, read_conll

DOMAINS = ("politics", "science", "music")
REPORT = "adapt.json"


def served_scores(model_dir: Path, test: Sequence[TaggedSentence], kept: set[str] | None = None) -> dict[str, Any]:
    """Test F1 and ECE of a model directory through the served runtime (ONNX static int8), as the service scores."""
    import torch

    from hybrid_ner.ner.extractor import LocalNER
    from hybrid_ner.ner.train import score

    model = LocalNER(model_dir, threads=torch.get_num_threads())
    logps = model.logprobs([s.words for s in test], temperature=1.0)
    result = score(model.config, test, logps, kept, seen=model.seen)
    return {k: round(v, 4) if isinstance(v, float) else v for k, v in result.items()}


def adapt_domain(domain: Domain, work: Path, **options: Any) -> dict[str, Any]:
    """``adapt`` on the domain's train split with dev for selection and calibration; scores on test."""
    train = domain.read("train")
    schema = schema_for(domain.name, train)
    out = work / f"{domain.name}-{options.pop('tag', 'default')}"
    base = options.pop("base", directory_ref(DEFAULT_NER_MODEL_DIR))
    args = AdaptArgs(schema=schema, train=domain.train, dev=domain.dev, out=out, base=base, overwrite=True, **options)
    started = time.perf_counter()
    result = adapt(args)
    seconds = time.perf_counter() - started
    test = served_scores(out, domain.read("test"))
    return {
        "domain": domain.name,
        "train_sentences": len(train),
        "adapt_seconds": round(seconds, 1),
        "epochs": result.epochs,
        "dev_f1": result.dev_f1,
        "dev_ece": result.ece,
        "test": test,
        "dir": str(out),
    }


def part_crossner(root: Path, work: Path) -> dict[str, Any]:
    out = {}
    for name in DOMAINS:
        row = adapt_domain(crossner(root, name), work)
        row["nuner_zero"] = NUNER_ZERO[name]
        out[name] = row
        print(json.dumps({k: v for k, v in row.items() if k != "test"} | {"test_f1": row["test"]["f1"]}), flush=True)
    return out


def part_wnut(wnut: Path, work: Path) -> dict[str, Any]:
    """``calibrate`` the default model on half of dev (PER/LOC/ORG), then ``adapt`` on all of dev (six types)."""
    from hybrid_ner.learn.recalibrate import recalibrate

    dev, test = read_conll(wnut / "dev.conll"), read_conll(wnut / "test.conll")
    conll_dev, conll_test = relabel(dev, WNUT_TO_CONLL), relabel(test, WNUT_TO_CONLL)
    half = write_conll(conll_dev[: len(conll_dev) // 2], work / "wnut-dev-half.conll")
    kept = {"PER", "LOC", "ORG"}
    before = served_scores(DEFAULT_NER_MODEL_DIR, conll_test, kept)
    recal = recalibrate(directory_ref(DEFAULT_NER_MODEL_DIR), half, work / "wnut-calibrated", None)
    after = served_scores(Path(recal.out), conll_test, kept)
    schema = schema_for("wnut17", dev)
    args = AdaptArgs(
        schema=schema,
        train=wnut / "dev.conll",
        out=work / "wnut-adapted",
        base=directory_ref(DEFAULT_NER_MODEL_DIR),
        overwrite=True,
    )
    started = time.perf_counter()
    adapted = adapt(args)
    seconds = time.perf_counter() - started
    return {
        "calibrate": {
            "sample_sentences": recal.sentences,
            "test_before": before,
            "test_after": after,
            "seconds": recal.seconds,
        },
        "adapt": {
            "train_sentences": len(dev),
            "adapt_seconds": round(seconds, 1),
            "calibration": adapted.calibration,
            "cv_f1": adapted.dev_f1,
            "cv_ece": adapted.ece,
            "test": served_scores(Path(adapted.out), test),
        },
    }


def part_speed(model_dir: Path, text_source: Path, repeats: int = 7) -> dict[str, Any]:
    """Words/s of the adapted model against the default one, batched, one thread, alternating in one process; the
    ratio is the median of the pairs' ratios, so that the machine's drift during the run cancels out."""
    from eval.ner_bench import request_texts, timed_batch
    from hybrid_ner.ner.extractor import LocalNER

    texts = request_texts(read_conll(text_source), words=25, count=400)
    models = {"default": LocalNER(DEFAULT_NER_MODEL_DIR, threads=1), "adapted": LocalNER(model_dir, threads=1)}
    runs: dict[str, list[float]] = {k: [] for k in models}
    for _ in range(repeats):
        for name, model in models.items():
            runs[name].append(timed_batch(model.extract, texts, batch=64))
    ratios = [a / d for a, d in zip(runs["adapted"], runs["default"], strict=True)]
    return {
        "words_per_s": {k: round(median(v)) for k, v in runs.items()},
        "runs": runs,
        "ratio": round(median(ratios), 3),
    }


def merge(out_dir: Path, section: str, value: Any) -> dict[str, Any]:
    path = out_dir / REPORT
    report = json.loads(path.read_text()) if path.is_file() else {}
    report[section] = value
    path.write_text(json.dumps(report, indent=2) + "\n")
    return report


def main(argv: Sequence[str] | None = None) -> None:
    import torch

    from eval.adapt_report import write_markdown

    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--part", default="all", choices=["all", "crossner", "spacy", "wnut", "speed", "ablation", "curve"])
    p.add_argument("--crossner", type=Path, default=Path("../shared/data/crossner"))
    p.add_argument("--wnut", type=Path, default=Path("../shared/data/wnut17"))
    p.add_argument("--work", type=Path, default=Path("runs/adapt"))
    p.add_argument("--out", type=Path, default=Path("eval/reports"))
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seeds", default="1,2,3", help="the learning curve's seeds, comma-separated")
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    a.work.mkdir(parents=True, exist_ok=True)
    parts = ["crossner", "speed", "spacy", "wnut", "ablation", "curve"] if a.part == "all" else [a.part]
    for part in parts:
        report = merge(a.out, part, _run_part(part, a))
    write_markdown(report, a.out)


def _run_part(part: str, a: argparse.Namespace) -> Any:
    if part == "crossner":
        return part_crossner(a.crossner, a.work)
    if part == "speed":
        return part_speed(a.work / "politics-default", a.crossner / "politics" / "test.txt")
    if part == "wnut":
        return part_wnut(a.wnut, a.work)
    if part == "spacy":
        from eval.spacy_train import train_and_score

        with tempfile.TemporaryDirectory() as tmp:
            return {d: train_and_score(crossner(a.crossner, d), Path(tmp)) for d in DOMAINS}
    if part == "ablation":
        from eval.adapt_ablation import run_ablation

        return run_ablation(a.crossner, a.work)
    from eval.learning_curve import run_curve

    seeds = tuple(int(s) for s in a.seeds.split(","))
    return run_curve(crossner(a.crossner, "politics"), a.work, a.out, lambda done: merge(a.out, "curve", done), seeds)


if __name__ == "__main__":
    main()
