"""The served NER on tweets: WNUT-17 test (person → PER, location → LOC, corporation and group → ORG; only
PER/LOC/ORG predictions count) through the service's extractor, its decoding rules included, beside the same
extractor without the rule that drops a post's retweet marker ("RT @user"), in the same run.

    python -m eval.ner_tweets --wnut ../shared/data/wnut17/test.conll --out eval/reports/ner_tweets.json
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast
from unittest import mock

from eval.adapt_data import WNUT_TO_CONLL, relabel
from hybrid_ner.cli._io import write_out
from hybrid_ner.config import Settings
from hybrid_ner.ner.data import TaggedSentence, read_tagged
from hybrid_ner.ner.extractor import LocalNER, make_local_ner

KEPT = ("PER", "LOC", "ORG")
Spans = set[tuple[int, int, str]]


def gold(sentence: TaggedSentence) -> Spans:
    """(first word, end word, label) of each kept entity of a BIO-tagged sentence."""
    out: Spans = set()
    start, label = -1, ""
    for i, tag in enumerate([*sentence.tags, "O"]):
        if start >= 0 and not tag.startswith("I-"):
            out.add((start, i, label))
            start = -1
        if tag.startswith("B-") or (tag.startswith("I-") and start < 0):
            start, label = i, tag[2:]
    return {s for s in out if s[2] in KEPT}


def predicted(ner: LocalNER, data: Sequence[TaggedSentence]) -> list[Spans]:
    """The extractor's kept entities of each sentence, as word spans."""
    _, found = ner.extract_tokens([s.words for s in data])
    out = []
    for s, ents in zip(data, found, strict=True):
        starts, ends, pos = {}, {}, 0
        for i, w in enumerate(s.words):
            starts[pos], ends[pos + len(w)] = i, i + 1
            pos += len(w) + 1
        spans = {(starts.get(e.span.start, -1), ends.get(e.span.end, -1), e.span.label) for e in ents}
        out.append({x for x in spans if x[2] in KEPT})
    return out


def prf(golds: Sequence[Spans], preds: Sequence[Spans]) -> dict[str, float]:
    tp = sum(len(g & p) for g, p in zip(golds, preds, strict=True))
    n_pred, n_gold = sum(map(len, preds)), sum(map(len, golds))
    p, r = tp / max(n_pred, 1), tp / max(n_gold, 1)
    return {"p": round(p, 4), "r": round(r, 4), "f1": round(2 * p * r / (p + r) if p + r else 0.0, 4)}


def run(wnut: Path, settings: Settings) -> dict[str, Any]:
    data = relabel(read_tagged(wnut), WNUT_TO_CONLL)
    golds = [gold(s) for s in data]
    ner = cast(LocalNER, make_local_ner(settings))  # the service's default extractor, as HNER_ settings build it
    served = prf(golds, predicted(ner, data))
    with mock.patch("hybrid_ner.ner.extractor.drop_retweet_markers", lambda spans, sentence: list(spans)):
        without = prf(golds, predicted(ner, data))
    return {"sentences": len(data), "model": ner.version, "served": served, "without_retweet_rule": without}


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--wnut", type=Path, required=True)
    ap.add_argument("--out", type=Path, default=Path("eval/reports/ner_tweets.json"))
    args = ap.parse_args(argv)
    result = run(args.wnut, Settings())
    write_out(args.out, iter([json.dumps(result, indent=2) + "\n"]))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
