"""Coarse types for Wikipedia titles that come without any: a linear model over the title's words and character
n-grams and the words of its redirects ("toyota motor corporation" says company, "barack hussein obama" says
person). Fitted by ``python -m eval.title_types`` on the typed entities of ELEVANT's KB; the weights ship in
``kb/title_types.npz``. A type is only given where the model is sure enough (``TitleTyper.is_sure``)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

MODEL = Path(__file__).resolve().parent / "title_types.npz"
_BITS = 16  # hashed features per view: words of title and redirects; character n-grams of the title
MAX_REDIRECTS = 30  # the redirects a title's features read (the first, in the source's order)


def _vectorizers() -> tuple[Any, Any]:
    from sklearn.feature_extraction.text import HashingVectorizer

    words = HashingVectorizer(n_features=2**_BITS, ngram_range=(1, 2), alternate_sign=False, norm="l2")
    chars = HashingVectorizer(
        n_features=2**_BITS, analyzer="char_wb", ngram_range=(3, 4), alternate_sign=False, norm="l2"
    )
    return words, chars


def feature_matrix(titles: Sequence[str], redirects: Sequence[Sequence[str]]) -> Any:
    """Sparse rows: titles and redirects as DBpedia spells them (lower case, ``_`` for spaces)."""
    from scipy.sparse import hstack

    words, chars = _vectorizers()
    plain = [t.replace("_", " ") for t in titles]
    with_redirects = [
        " ".join([t, *(r.replace("_", " ") for r in rs[:MAX_REDIRECTS])])
        for t, rs in zip(plain, redirects, strict=True)
    ]
    return hstack([words.transform(with_redirects), chars.transform(plain)]).tocsr()


class TitleTyper:
    """``predict`` gives each title its most likely type and that type's probability."""

    def __init__(self, classes: Sequence[str], coef: np.ndarray, intercept: np.ndarray, sure: np.ndarray) -> None:
        self.classes = list(classes)
        self.coef = coef.astype(np.float32)
        self.intercept = intercept.astype(np.float32)
        self.sure = dict(zip(self.classes, (float(t) for t in sure), strict=True))  # per type, held-out

    @classmethod
    def load(cls, path: Path = MODEL) -> TitleTyper:
        with np.load(path) as data:
            return cls([str(c) for c in data["classes"]], data["coef"], data["intercept"], data["sure"])

    def is_sure(self, kind: str, probability: float) -> bool:
        """Whether a guess is safe to store as a type: its probability reaches the type's threshold."""
        return probability >= self.sure.get(kind, 1.0)

    def save(self, path: Path = MODEL) -> None:
        np.savez_compressed(
            path,
            classes=np.array(self.classes),
            coef=self.coef.astype(np.float16),
            intercept=self.intercept,
            sure=np.array([self.sure[c] for c in self.classes], dtype=np.float32),
        )

    def predict(self, titles: Sequence[str], redirects: Sequence[Sequence[str]]) -> list[tuple[str, float]]:
        if not titles:
            return []
        z = feature_matrix(titles, redirects) @ self.coef.T + self.intercept
        z = np.asarray(z) - np.asarray(z).max(axis=1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(axis=1, keepdims=True)
        best = p.argmax(axis=1)
        return [(self.classes[b], float(p[i, b])) for i, b in enumerate(best)]
