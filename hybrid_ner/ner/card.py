"""The model card a training run writes beside its weights (``README.md``): what the model learnt from, by name
and content digest, how it scored on dev, and under which licences."""

from __future__ import annotations

import hashlib
import os
import platform
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hybrid_ner.ner.model import NERConfig
    from hybrid_ner.ner.train import TrainArgs

UNLABELLED_LICENCE = "- Unlabelled text: under its own licence (the vital articles' lead paragraphs are CC BY-SA)."


def data_digests(args: TrainArgs) -> dict[str, dict[str, str]]:
    """Each data file's content digest by its role, so a model names exactly what it learnt from."""
    files = [("train", args.train), ("dev", args.dev)]
    files += [(f"holdout {i}", p) for i, p in enumerate(args.holdouts, 1)]
    files += [(f"unlabelled {i}", p) for i, p in enumerate(args.unlabelled, 1)]
    files += [("names", args.names)] if args.replace and args.names else []
    return {role: {"file": p.name, "sha256": hashlib.sha256(p.read_bytes()).hexdigest()} for role, p in files}


def _distilled(args: TrainArgs) -> str:
    layers = f"the encoder's first {args.layers} layers" if args.layers else "all encoder layers"
    if args.teacher is None:
        return f"Encoder depth: {layers}."
    return (
        f"A student with {layers}, started from and distilled from the teacher `{args.teacher.name}` (token KL at "
        f"temperature {args.distil_temperature}, weight {args.distil_weight}, beside cross-entropy on the gold tags)."
    )


def _noise(args: TrainArgs) -> str:
    out = ""
    if args.noise:
        out += (
            f", with a noisy copy of {args.noise:.0%} of them: recased, a hashtag, a user handle or no final stop; "
            "the teacher reads the clean original of a recased copy"
        )
    if args.replace and args.names:
        out += f", and a copy of {args.replace:.0%} of them with names swapped for others from `{args.names.name}`"
    return out


def write_model_card(args: TrainArgs, config: NERConfig) -> None:
    """``README.md`` in ``args.out``: data with digests, teacher, dev metrics per label and epoch, licences."""
    dev = config.metrics["dev"]
    per = "\n".join(f"| {k} | {v:.4f} |" for k, v in dev["per_label_f1"].items())
    history = "\n".join(f"| {h['epoch']} | {h['dev_f1']:.4f} | {h['seconds']:.0f} |" for h in args.history)
    (args.out / "README.md").write_text(
        f"""# hybrid-ner local NER model

Token classifier for {", ".join(sorted({lab[2:] for lab in config.labels if lab != "O"}))}, fine-tuned from the
`{config.base_package}=={config.base_version}` encoder (sentence-transformers/all-MiniLM-L6-v2) with
word-shape features (uncased encoder; shape ids restore capitalisation). Trained with `hybrid-ner train-ner`.
{_distilled(args)}

## Data
- train: `{args.train.name}` ({config.metrics["train_sentences"]} sentences{_noise(args)}), seed {args.seed}
- dev (model selection and calibration): `{args.dev.name}` ({config.metrics["dev_sentences"]} sentences)
- unlabelled, labelled by the teacher: {config.metrics["unlabelled_sentences"]} sentences
- sha256 of each file: {"; ".join(f"{r} `{d['file']}` {d['sha256'][:16]}" for r, d in config.metrics["data"].items())}

## Dev metrics (calibrated)
micro F1 {dev["f1"]:.4f}, precision {dev["precision"]:.4f}, recall {dev["recall"]:.4f}, entity ECE {dev["ece"]:.4f};
temperature {config.temperature:.2f}, Platt a={config.platt_a:.3f} b={config.platt_b:.3f}; a name labelled in
training (`seen_mentions.u64`) adds {config.platt_seen[1]:+.3f} to a and {config.platt_seen[0]:+.3f} to b.

| label | dev F1 |
|---|---|
{per}

| epoch | dev F1 | seconds |
|---|---|---|
{history}

Test-set figures come from `python -m eval.ner_bench` and are kept in `eval/reports/`.

## Format
`weights.safetensors` holds every weight in fp16 except the word-embedding matrix, which was frozen during
training and is read from the installed base package at load time. `ner_config.json` holds labels,
calibration and these metrics. `ner.int8.onnx`, written by `hybrid-ner export-ner`, is what the service runs: the
same network after the embedding lookup, with static int8 MatMuls, tied to these weights by their digest.

## Licences
- Base encoder weights: Apache-2.0 (sentence-transformers/all-MiniLM-L6-v2); wrapper package: MIT.
- Training data: CoNLL-2003 (Reuters RCV1 text, used under the Reuters research agreement terms); the data is
  not redistributed here, only weights derived from it. Check that your use fits those terms.
{UNLABELLED_LICENCE if args.unlabelled else ""}
"""
    )


SERVED_HEADING = "## Served graph"


def served_section(calibration: Path, sentences: int, words_per_s: float) -> str:
    """What ``export-ner`` adds to the card: the calibration data by digest and the graph's measured speed."""
    digest = hashlib.sha256(calibration.read_bytes()).hexdigest()[:16]
    return (
        f"{SERVED_HEADING}\n`ner.int8.onnx` exported by `hybrid-ner export-ner`, with activation ranges calibrated on "
        f"{sentences} sentences of `{calibration.name}` (sha256 {digest}); the input channels of a down-projection "
        "that peak far above the rest there are a product of their own, in fp32. Measured at export on those "
        f"sentences, one thread ({os.cpu_count()} cores, {_cpu()}): {words_per_s:,.0f} words/s through `extract`. "
        "`make bench` times every runtime beside spaCy sm in one run.\n"
    )


def _cpu() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text(errors="replace").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.machine()


def with_served_section(card: str, section: str) -> str:
    """``card`` with its served-graph section replaced by ``section`` (added before the licences if it has none)."""
    if SERVED_HEADING in card:
        head, _, rest = card.partition(SERVED_HEADING)
        tail = rest[rest.find("\n## ") + 1 :] if "\n## " in rest else ""
        return f"{head}{section}\n{tail}"
    head, marker, tail = card.partition("## Licences")
    return f"{head}{section}\n{marker}{tail}" if marker else f"{card.rstrip()}\n\n{section}"
