"""Fit ``kb/title_types.npz``: coarse types of Wikipedia titles from their words and redirects.

``python -m eval.title_types --kb ../shared/data/el/kb.jsonl`` takes the ELEVANT KB entities that have a type
and whose name is a DBpedia title with redirects, holds a fifth out, reports accuracy, picks per type the lowest
probability at which held-out guesses of that type reach ``--precision``, refits on everything and writes the
model.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from kb.dbpedia import read_redirects, title_key
from kb.title_types import MODEL, TitleTyper, feature_matrix

# ELEVANT's coarse types → the type words the bundled KB gives entities (``linking.kinds.TYPE_WORDS`` reads them).
TYPES = {
    "Person": "person",
    "Organization": "organization",
    "Geographic Entity": "location",
    "Creative Work": "creative work",
    "Event": "event",
    "Product": "product",
}


# One label per entity: a country is also an organisation in Wikidata, a company also a product.
PRIORITY = ("person", "location", "organization", "event", "creative work", "product")


def labelled(kb: Path, redirects: dict[str, list[str]]) -> tuple[list[str], list[str]]:
    titles, labels = [], []
    for line in kb.open(encoding="utf-8"):
        entity = json.loads(line)
        key = title_key(entity.get("name", ""))
        types = [TYPES[t] for t in entity.get("types", []) if t in TYPES]
        if key in redirects and types:
            titles.append(key)
            labels.append(next(t for t in PRIORITY if t in types))
    return titles, labels


def main() -> None:
    from sklearn.linear_model import LogisticRegression

    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--kb", type=Path, required=True)
    ap.add_argument("--precision", type=float, default=0.9)
    ap.add_argument("--out", type=Path, default=MODEL)
    args = ap.parse_args()
    redirects = read_redirects().aliases
    titles, labels = labelled(args.kb, redirects)
    x = feature_matrix(titles, [redirects[t] for t in titles])
    y = np.array(labels)
    order = np.random.default_rng(0).permutation(len(y))
    cut = int(0.8 * len(y))
    train, held = order[:cut], order[cut:]
    model = LogisticRegression(C=4.0, max_iter=3000).fit(x[train], y[train])
    probs = model.predict_proba(x[held])
    right = model.classes_[probs.argmax(axis=1)] == y[held]
    predicted = model.classes_[probs.argmax(axis=1)]
    right = predicted == y[held]
    report: dict[str, object] = {"examples": len(y), "held_out": len(held), "accuracy": round(float(right.mean()), 4)}
    sure = []  # per type: the lowest probability at which held-out guesses of that type reach the precision
    for kind in model.classes_:
        mine = predicted == kind
        found = 1.0
        for t in np.arange(0.95, 0.45, -0.05):
            kept = mine & (probs.max(axis=1) >= t)
            if kept.sum() >= 10 and right[kept].mean() >= args.precision:
                found = float(t)
        sure.append(round(found, 2))
        kept = mine & (probs.max(axis=1) >= found)
        report[str(kind)] = {
            "sure": round(found, 2),
            "precision": round(float(right[kept].mean()), 3) if kept.any() else None,
            "recall": round(float((kept & right).sum() / max(1, (y[held] == kind).sum())), 3),
        }
    model = LogisticRegression(C=4.0, max_iter=3000).fit(x, y)
    TitleTyper(list(model.classes_), model.coef_, model.intercept_, np.array(sure)).save(args.out)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
