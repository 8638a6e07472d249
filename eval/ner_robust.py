"""How a NER model holds off edited news: CoNLL dev as written, lowercased and uppercased, and WNUT-17 test with
person → PER, location → LOC, corporation and group → ORG (only PER/LOC/ORG predictions count there). Each model
directory is scored in fp32 PyTorch under its own calibration, so training recipes compare on the same footing
(the served int8 graph is ``eval.ner_bench``'s job). With ``--train``, a second dev column counts only the entities
(gold and predicted) whose name that file never labels: half of CoNLL test's and most of a tweet's are.
Choices are made on dev; the test sets are not read here.

    python -m eval.ner_robust --conll-dev ../shared/data/conll2003/dev.txt --wnut ../shared/data/wnut17/test.conll \
        [--train ../shared/data/conll2003/train.txt] --out eval/reports/ner_robust.json MODEL_DIR [MODEL_DIR ...]
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Hashable, Sequence
from pathlib import Path
from typing import Any

from eval.adapt_data import WNUT_TO_CONLL, relabel
from hybrid_ner.cli._io import write_out
from hybrid_ner.ner.data import TaggedSentence, read_tagged

KEPT = frozenset({"PER", "LOC", "ORG"})
CONLL_LABELS = ("PER", "LOC", "ORG", "MISC")
UNSEEN = "conll dev, names unseen in training"
Unseen = Callable[[str], bool]


def _recased(data: Sequence[TaggedSentence], case: Any) -> list[TaggedSentence]:
    return [TaggedSentence([case(w) for w in s.words], list(s.tags)) for s in data]


def sets(conll_dev: Path, wnut: Path, limit: int | None = None) -> dict[str, tuple[list[TaggedSentence], Any]]:
    """The evaluation sets by name, each with the labels whose predictions count (None: all)."""
    dev = read_tagged(conll_dev)[:limit]
    tweets = relabel(read_tagged(wnut)[:limit], WNUT_TO_CONLL)
    return {
        "conll dev": (dev, None),
        "conll dev lowercased": (_recased(dev, str.lower), None),
        "conll dev uppercased": (_recased(dev, str.upper), None),
        "wnut17 test (PER/LOC/ORG)": (tweets, KEPT),
    }


def score_model(
    model_dir: Path, evaluation: dict[str, tuple[list[TaggedSentence], Any]], unseen: Unseen | None = None
) -> dict[str, Any]:
    """F1 and entity ECE of one model directory on each set; with ``unseen``, also on dev's unseen names."""
    from hybrid_ner.ner.model import load_model
    from hybrid_ner.ner.seen import SeenMentions
    from hybrid_ner.ner.train import evaluate, score

    model, tokenizer, config = load_model(model_dir)
    seen = SeenMentions.load(model_dir)  # the names it was trained on, for its map, as the service scores
    row: dict[str, Any] = {}
    for name, (data, kept) in evaluation.items():
        _, logps = evaluate(model, tokenizer, config, data)
        got = score(config, data, logps, kept, seen=seen)
        row[name] = {"f1": round(got["f1"], 4), "ece": round(got["ece"], 4)}
        if name == "conll dev" and unseen is not None:
            new = score(config, data, logps, kept, seen=seen, names=unseen)
            row[UNSEEN] = {"f1": round(new["f1"], 4), "ece": round(new["ece"], 4)}
    return row


def unseen_names(train: Path) -> Unseen:
    """Whether a name is one no sentence of ``train`` labels (under any label): the same test for every row."""
    from hybrid_ner.ner.seen import SeenMentions

    seen = SeenMentions.from_sentences(read_tagged(train))
    return lambda name: not any(seen.has(name, label) for label in CONLL_LABELS)


SPACY_ROW = "spaCy sm (en_core_web_sm 3.8, OntoNotes labels mapped to CoNLL's)"


def score_spacy(
    evaluation: dict[str, tuple[list[TaggedSentence], Any]], unseen: Unseen | None = None
) -> dict[str, Any]:
    """spaCy sm's F1 on each set, on the gold tokens; it gives no entity confidence, so no ECE."""
    import spacy

    from eval.ner_bench import SPACY_PACKAGE, gold_keys, spacy_keys
    from hybrid_ner.ner.metrics import score_entities

    nlp = spacy.load(SPACY_PACKAGE)
    row = {}
    for name, (data, kept) in evaluation.items():
        gold, got = gold_keys(data), spacy_keys(nlp, data, kept)
        row[name] = {"f1": round(score_entities(gold, got).micro.f1, 4), "ece": None}
        if name == "conll dev" and unseen is not None:
            texts: dict[Hashable, str] = {i: " ".join(s.words) for i, s in enumerate(data)}
            new = [{k for k in keys if unseen(texts[k[0]][k[1] : k[2]])} for keys in (gold, got)]
            row[UNSEEN] = {"f1": round(score_entities(*new).micro.f1, 4), "ece": None}
    return row


NONE: dict[str, float | None] = {"f1": None, "ece": None}  # a set a row has no score on


def _cell(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}"


def markdown(rows: dict[str, dict[str, Any]]) -> str:
    names = list(next(iter(rows.values())))
    head = "| model | " + " | ".join(f"{n} F1 | ECE" for n in names) + " |"
    rule = "|---|" + "---|---|" * len(names)
    body = [
        f"| {model} | "
        + " | ".join(f"{_cell(r.get(n, NONE)['f1'])} | {_cell(r.get(n, NONE)['ece'])}" for n in names)
        + " |"
        for model, r in rows.items()
    ]
    return "\n".join([head, rule, *body]) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("models", type=Path, nargs="+", help="model directories (train-ner --out)")
    ap.add_argument("--conll-dev", type=Path, required=True)
    ap.add_argument("--wnut", type=Path, required=True, help="WNUT-17 test.conll")
    ap.add_argument("--out", type=Path, required=True, help="JSON report; a .md table is written beside it")
    ap.add_argument("--limit", type=int, default=None, help="only the first N sentences of each set")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--spacy", action="store_true", help="add spaCy sm's F1 on the same sets")
    ap.add_argument("--train", type=Path, default=None, help="CoNLL train: also score dev's names it never labels")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    evaluation = sets(args.conll_dev, args.wnut, args.limit)
    unseen = unseen_names(args.train) if args.train else None
    rows = {str(m): score_model(m, evaluation, unseen) for m in args.models}
    if args.spacy:
        rows[SPACY_ROW] = score_spacy(evaluation, unseen)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    for path, text in [(args.out, json.dumps(rows, indent=1)), (args.out.with_suffix(".md"), markdown(rows))]:
        write_out(path, iter([text]))
    print(markdown(rows))


if __name__ == "__main__":
    main()
