"""``hybrid-ner adapt``: fine-tune a served model for a schema's types from a few hundred labelled sentences.

The model starts from a base (the served CoNLL model by default), so what it knows about people, places and
organisations carries over; each schema type gets new output rows started from the base rows it resembles
(``heads``). The schedule scales with the data (a fixed number of optimiser steps, a tenth of them warm-up), dev
picks the best epoch, and the confidence map is fitted on dev through the served runtime (ONNX static int8) after
export, so the scores the service returns are the calibrated ones. Without a dev file the training data is cut
into folds: models trained on the others score each fold, which picks the epoch count and fits the calibration,
then the final model trains on everything. The directory is written whole or not at all.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from statistics import median
from typing import Any

import numpy as np
import torch

from hybrid_ner.learn.augment import replace_mentions
from hybrid_ner.learn.card import write_card
from hybrid_ner.learn.data import Labelled, read_labelled
from hybrid_ner.learn.heads import base_descriptions, start_head, type_sources
from hybrid_ner.model_registry import ModelRef
from hybrid_ner.ner.artifacts import atomic_dir, write_digest
from hybrid_ner.ner.data import TaggedSentence
from hybrid_ner.ner.holdout import Holdout, check_disjoint
from hybrid_ner.ner.model import CaseAwareTokenClassifier, NERConfig, load_model, save_model
from hybrid_ner.ner.tags import bio_labels
from hybrid_ner.ner.train import TrainArgs, calibrate, evaluate, fit, score
from hybrid_ner.rollout.profile import write_reference
from hybrid_ner.schemas import Schema

log = logging.getLogger(__name__)
TARGET_STEPS = 400  # optimiser steps for any amount of data: few sentences get more epochs, many fewer
Progress = Callable[[int, int, float], None]


@dataclass
class AdaptArgs:
    schema: Schema
    train: Path
    out: Path
    base: ModelRef
    dev: Path | None = None
    epochs: int | None = None  # None: TARGET_STEPS worth of epochs
    seed: int = 13
    batch_size: int = 16
    lr: float = 2e-4
    head_lr: float = 2e-3
    folds: int = 3
    similarity_init: bool = True
    augment: int = 0  # mention-replaced copies of each training sentence (``augment``)
    overwrite: bool = False
    holdouts: Sequence[Holdout] = ()  # evaluation sets the training data must not hold, besides ``dev``


@dataclass
class Adapted:
    """What ``adapt`` prints: the model's labels, its dev scores and where it is."""

    out: str
    labels: list[str]
    dev_f1: float
    ece: float
    seconds: float
    epochs: int
    calibration: str
    digest: str
    base: str
    untrained: list[str] = field(default_factory=list)


REFERENCE_TEXTS = 2000


def adapt(args: AdaptArgs, progress: Progress | None = None) -> Adapted:
    """Read and check the data, train, export, calibrate, and write ``args.out`` atomically."""
    started = time.perf_counter()
    types = [t.name for t in args.schema.types]
    train = read_labelled(args.train, types)
    dev = read_labelled(args.dev, types) if args.dev is not None else None
    held = [Holdout(str(args.dev), dev.sentences)] if dev is not None else []
    check_disjoint(args.train, train.sentences, [*held, *args.holdouts])
    labels = [t for t in types if t in set(train.types)]
    torch.manual_seed(args.seed)
    with atomic_dir(args.out, overwrite=args.overwrite) as tmp:
        if dev is not None:
            model, config, epochs = _train_with_dev(args, labels, train, dev, progress)
            calibration, held_out = "dev", dev.sentences
            logps = _served_logprobs(model, config, tmp, train, dev)
        else:
            logps, held_out, epochs = _cross_fit(args, labels, train)
            model, tokenizer, config = _start(args, labels)
            sentences = _training(args, train.sentences)
            fit(model, tokenizer, config, _train_args(args, epochs, len(sentences)), sentences, [], None, progress)
            _served_logprobs(model, config, tmp, train, None)
            calibration = f"{args.folds}-fold"
        calibrate(config, held_out, logps, by_label=True)
        metrics = score(config, held_out, logps)
        untrained = [t for t in types if t not in labels]
        config.metrics = _metrics(args, train, dev, metrics, epochs, calibration, untrained, started)
        config.save(tmp)
        write_card(tmp, args, config)
        digest = write_digest(tmp)
        texts = [" ".join(s.words) for s in [*train.sentences, *(dev.sentences if dev else [])]]
        write_reference(tmp, texts[:REFERENCE_TEXTS], args.schema)  # what drift compares live input with
    return Adapted(
        str(Path(args.out).resolve()), labels, round(metrics["f1"], 4), round(metrics["ece"], 4),
        round(time.perf_counter() - started, 1), epochs, calibration, digest, _base_name(args.base), untrained,
    )  # fmt: skip


def _base_name(base: ModelRef) -> str:
    return f"{base.name}@{base.digest[:12]}"


def _start(args: AdaptArgs, labels: Sequence[str]) -> tuple[CaseAwareTokenClassifier, Any, NERConfig]:
    """The base model with a new head for ``labels``, its rows started from the base rows they resemble."""
    base, tokenizer, base_config = load_model(args.base.path)
    wanted = [args.schema.get_type(t) for t in labels]
    config = NERConfig(
        labels=bio_labels(labels),
        use_shape=base_config.use_shape,
        shape_dim=base_config.shape_dim,
        layers=base_config.layers,
        base_version=base_config.base_version,
        descriptions={t.name: t.description for t in wanted},
    )
    model = CaseAwareTokenClassifier(base.encoder, config)
    model.load_state_dict({k: v for k, v in base.state_dict().items() if not k.startswith("classifier.")}, strict=False)
    sources = type_sources(wanted, base_descriptions(base_config), similarity=args.similarity_init)
    start_head(model, base, base_config, config, sources)
    return model, tokenizer, config


def _epochs(args: AdaptArgs, sentences: int) -> int:
    if args.epochs is not None:
        return args.epochs
    steps_per_epoch = math.ceil(sentences / args.batch_size)
    return max(4, min(100, math.ceil(TARGET_STEPS / steps_per_epoch)))


def _training(args: AdaptArgs, sentences: list[TaggedSentence]) -> list[TaggedSentence]:
    """The sentences to train on: the labelled ones, plus mention-replaced copies when asked for."""
    return sentences + replace_mentions(sentences, args.augment, args.seed) if args.augment else sentences


def _train_args(args: AdaptArgs, epochs: int, sentences: int) -> TrainArgs:
    total = math.ceil(sentences / args.batch_size) * epochs
    return TrainArgs(
        train=args.train, dev=args.dev or args.train, out=args.out, epochs=epochs, batch_size=args.batch_size,
        lr=args.lr, head_lr=args.head_lr, warmup=max(1, total // 10), seed=args.seed,
        eval_every=max(1, epochs // 10),
    )  # fmt: skip


def _train_with_dev(
    args: AdaptArgs, labels: Sequence[str], train: Labelled, dev: Labelled, progress: Progress | None
) -> tuple[CaseAwareTokenClassifier, NERConfig, int]:
    model, tokenizer, config = _start(args, labels)
    sentences = _training(args, train.sentences)
    targs = _train_args(args, _epochs(args, len(sentences)), len(sentences))
    fit(model, tokenizer, config, targs, sentences, dev.sentences, None, progress)
    best = max(targs.history, key=lambda h: h["dev_f1"]) if targs.history else {"epoch": targs.epochs}
    return model, config, int(best["epoch"])


def train_fixed(
    args: AdaptArgs, labels: Sequence[str], sentences: list[TaggedSentence]
) -> tuple[CaseAwareTokenClassifier, Any, NERConfig]:
    """The model trained on ``sentences`` for the default schedule, with no held-out data to pick an epoch or fit
    a calibration (a learning curve measures this; ``adapt`` always holds data out)."""
    model, tokenizer, config = _start(args, labels)
    data = _training(args, sentences)
    fit(model, tokenizer, config, _train_args(args, _epochs(args, len(data)), len(data)), data, [])
    return model, tokenizer, config


def _cross_fit(
    args: AdaptArgs, labels: Sequence[str], train: Labelled
) -> tuple[list[np.ndarray], list[TaggedSentence], int]:
    """Out-of-fold log-probs (each fold scored by a model trained on the others) and the median best epoch."""
    sentences = train.sentences
    k = max(2, min(args.folds, len(sentences)))
    order = np.random.default_rng(args.seed).permutation(len(sentences))
    logps: list[np.ndarray] = []
    held_out: list[TaggedSentence] = []
    best_epochs = []
    for fold in range(k):
        inside = {int(i) for i in order[fold::k]}
        rest = _training(args, [s for i, s in enumerate(sentences) if i not in inside])
        scored = [s for i, s in enumerate(sentences) if i in inside]
        model, tokenizer, config = _start(args, labels)
        targs = _train_args(args, _epochs(args, len(rest) * k // (k - 1)), len(rest))
        fit(model, tokenizer, config, targs, rest, scored)
        best_epochs.append(int(max(targs.history, key=lambda h: h["dev_f1"])["epoch"]))
        logps += evaluate(model, tokenizer, config, scored)[1]
        held_out += scored
        log.info("fold %d/%d: best epoch %d", fold + 1, k, best_epochs[-1])
    return logps, held_out, max(1, round(median(best_epochs)))


def _served_logprobs(
    model: CaseAwareTokenClassifier, config: NERConfig, directory: Path, train: Labelled, dev: Labelled | None
) -> list[np.ndarray]:
    """Save, export to the served runtime (int8 ranges from the user's own sentences), and return that runtime's
    T=1 log-probs on dev (nothing without dev)."""
    from hybrid_ner.ner.extractor import LocalNER
    from hybrid_ner.ner.static_int8 import export_onnx

    save_model(model, config, directory)
    sentences = [s.words for s in train.sentences + (dev.sentences if dev else [])]
    export_onnx(directory, sentences[:: max(1, len(sentences) // 300)])
    if dev is None:
        return []
    served = LocalNER(directory, threads=torch.get_num_threads())
    return served.logprobs([s.words for s in dev.sentences], temperature=1.0)


def _metrics(
    args: AdaptArgs,
    train: Labelled,
    dev: Labelled | None,
    scores: dict[str, Any],
    epochs: int,
    calibration: str,
    untrained: list[str],
    started: float,
) -> dict[str, Any]:
    import hashlib

    data = hashlib.sha256((train.digest + (dev.digest if dev else "")).encode()).hexdigest()
    return {
        "dev": scores,
        "adapt": {
            "base": _base_name(args.base),
            "schema": f"{args.schema.name}" + (f" v{args.schema.version}" if args.schema.version else ""),
            "data_digest": data,
            "train_digest": train.digest,
            "dev_digest": dev.digest if dev else None,
            "train_sentences": len(train.sentences),
            "dev_sentences": len(dev.sentences) if dev else 0,
            "epochs": epochs,
            "calibration": calibration,
            "seed": args.seed,
            "lr": args.lr,
            "batch_size": args.batch_size,
            "augment": args.augment,
            "similarity_init": args.similarity_init,
            "untrained": untrained,
            "seconds": round(time.perf_counter() - started, 1),
        },
    }
