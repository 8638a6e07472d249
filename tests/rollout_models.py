"""Model variants for rollout tests, made from the shipped default model by editing its config (each has its own
content digest, written beside it as ``adapt`` would): the same helpers the rollout benchmark uses."""

from pathlib import Path

from eval.rollout_bench import mislabelling, recalibrated, variant

FOREIGN = ["O", "B-A", "I-A", "B-B", "I-B", "B-C", "I-C", "B-D", "I-D"]  # labels no schema type maps

__all__ = ["foreign", "mislabelling", "recalibrated", "variant"]


def foreign(root: Path) -> Path:
    """A model whose labels cover none of the default schema's types."""
    return variant(root, "foreign", lambda c: c.update(labels=FOREIGN))
