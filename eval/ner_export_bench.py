"""The served graph's layout, measured: each export layout of one model in one run, on dev data only.

For every layout in :data:`LAYOUTS` the model is exported into a private copy of its directory (calibrated on
every 10th dev sentence, as ``make train-student`` does), then scored on the dev sentences with the gold tokens
(F1 and ECE of the served confidences, beside the fp32 torch model) and timed at one thread: the graph alone over
every dev window in the served batches, and whole ``extract`` calls over the dev sentences as raw text. Timings
alternate between the layouts round by round and the median is reported, so both see the same machine state.
``make ner-export-bench`` → ``eval/reports/ner_export.{md,json}``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from eval.ner_bench import entity_keys, gold_keys, score_ours, timed_batch
from hybrid_ner.config import DEFAULT_NER_MODEL_DIR
from hybrid_ner.ner.data import TaggedSentence, read_tagged
from hybrid_ner.ner.metrics import EntityKey
from hybrid_ner.ner.static_int8 import QDQ_V1, QOPERATOR_V2, Layout

LAYOUTS: dict[str, Layout] = {"qdq-v1": QDQ_V1, "qoperator-v2": QOPERATOR_V2, "outliers-v3 (default)": Layout()}
BASELINE = "qoperator-v2"


def _export(model_dir: Path, into: Path, layout: Layout, calibration: Sequence[Sequence[str]]) -> Path:
    from hybrid_ner.ner.static_int8 import export_onnx

    shutil.copytree(model_dir, into)
    export_onnx(into, calibration, layout=layout)
    return into


def _graph_feeds(ner: Any, sentences: Sequence[Sequence[str]]) -> list[dict[str, Any]]:
    """The graph's inputs for every window of ``sentences``, in the served batches (built once, outside timing)."""
    from hybrid_ner.ner.encoding import collate, make_windows
    from hybrid_ner.ner.static_int8 import _feeds

    windows = sorted(make_windows(ner.tokenizer, sentences, ner.max_tokens), key=lambda w: len(w.input_ids))
    size = ner.batch_size
    return [_feeds(collate(windows[i : i + size]), ner.model.table) for i in range(0, len(windows), size)]


def _graph_seconds(ner: Any, feeds: Sequence[dict[str, Any]]) -> float:
    """One pass of the graph alone over ``feeds``."""
    session = ner.model.session
    t0 = time.perf_counter()
    for feed in feeds:
        session.run(None, feed)
    return time.perf_counter() - t0


def _quality(ner: Any, data: Sequence[TaggedSentence], fp32: set[EntityKey]) -> dict[str, float]:
    """F1 against gold, on the gold tokens and as raw text; ECE; and agreement with the fp32 model's entities
    (F1 against them as if they were gold), which tells layouts apart with less noise than dev F1 does."""
    _, report = score_ours(ner, data, gold_keys(data), fp32)
    return {"f1": report["micro"]["f1"], "raw_text_f1": report["raw_text_f1"], "ece": report["ece"],
            "agrees_with_fp32": report["agrees_with_reference"]}  # fmt: skip


def run(model_dir: Path, dev_path: Path, out_dir: Path, rounds: int = 5, limit: int | None = None) -> dict[str, Any]:
    """Export every layout, score each on dev, time them in alternating rounds; write the report."""
    import torch

    from hybrid_ner.ner.extractor import LocalNER

    torch.set_num_threads(1)
    data = read_tagged(dev_path)[:limit] if limit else read_tagged(dev_path)
    sentences = [s.words for s in data]
    texts = [" ".join(words) for words in sentences]
    words = sum(len(s) for s in sentences)
    with tempfile.TemporaryDirectory() as tmp:
        served = {
            name: LocalNER(_export(model_dir, Path(tmp) / str(i), layout, sentences[::10]), threads=1)
            for i, (name, layout) in enumerate(LAYOUTS.items())
        }
        fp32 = LocalNER(model_dir, threads=1, runtime="torch", quantize=False)
        reference = set(entity_keys(fp32.extract_tokens(sentences)[1]))
        quality = {name: _quality(ner, data, reference) for name, ner in served.items()}
        quality["torch fp32"] = _quality(fp32, data, reference)
        graph: dict[str, list[float]] = {name: [] for name in served}
        whole: dict[str, list[float]] = {name: [] for name in served}
        feeds = {name: _graph_feeds(ner, sentences) for name, ner in served.items()}
        for ner in served.values():  # warm-up
            ner.extract(texts[:64])
        for _ in range(rounds):
            for name, ner in served.items():
                graph[name].append(_graph_seconds(ner, feeds[name]))
                whole[name].append(words / timed_batch(ner.extract, texts))
    speed = {
        name: {
            "graph_s": statistics.median(graph[name]),
            "extract_words_per_s": words / statistics.median(whole[name]),
            "graph_rounds_s": graph[name],
            "extract_rounds_s": whole[name],
        }
        for name in served
    }
    result = {"model": model_dir.name, "dev": dev_path.name, "sentences": len(data), "words": words,
              "rounds": rounds, "baseline": BASELINE, "quality": quality, "speed": speed}  # fmt: skip
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "ner_export.json").write_text(json.dumps(result, indent=2) + "\n")
    (out_dir / "ner_export.md").write_text(render(result))
    return result


def render(result: dict[str, Any]) -> str:
    base = result["speed"][result["baseline"]]
    lines = [
        f"# Served graph layouts: {result['model']} on {result['dev']} ({result['sentences']} sentences)",
        "",
        "Each layout exported from the same weights in this run and calibrated on every 10th dev sentence. F1 on",
        "the gold tokens and on the same sentences as raw text; ECE of the served confidences; agreement with the",
        "fp32 model's entities (F1 against them). Speed at one thread,",
        f"median of {result['rounds']} alternating rounds: the graph alone over every dev window in the served",
        "batches, and whole `extract` calls on raw text. Reproduce: `make ner-export-bench`.",
        "",
        "| layout | F1 | raw F1 | ECE | agrees with fp32 | graph s | graph speed-up | extract words/s | extract ratio"
        " |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, q in result["quality"].items():
        s = result["speed"].get(name)
        timing = (
            f"{s['graph_s']:.3f} | {base['graph_s'] / s['graph_s']:.2f}x | {s['extract_words_per_s']:.0f} | "
            f"{s['extract_words_per_s'] / base['extract_words_per_s']:.2f}x"
            if s
            else " | | |"
        )
        scores = f"{q['f1']:.4f} | {q['raw_text_f1']:.4f} | {q['ece']:.4f} | {q['agrees_with_fp32']:.4f}"
        lines.append(f"| {name} | {scores} | {timing} |")
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dev", type=Path, required=True, help="CoNLL dev file (never test)")
    p.add_argument("--model", type=Path, default=DEFAULT_NER_MODEL_DIR)
    p.add_argument("--out", type=Path, default=Path("eval/reports"))
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--limit", type=int, default=None, help="first N sentences only (smoke runs)")
    args = p.parse_args(argv)
    result = run(args.model, args.dev, args.out, args.rounds, args.limit)
    print(render(result))


if __name__ == "__main__":
    main()
