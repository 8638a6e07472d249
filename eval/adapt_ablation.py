"""What each adaptation choice adds, on CrossNER politics (train 200 sentences, dev for the epoch and the
calibration, test scored through the served runtime): the default ``adapt`` against the same run without one
choice, or with an option it does not take by default."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from eval.adapt_data import crossner
from hybrid_ner.config import MODELS_DIR
from hybrid_ner.model_registry import directory_ref

VARIANTS: dict[str, dict[str, Any]] = {
    "adapt (default: rows from the closest base types, 400 steps)": {},
    "new rows from the mean of the base rows (no name/description match)": {"similarity_init": False},
    "+ mention replacement (1 swapped copy per sentence)": {"augment": 1},
    "6-layer base model (ner-conll-minilm) instead of the 4-layer served one": {
        "base": directory_ref(MODELS_DIR / "ner-conll-minilm")
    },
}


def run_ablation(root: Path, work: Path, domain: str = "politics") -> dict[str, Any]:
    from eval.adapt_bench import adapt_domain

    out = {}
    for i, (name, options) in enumerate(VARIANTS.items()):
        row = adapt_domain(crossner(root, domain), work, tag=f"ablation-{i}", **options)
        out[name] = {
            "test_f1": row["test"]["f1"],
            "test_ece": row["test"]["ece"],
            "dev_f1": row["dev_f1"],
            "adapt_seconds": row["adapt_seconds"],
            "per_label_f1": row["test"]["per_label_f1"],
        }
        print(name, out[name]["test_f1"], flush=True)
    return {"domain": domain, "variants": out}
