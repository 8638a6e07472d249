"""The model card an adapted or recalibrated model carries (``README.md`` beside its files)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hybrid_ner.ner.model import NERConfig


def _per_label(dev: dict[str, Any]) -> str:
    return "\n".join(f"| {k} | {v:.4f} |" for k, v in sorted(dev.get("per_label_f1", {}).items()))


def _offsets(config: NERConfig) -> str:
    return ", ".join(f"{k} {v:+.2f}" for k, v in sorted(config.platt_offsets.items())) or "none"


def write_card(directory: Path, args: Any, config: NERConfig) -> None:
    """What the model is for, what it was made from, and how good it was on held-out data."""
    a = config.metrics.get("adapt", {})
    dev = config.metrics.get("dev", {})
    types = "\n".join(f"- `{t}`: {d or '(no description)'}" for t, d in config.descriptions.items())
    (Path(directory) / "README.md").write_text(
        f"""# hybrid-ner adapted NER model

Adapted with `hybrid-ner adapt` for the schema `{a.get("schema", "?")}`, starting from `{a.get("base", "?")}`.

## Types
{types}

Types of the schema with no training data (served by the LLM or rules, not by this model):
{", ".join(a.get("untrained", [])) or "none"}.

## Data
- train: `{Path(str(args.train)).name}`, {a.get("train_sentences")} sentences, sha256 `{a.get("train_digest")}`
- dev: {f"`{Path(str(args.dev)).name}`, {a.get('dev_sentences')} sentences" if args.dev else "none (folds of train)"}
- data digest: `{a.get("data_digest")}`

## Training
{a.get("epochs")} epochs kept (best on held-out data), batch {a.get("batch_size")}, learning rate {a.get("lr")},
seed {a.get("seed")}; {a.get("seconds")} s in all on this machine.

## Held-out scores (calibrated on {a.get("calibration")}: dev through the served runtime, folds through fp32 models)
micro F1 {dev.get("f1", 0):.4f}, precision {dev.get("precision", 0):.4f}, recall {dev.get("recall", 0):.4f},
entity ECE {dev.get("ece", 0):.4f}; temperature {config.temperature:.2f}, Platt a={config.platt_a:.3f}
b={config.platt_b:.3f}, with an intercept per type: {_offsets(config)}.

| type | F1 |
|---|---|
{_per_label(dev)}

## Format
As every hybrid-ner model directory: `weights.safetensors` (fp16, without the frozen word embeddings, read from
`{config.base_package}=={config.base_version}`), `ner_config.json` (labels, calibration, these metrics),
`ner.int8.onnx` (the served static-int8 graph) and `digest.txt` (the digest of their content).
Register it with `hybrid-ner models add NAME DIR` to serve it.
"""
    )
