"""spaCy's own training on the same splits, as a user of spaCy would run it: ``spacy init config --pipeline ner
--optimize efficiency`` (the default CPU config for English NER), ``spacy train`` on train with dev, then the best
model scored on test by exact span and type, like ours."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from eval.adapt_data import Domain
from hybrid_ner.ner.metrics import EntityKey, score_entities
from hybrid_ner.ner.tags import spans_from_bio


def _docbin(sentences: Any, path: Path) -> Path:
    import spacy
    from spacy.tokens import Doc, DocBin

    vocab = spacy.blank("en").vocab
    DocBin(docs=[Doc(vocab, words=s.words, ents=s.tags) for s in sentences]).to_disk(path)
    return path


def train_and_score(domain: Domain, work: Path) -> dict[str, Any]:
    import spacy
    from spacy.tokens import Doc

    work = work / domain.name
    work.mkdir(parents=True, exist_ok=True)
    train, dev = _docbin(domain.read("train"), work / "train.spacy"), _docbin(domain.read("dev"), work / "dev.spacy")
    config = work / "config.cfg"
    spacy_cli = [sys.executable, "-m", "spacy"]
    subprocess.run(
        [
            *spacy_cli,
            "init",
            "config",
            str(config),
            "--lang",
            "en",
            "--pipeline",
            "ner",
            "--optimize",
            "efficiency",
            "--force",
        ],
        check=True,
        capture_output=True,
    )
    started = time.perf_counter()
    subprocess.run(
        [
            *spacy_cli,
            "train",
            str(config),
            "--output",
            str(work / "out"),
            "--paths.train",
            str(train),
            "--paths.dev",
            str(dev),
        ],
        check=True,
        capture_output=True,
    )
    seconds = time.perf_counter() - started
    nlp = spacy.load(work / "out" / "model-best")
    gold: set[EntityKey] = set()
    pred: set[EntityKey] = set()
    for i, s in enumerate(domain.read("test")):
        gold |= {(i, a, b, t) for a, b, t in spans_from_bio(s.tags)}
        pred |= {(i, e.start, e.end, e.label_) for e in nlp(Doc(nlp.vocab, words=s.words)).ents}
    scores = score_entities(gold, pred)
    m = scores.micro
    return {
        "test": {"f1": round(m.f1, 4), "precision": round(m.precision, 4), "recall": round(m.recall, 4)},
        "train_seconds": round(seconds, 1),
        "spacy": spacy.about.__version__,
    }
