"""Entity-level confidence: decoding, temperature and Platt scaling, and calibration error.

A raw entity score is the geometric mean of the decoded tag probabilities of
its words and of the probability that the next word does not continue it.
Temperature is fitted on dev token NLL, then a Platt (logistic) map on the
logit of the raw score is fitted on whether each dev entity was exactly right.
The result estimates P(span and label both correct), which is what a router
thresholds on.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from hybrid_ner.ner.tags import transition_mask, viterbi

EPS = 1e-6


@dataclass(frozen=True)
class WordSpan:
    first: int
    last: int  # exclusive
    label: str
    raw: float


def retemper(logp: np.ndarray, temperature: float) -> np.ndarray:
    """Log-softmax of ``logp / T``; equal to scaling the original logits by ``1/T``."""
    z: np.ndarray = logp / temperature
    norm: np.ndarray = np.logaddexp.reduce(z, axis=-1, keepdims=True)
    out: np.ndarray = z - norm
    return out


class Decoder:
    """Constrained BIO decoding plus raw entity scores for one label set."""

    def __init__(self, labels: Sequence[str]) -> None:
        self.labels = list(labels)
        self.trans, self.start = transition_mask(self.labels)
        self.inside = {lab[2:]: i for i, lab in enumerate(self.labels) if lab.startswith("I-")}

    def decode(self, logp: np.ndarray) -> list[WordSpan]:
        path = viterbi(logp, self.trans, self.start)
        spans: list[WordSpan] = []
        i = 0
        while i < len(path):
            lab = self.labels[path[i]]
            if lab == "O":
                i += 1
                continue
            etype = lab[2:]
            j = i + 1
            while j < len(path) and self.labels[path[j]] == f"I-{etype}":
                j += 1
            logs = [float(logp[k, path[k]]) for k in range(i, j)]
            if j < len(path):
                logs.append(float(np.log1p(-min(np.exp(logp[j, self.inside[etype]]), 1 - EPS))))
            spans.append(WordSpan(i, j, etype, float(np.exp(np.mean(logs)))))
            i = j
        return spans


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, EPS, 1 - EPS)
    out: np.ndarray = np.log(p) - np.log1p(-p)
    return out


def platt(raw: float | np.ndarray, a: float, b: float) -> np.ndarray:
    z: np.ndarray = a * _logit(np.asarray(raw, dtype=np.float64)) + b
    return _sigmoid(z)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    """The logistic function without overflow warnings for large negative ``z``."""
    out: np.ndarray = 0.5 * (1.0 + np.tanh(0.5 * z))
    return out


def fit_platt(raw: np.ndarray, correct: np.ndarray, iters: int = 50) -> tuple[float, float]:
    """Logistic regression of correctness on logit(raw) by Newton's method (with a tiny ridge, which also keeps
    the fit finite when every entity was right, or none was). With no entities the map is the identity."""
    if len(raw) == 0:
        return 1.0, 0.0
    x = _logit(raw.astype(np.float64))
    y = correct.astype(np.float64)
    a, b = 1.0, 0.0
    for _ in range(iters):
        p = _sigmoid(a * x + b)
        w = p * (1 - p) + EPS
        grad = np.array([np.sum((p - y) * x) + 1e-3 * a, np.sum(p - y) + 1e-3 * b])
        hess = np.array([[np.sum(w * x * x) + 1e-3, np.sum(w * x)], [np.sum(w * x), np.sum(w) + 1e-3]])
        step = np.linalg.solve(hess, grad)
        a, b = a - step[0], b - step[1]
        if np.abs(step).max() < 1e-8:
            break
    return float(a), float(b)


def _fit_logistic(
    raw: np.ndarray,
    labels: Sequence[str],
    correct: np.ndarray,
    extra: Callable[[np.ndarray], list[np.ndarray]],
    by_label: bool,
    strength: float = 1.0,
) -> tuple[float, float, dict[str, float], list[float]] | None:
    """L2-regularised logistic regression of correctness on logit(raw), the ``extra`` columns made from it, and
    with ``by_label`` a one-hot per label. Returns (slope, intercept, label offsets, extra coefficients), or None
    when every entity was right, or none was (nothing to fit)."""
    y = correct.astype(int)
    if len(set(y.tolist())) < 2:
        return None
    from sklearn.linear_model import LogisticRegression

    names = sorted(set(labels)) if by_label else []
    x = np.clip(_logit(raw.astype(np.float64)), -12.0, 12.0)
    columns = extra(x)
    onehot = np.array([[lab == n for n in names] for lab in labels], dtype=np.float64).reshape(len(labels), -1)
    fit = LogisticRegression(C=strength).fit(np.column_stack([x, *columns, onehot]), y)
    coef = fit.coef_[0]
    k = 1 + len(columns)
    offsets = {n: float(c) for n, c in zip(names, coef[k:], strict=True)}
    return float(coef[0]), float(fit.intercept_[0]), offsets, [float(c) for c in coef[1:k]]


def fit_label_platt(
    raw: np.ndarray, labels: Sequence[str], correct: np.ndarray, strength: float = 1.0
) -> tuple[float, float, dict[str, float]]:
    """Platt scaling with an intercept per label: a shared slope on logit(raw), an offset for each label (L2-
    regularised logistic regression). Labels are right at different rates (off its home domain a model's ORG
    can be wrong four times in five while its PER is mostly right), and how often each label is predicted
    shifts between texts, so one map for all labels miscalibrates whenever the mix changes. Falls back to
    :func:`fit_platt` when every entity was right, or none was."""
    fitted = _fit_logistic(raw, labels, correct, lambda x: [], by_label=True, strength=strength)
    if fitted is None:
        a, b = fit_platt(raw, correct)
        return a, b, {}
    a, b, offsets, _ = fitted
    return a, b, offsets


def fit_seen_platt(
    raw: np.ndarray, labels: Sequence[str], correct: np.ndarray, seen: np.ndarray, by_label: bool = False
) -> tuple[float, float, dict[str, float], tuple[float, float]]:
    """Platt scaling that also knows whether each entity's name was seen labelled in training: an offset and a
    slope of its own for seen names (``hybrid_ner.ner.seen``), and with ``by_label`` an intercept per label.
    Returns (a, b, label offsets, (seen offset, seen slope)). Falls back to :func:`fit_platt` when every entity
    was right, or none was."""
    fitted = _fit_logistic(raw, labels, correct, lambda x: [seen, seen * x], by_label=by_label)
    if fitted is None:
        a, b = fit_platt(raw, correct)
        return a, b, {}, (0.0, 0.0)
    a, b, offsets, (offset, slope) = fitted
    return a, b, offsets, (offset, slope)


def fit_temperature(logps: Sequence[np.ndarray], gold: Sequence[np.ndarray]) -> float:
    """Temperature minimising the token NLL of gold tags (grid search; one parameter)."""
    flat = np.concatenate(logps)
    idx = np.concatenate(gold)
    best_t, best_nll = 1.0, np.inf
    for t in np.linspace(0.5, 4.0, 36):
        nll = -retemper(flat, float(t))[np.arange(len(idx)), idx].mean()
        if nll < best_nll:
            best_t, best_nll = float(t), float(nll)
    return best_t


def expected_calibration_error(conf: np.ndarray, correct: np.ndarray, bins: int = 10) -> float:
    """Equal-width-bin ECE: the sample-weighted gap between confidence and accuracy."""
    if len(conf) == 0:
        return 0.0
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(conf, edges[1:-1]), 0, bins - 1)
    total = 0.0
    for b in range(bins):
        sel = which == b
        if sel.any():
            total += sel.sum() * abs(conf[sel].mean() - correct[sel].mean())
    return float(total / len(conf))
