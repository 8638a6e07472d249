"""Fine-tune the case-aware classifier on BIO data, select on dev, calibrate on dev, and save."""

from __future__ import annotations

import copy
import logging
import math
import random
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from hybrid_ner.ner.calibration import (
    Decoder,
    expected_calibration_error,
    fit_label_platt,
    fit_platt,
    fit_seen_platt,
    fit_temperature,
    retemper,
)
from hybrid_ner.ner.card import data_digests, write_model_card
from hybrid_ner.ner.data import TaggedSentence, read_tagged
from hybrid_ner.ner.encoding import Window, collate, make_windows, word_logprobs
from hybrid_ner.ner.holdout import Holdout, check_disjoint
from hybrid_ner.ner.metrics import EntityKey, score_entities
from hybrid_ner.ner.model import FROZEN_KEY, CaseAwareTokenClassifier, NERConfig, load_model, new_model, save_model
from hybrid_ner.ner.noise import noisy_pairs
from hybrid_ner.ner.replace import read_names, replaced_copies
from hybrid_ner.ner.seen import SeenMentions
from hybrid_ner.ner.tags import bio_labels, spans_from_bio
from hybrid_ner.ner.unlabelled import read_unlabelled

log = logging.getLogger(__name__)
CONLL_ORDER = ("PER", "ORG", "LOC", "MISC")


@dataclass
class TrainArgs:
    train: Path
    dev: Path
    out: Path
    epochs: int = 3
    batch_size: int = 32
    lr: float = 1e-4
    head_lr: float = 1e-3
    warmup: int = 100
    max_tokens: int = 128
    use_shape: bool = True
    seed: int = 13
    limit: int | None = None
    layers: int | None = None  # a student with the first N encoder layers
    teacher: Path | None = None  # distil from this model directory's token distributions (and start from it)
    holdouts: tuple[Path, ...] = ()  # evaluation sets the training data must not hold (``--dev`` is one anyway)
    noise: float = 0.0  # share of training sentences that also go in as a noisy copy (``hybrid_ner.ner.noise``)
    unlabelled: tuple[Path, ...] = ()  # text the teacher labels for the student (``hybrid_ner.ner.unlabelled``)
    replace: float = 0.0  # share of sentences that also go in with names swapped (``hybrid_ner.ner.replace``)
    names: Path | None = None  # the names to swap in, ``LABEL<TAB>name`` per line
    distil_weight: float = 0.5
    distil_temperature: float = 2.0
    eval_every: int = 1  # score dev every N epochs (and after the last)
    history: list[dict[str, float]] = field(default_factory=list)


def entity_types(data: Sequence[TaggedSentence]) -> list[str]:
    """Entity types in CoNLL order first, then any others alphabetically."""
    found = {t[2:] for s in data for t in s.tags if t != "O"}
    return [t for t in CONLL_ORDER if t in found] + sorted(found - set(CONLL_ORDER))


def _batches(windows: list[Any], size: int, rng: random.Random) -> list[list[Any]]:
    """Shuffled batches of similar length (sorted within pools of 50 batches) to cut padding."""
    idx = list(range(len(windows)))
    rng.shuffle(idx)
    pool = size * 50
    batches: list[list[Any]] = []
    for p in range(0, len(idx), pool):
        chunk = sorted(idx[p : p + pool], key=lambda i: len(windows[i].input_ids))
        batches += [[windows[i] for i in chunk[b : b + size]] for b in range(0, len(chunk), size)]
    rng.shuffle(batches)
    return batches


def evaluate(
    model: CaseAwareTokenClassifier,
    tokenizer: Any,
    config: NERConfig,
    data: Sequence[TaggedSentence],
    max_tokens: int = 256,
) -> tuple[dict[str, Any], list[np.ndarray]]:
    """Dev/test F1 and ECE under ``config``'s calibration; also returns the T=1 log-probs."""
    model.eval()
    logps = word_logprobs(
        model, tokenizer, [s.words for s in data], num_labels=len(config.labels), max_tokens=max_tokens, batch_size=64
    )
    return score(config, data, logps), logps


def score(
    config: NERConfig,
    data: Sequence[TaggedSentence],
    logps: Sequence[np.ndarray],
    kept: Collection[str] | None = None,
    seen: SeenMentions | None = None,
    names: Callable[[str], bool] | None = None,
) -> dict[str, Any]:
    """Exact-span F1 and entity ECE of T=1 log-probs ``logps`` decoded under ``config``'s calibration (``seen``:
    the model's training mentions); with ``kept``, only predictions of those labels count (the ones a schema
    maps); with ``names``, only gold and predicted entities whose words pass it (the names training never saw)."""
    decoder = Decoder(config.labels)
    gold: set[EntityKey] = set()
    pred: set[EntityKey] = set()
    conf, correct = [], []
    for i, (s, lp) in enumerate(zip(data, logps, strict=True)):
        gold |= {(i, a, b, t) for a, b, t in spans_from_bio(s.tags) if names is None or names(" ".join(s.words[a:b]))}
        for span in decoder.decode(retemper(lp, config.temperature)):
            if kept is not None and span.label not in kept:
                continue
            text = " ".join(s.words[span.first : span.last])
            if names is not None and not names(text):
                continue
            key = (i, span.first, span.last, span.label)
            pred.add(key)
            known = seen is not None and seen.has(text, span.label)
            conf.append(config.confidence(span.raw, span.label, known))
            correct.append(key in gold)
    scores = score_entities(gold, pred)
    return {
        "f1": scores.micro.f1,
        "precision": scores.micro.precision,
        "recall": scores.micro.recall,
        "ece": expected_calibration_error(np.array(conf), np.array(correct, dtype=float)),
        "per_label_f1": {k: v.f1 for k, v in scores.per_label.items()},
        "predicted": len(pred),
        "support": len(gold),
    }


def calibrate(
    config: NERConfig,
    data: Sequence[TaggedSentence],
    logps: Sequence[np.ndarray],
    kept: Collection[str] | None = None,
    by_label: bool = False,
    seen: SeenMentions | None = None,
) -> None:
    """Fit temperature on token NLL, then Platt scaling on entity correctness, in place (with ``kept``, on the
    predictions of those labels only; ``by_label``: with an intercept per label; ``seen``: the model's training
    mentions, with a term for the names it saw). Gold tags the model lacks count as ``O``."""
    label_idx = {lab: i for i, lab in enumerate(config.labels)}
    config.temperature = fit_temperature(logps, [np.array([label_idx.get(t, 0) for t in s.tags]) for s in data])
    decoder = Decoder(config.labels)
    raw, labels, names, ok = [], [], [], []
    for s, lp in zip(data, logps, strict=True):
        gold = set(spans_from_bio(s.tags))
        for span in decoder.decode(retemper(lp, config.temperature)):
            if kept is not None and span.label not in kept:
                continue
            raw.append(span.raw)
            labels.append(span.label)
            names.append(" ".join(s.words[span.first : span.last]))
            ok.append((span.first, span.last, span.label) in gold)
    config.platt_seen = [0.0, 0.0]
    if seen is not None:
        flags = seen.flags(names, labels)
        config.platt_a, config.platt_b, config.platt_offsets, pair = fit_seen_platt(
            np.array(raw), labels, np.array(ok), flags, by_label
        )
        config.platt_seen = list(pair)
    elif by_label:
        config.platt_a, config.platt_b, config.platt_offsets = fit_label_platt(np.array(raw), labels, np.array(ok))
    else:
        config.platt_a, config.platt_b = fit_platt(np.array(raw), np.array(ok, dtype=float))
        config.platt_offsets = {}


def _teacher(args: TrainArgs, student: CaseAwareTokenClassifier, config: NERConfig) -> CaseAwareTokenClassifier | None:
    """Load the teacher and start the student from its weights (its first layers, its head and shape tables)."""
    if args.teacher is None:
        return None
    teacher, _, teacher_config = load_model(args.teacher)
    if teacher_config.labels != config.labels or teacher_config.use_shape != config.use_shape:
        raise ValueError(f"the teacher in {args.teacher} has other labels or features than this training data")
    student.load_state_dict(teacher.state_dict(), strict=False)  # the student's layers are the teacher's first
    for p in teacher.parameters():
        p.requires_grad_(False)
    teacher.eval()
    return teacher


def _distil_loss(student: torch.Tensor, teacher: torch.Tensor, words: torch.Tensor, temperature: float) -> torch.Tensor:
    """KL(teacher || student) of temperature-softened tag distributions over each word's first subtoken, labelled
    or not."""
    keep = words.reshape(-1)
    s = torch.log_softmax(student.reshape(-1, student.shape[-1])[keep] / temperature, dim=-1)
    t = torch.log_softmax(teacher.reshape(-1, teacher.shape[-1])[keep] / temperature, dim=-1)
    kl = torch.nn.functional.kl_div(s, t, log_target=True, reduction="batchmean")
    return kl * temperature**2


def _targets(windows: list[Window], data: Sequence[TaggedSentence], label_idx: dict[str, int]) -> dict[int, list[int]]:
    """Gold tag ids at each window's word-first subtokens (-100, ignored, elsewhere), keyed by window identity."""
    targets = {}
    for w in windows:
        y = [-100] * len(w.input_ids)
        for pos, word in zip(w.positions, w.words, strict=True):
            y[pos] = label_idx.get(data[w.sentence].tags[word], 0)
        targets[id(w)] = y
    return targets


def _optimizer(model: CaseAwareTokenClassifier, args: TrainArgs, total: int) -> tuple[Any, Any]:
    """AdamW with a faster head, linear warm-up then linear decay; the word embeddings stay frozen."""
    model.encoder.embeddings.word_embeddings.weight.requires_grad_(False)
    body = [p for n, p in model.named_parameters() if p.requires_grad and n.startswith("encoder.")]
    head = [p for n, p in model.named_parameters() if p.requires_grad and not n.startswith("encoder.")]
    opt = torch.optim.AdamW([{"params": body, "lr": args.lr}, {"params": head, "lr": args.head_lr}], weight_decay=0.01)

    def schedule(step: int) -> float:
        if step < args.warmup:
            return (step + 1) / args.warmup
        return max(0.0, (total - step) / max(1, total - args.warmup))

    return opt, torch.optim.lr_scheduler.LambdaLR(opt, schedule)


def _loss(
    model: CaseAwareTokenClassifier,
    teacher: CaseAwareTokenClassifier | None,
    batch: list[Window],
    targets: dict[int, list[int]],
    args: TrainArgs,
    views: dict[int, Window] | None = None,
) -> torch.Tensor:
    """Cross-entropy on the gold tags, mixed with the distillation loss when there is a teacher. Unlabelled
    windows (all targets -100) are learnt from the teacher only; the teacher reads a window's ``views`` entry
    where it has one (the clean sentence a noisy copy was made from)."""
    inputs = collate(batch)
    width = inputs["input_ids"].shape[1]
    gold = torch.tensor([targets[id(w)] + [-100] * (width - len(w.input_ids)) for w in batch])
    logits = model(**inputs)
    loss = (
        torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), gold.reshape(-1), ignore_index=-100)
        if bool((gold != -100).any())
        else logits.new_zeros(())  # a batch of unlabelled text only: the mean over no target would be NaN
    )
    if teacher is None:
        return loss
    words = torch.zeros(gold.shape, dtype=torch.bool)
    for row, w in enumerate(batch):
        words[row, w.positions] = True
    with torch.no_grad():
        soft = teacher(**(collate([views.get(id(w), w) for w in batch]) if views else inputs))
    return (1 - args.distil_weight) * loss + args.distil_weight * _distil_loss(
        logits, soft, words, args.distil_temperature
    )


def fit(
    model: CaseAwareTokenClassifier,
    tokenizer: Any,
    config: NERConfig,
    args: TrainArgs,
    train: Sequence[TaggedSentence],
    dev: Sequence[TaggedSentence],
    teacher: CaseAwareTokenClassifier | None = None,
    progress: Callable[[int, int, float], None] | None = None,
    unlabelled: Sequence[TaggedSentence] = (),
    originals: dict[int, int] | None = None,
) -> float:
    """Train for ``args.epochs``, score dev every ``args.eval_every`` epochs (and after the last), and leave the
    model at its best dev epoch; returns that F1 (-1 with no dev, where the last epoch is kept). ``unlabelled``
    sentences are learnt from the teacher's distributions only; the teacher reads ``train[originals[i]]`` for
    ``train[i]`` where the two split into the same subwords (a recased copy: the encoder is uncased, only the
    shapes differ)."""
    rng = random.Random(args.seed)
    windows = make_windows(tokenizer, [s.words for s in train], args.max_tokens)
    targets = _targets(windows, train, {lab: i for i, lab in enumerate(config.labels)})
    views = _views(windows, originals or {}) if teacher is not None else {}
    extra = make_windows(tokenizer, [s.words for s in unlabelled], args.max_tokens)
    targets |= {id(w): [-100] * len(w.input_ids) for w in extra}
    windows += extra
    total = math.ceil(len(windows) / args.batch_size) * args.epochs
    opt, sched = _optimizer(model, args, total)
    best_f1, best_state = -1.0, None
    step = 0
    for epoch in range(1, args.epochs + 1):
        model.train()
        started = time.perf_counter()
        for batch in _batches(windows, args.batch_size, rng):
            loss = _loss(model, teacher, batch, targets, args, views)
            opt.zero_grad()
            loss.backward()  # type: ignore[no-untyped-call]  # torch stubs leave backward untyped
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            step += 1
            if progress:
                progress(step, total, loss.item())
        if not dev or (epoch % args.eval_every and epoch != args.epochs):
            continue
        dev_metrics, _ = evaluate(model, tokenizer, config, dev)
        args.history.append({"epoch": epoch, "dev_f1": dev_metrics["f1"], "seconds": time.perf_counter() - started})
        log.info("epoch %d dev F1 %.4f", epoch, dev_metrics["f1"])
        if dev_metrics["f1"] > best_f1:
            best_f1 = dev_metrics["f1"]
            best_state = copy.deepcopy({k: v for k, v in model.state_dict().items() if k != FROZEN_KEY})
    if best_state is not None:
        model.load_state_dict(best_state, strict=False)
    return best_f1


def _views(windows: list[Window], originals: dict[int, int]) -> dict[int, Window]:
    """For each window of a copy, the same window of the sentence it was made from (already among ``windows``),
    keyed by the copy window's identity; a copy whose subwords differ from its source's keeps its own."""
    by_sentence: dict[int, list[Window]] = {}
    for w in windows:
        by_sentence.setdefault(w.sentence, []).append(w)
    out = {}
    for made, source in originals.items():
        own, other = by_sentence.get(made, []), by_sentence.get(source, [])
        if len(other) == len(own) and all(a.input_ids == b.input_ids for a, b in zip(own, other, strict=True)):
            out.update({id(a): b for a, b in zip(own, other, strict=True)})
    return out


def train_ner(args: TrainArgs, progress: Callable[[int, int, float], None] | None = None) -> NERConfig:
    """Train, keep the best dev epoch, calibrate on dev, and save to ``args.out``."""
    random.seed(args.seed)
    torch.manual_seed(args.seed)
    if args.unlabelled and args.teacher is None:
        raise ValueError("unlabelled text is learnt from a teacher's labels: name one with --teacher")
    if args.replace and args.names is None:
        raise ValueError("--replace swaps in names from a file: name one with --names")
    names = read_names(args.names) if args.replace and args.names else {}
    train, dev = read_tagged(args.train), read_tagged(args.dev)
    held = [Holdout(str(args.dev), dev), *(Holdout(str(p), read_tagged(p)) for p in args.holdouts)]
    check_disjoint(args.train, train[: args.limit] if args.limit else train, held)
    unlabelled = [s for p in args.unlabelled for s in read_unlabelled(p, held)]
    if args.limit:
        train, dev = train[: args.limit], dev[: args.limit]
    seen = SeenMentions.from_sentences(train)  # the labelled names, before noisy copies
    pairs = noisy_pairs(train, args.noise, args.seed) if args.noise else []
    originals = {len(train) + k: source for k, (_, source) in enumerate(pairs)}
    swapped = replaced_copies(train, args.replace, names, args.seed) if names else []
    train = [*train, *(noisy for noisy, _ in pairs), *swapped]
    config = NERConfig(labels=bio_labels(entity_types(train)), use_shape=args.use_shape, layers=args.layers)
    model, tokenizer = new_model(config)
    teacher = _teacher(args, model, config)
    fit(model, tokenizer, config, args, train, dev, teacher, progress, unlabelled, originals)
    _, logps = evaluate(model, tokenizer, config, dev)
    calibrate(config, dev, logps, seen=seen)
    dev_metrics = score(config, dev, logps, seen=seen)  # the same T=1 log-probs, decoded under the fitted calibration
    config.metrics = {
        "dev": dev_metrics,
        "history": args.history,
        "train_sentences": len(train),
        "unlabelled_sentences": len(unlabelled),
        "dev_sentences": len(dev),
        "hyperparameters": {
            **{
                k: v
                for k, v in vars(args).items()
                if k not in {"history", "train", "dev", "out", "teacher", "holdouts", "unlabelled", "names"}
            },
            "teacher": str(args.teacher.name) if args.teacher else None,
            "holdouts": [p.name for p in args.holdouts],
        },
        "data": data_digests(args),
    }
    save_model(model, config, args.out)
    seen.save(args.out)
    write_model_card(args, config)
    return config
