"""The local NER extractor: sentence windows → batched token classification → calibrated entities."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from hybrid_ner.config import Settings
from hybrid_ner.datamodel import Decision, Entity, Source, Span
from hybrid_ner.ner.artifacts import verified_digest
from hybrid_ner.ner.calibration import Decoder, WordSpan
from hybrid_ner.ner.encoding import word_logprobs
from hybrid_ner.ner.model import load_config, load_model, load_tokenizer, quantize_int8
from hybrid_ner.ner.seen import SeenMentions
from hybrid_ner.ner.static_int8 import OnnxClassifier
from hybrid_ner.registry import extractors
from hybrid_ner.text import Sentence, Word, split_sentences, words_from_tokens

NAME = "extractor.local_ner.v1"
_ARTICLES = frozenset({"the", "a", "an"})
Runtime = Literal["onnx", "torch"]


class LocalNER:
    """Transformer token classifier with calibrated per-entity confidence.

    Inputs of any length are split into sentences and, where a sentence is too
    long for one window, into overlapping windows; all sentences of a call are
    batched together, sorted by length.
    """

    name = NAME

    def __init__(
        self,
        model_dir: Path,
        *,
        batch_size: int = 32,
        max_tokens: int = 256,
        threads: int = 1,
        runtime: Runtime = "onnx",
        quantize: bool = True,
    ) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        torch.set_num_threads(threads)
        self.model_dir = Path(model_dir)
        self.digest = verified_digest(self.model_dir)  # what caches, manifests and decisions know it by
        self.variant = "onnx-int8" if runtime == "onnx" else "int8" if quantize else "fp32"
        self.model: Callable[..., torch.Tensor]
        if runtime == "onnx":
            self.config, self.tokenizer = load_config(self.model_dir), load_tokenizer()
            self.model = OnnxClassifier(self.model_dir)
        else:
            model, self.tokenizer, self.config = load_model(self.model_dir)
            if quantize:
                quantize_int8(model)
            self.model = model
        # Dynamic int8 (torch) scales activations per tensor, i.e. per batch: batched, one text's entities could
        # depend on its batch-mates (measured: 15 of 600 CoNLL sentences changed), so it runs one window per
        # pass. The ONNX graph's activation scales are fixed at export, so it batches.
        self.batch_size = 1 if runtime == "torch" and quantize else batch_size
        self.max_tokens = max_tokens
        # ONNX Runtime releases the GIL, so several batches at once use the cores better than intra-op threads on
        # these small matrices (a 1 MB document: 2 threads inside each call gained nothing here).
        self.parallel = threads if runtime == "onnx" else 1
        self.decoder = Decoder(self.config.labels)
        self.seen = SeenMentions.load(self.model_dir)

    @property
    def labels(self) -> list[str]:
        return sorted({lab[2:] for lab in self.config.labels if lab != "O"})

    @property
    def type_labels(self) -> list[str]:
        """Labels that are schema type names (a model adapted to a schema); a schema's type of the same name
        takes them without a ``local_labels`` mapping."""
        return sorted(self.config.descriptions)

    @property
    def version(self) -> str:
        """Identifies the model by the digest of its content (weights, calibration, graph) and the runtime, for
        caches, metrics labels and batch manifests."""
        name = self.model_dir.name.split("@")[0]  # a registered model's copy is NAME@DIGEST12
        return f"{name}@{self.digest[:12]}+{self.variant}"

    def extract(self, texts: Sequence[str], sentences: Sequence[list[Sentence]] | None = None) -> list[list[Entity]]:
        return self._run(texts, sentences if sentences is not None else [split_sentences(t) for t in texts])

    def extract_tokens(self, sentences: Sequence[Sequence[str]]) -> tuple[list[str], list[list[Entity]]]:
        """Pre-tokenised input (e.g. CoNLL): each token list is one text joined by single spaces."""
        joined = [words_from_tokens(list(tokens)) for tokens in sentences]
        texts = [text for text, _ in joined]
        return texts, self._run(texts, [[words] if words else [] for _, words in joined])

    def logprobs(self, sentences: Sequence[Sequence[str]], temperature: float | None = None) -> list[np.ndarray]:
        """Per-word tag log-probabilities (words, labels) of each word list, at the model's fitted temperature
        unless one is given (1.0 gives the raw distributions that calibration refits)."""
        return word_logprobs(
            self.model,
            self.tokenizer,
            sentences,
            num_labels=len(self.config.labels),
            max_tokens=self.max_tokens,
            batch_size=self.batch_size,
            temperature=self.config.temperature if temperature is None else temperature,
            parallel=self.parallel,
        )

    def analyse(self, texts: Sequence[str]) -> tuple[list[list[Entity]], list[list[np.ndarray]]]:
        """Entities and, per text, each sentence's tag log-probabilities, from one pass (to choose what to label)."""
        flat, logps = self._pass([split_sentences(t) for t in texts])
        per_text: list[list[np.ndarray]] = [[] for _ in texts]
        for (i, _), lp in zip(flat, logps, strict=True):
            per_text[i].append(lp)
        return self._decode(texts, flat, logps), per_text

    def _run(self, texts: Sequence[str], sentences: Sequence[list[Sentence]]) -> list[list[Entity]]:
        return self._decode(texts, *self._pass(sentences))

    def _pass(self, sentences: Sequence[list[Sentence]]) -> tuple[list[tuple[int, Sentence]], list[np.ndarray]]:
        """Every sentence of every text, with the text it belongs to, and its log-probabilities."""
        flat = [(i, s) for i, sents in enumerate(sentences) for s in sents]
        return flat, self.logprobs([[w.text for w in s] for _, s in flat])

    def _decode(
        self, texts: Sequence[str], flat: Sequence[tuple[int, Sentence]], logps: Sequence[np.ndarray]
    ) -> list[list[Entity]]:
        out: list[list[Entity]] = [[] for _ in texts]
        for (i, sent), lp in zip(flat, logps, strict=True):
            spans = join_articles(self.decoder.decode(lp), sent)
            for ws in attach_hashtags(drop_retweet_markers(spans, sent), sent):
                out[i].append(self._entity(texts[i], sent[ws.first], sent[ws.last - 1], ws.label, ws.raw))
        return out

    def _entity(self, text: str, first: Word, last: Word, label: str, raw: float) -> Entity:
        known = self.seen is not None and self.seen.has(text[first.start : last.end], label)
        score = self.config.confidence(raw, label, known)
        return Entity(
            span=Span.from_text(text, first.start, last.end, label),
            score=score,
            source=Source.LOCAL,
            decision=Decision(routed="local", confidence=round(score, 4), reason="local model", model=self.version),
        )


@extractors.register(NAME)
def make_local_ner(settings: Settings) -> LocalNER:
    return LocalNER(
        settings.ner_model,
        batch_size=settings.ner_batch_size,
        max_tokens=settings.ner_max_tokens,
        threads=settings.threads,
        runtime=settings.ner_runtime,
        quantize=settings.ner_quantize,
    )


def drop_retweet_markers(spans: Sequence[WordSpan], sentence: Sentence) -> list[WordSpan]:
    """A post's retweet marker ("RT @user: ...") is no entity, though the model, which saw few posts, tags "RT"
    as an organisation before a handle (12 of 18 times on the derczynski tweets; WNUT-17 tags 244 of 245 "O").
    Only "RT" in capitals, alone and right before a handle: "RT" elsewhere (the channel) is left to the model."""
    out = []
    for ws in spans:
        after = sentence[ws.last].text if ws.last < len(sentence) else ""
        if not (ws.last - ws.first == 1 and sentence[ws.first].text == "RT" and after.startswith("@")):
            out.append(ws)
    return out


def attach_hashtags(spans: Sequence[WordSpan], sentence: Sentence) -> list[WordSpan]:
    """A hashtag that names an entity is the mention with its "#" ("#Astros", "#Denver"), as tweet annotation
    (WNUT-17, the derczynski set) marks it; the tokenizer splits the "#" off, so the model's span starts after
    it. The "#" joins the span only when it touches the span's first word and no letter or digit before it."""
    return [WordSpan(ws.first - 1, ws.last, ws.label, ws.raw) if _hashtagged(ws, sentence) else ws for ws in spans]


def _hashtagged(ws: WordSpan, sentence: Sentence) -> bool:
    if ws.first == 0 or sentence[ws.first - 1].text != "#" or sentence[ws.first - 1].end != sentence[ws.first].start:
        return False
    before = sentence[ws.first - 2] if ws.first > 1 else None
    return before is None or before.end < sentence[ws.first - 1].start or not before.text[-1].isalnum()


def join_articles(spans: Sequence[WordSpan], sentence: Sentence) -> list[WordSpan]:
    """An article that the model tags as an entity of its own ("The" | "Globe and Mail") starts the entity right
    after it when that one has the same label, with the lower of their scores; alone ("The" before "View" as
    another type), an article is no entity."""
    out: list[WordSpan] = []
    skip = False
    for i, ws in enumerate(spans):
        if skip:
            skip = False
            continue
        if ws.last - ws.first > 1 or sentence[ws.first].text.lower() not in _ARTICLES:
            out.append(ws)
            continue
        after = spans[i + 1] if i + 1 < len(spans) else None
        if after is not None and after.first == ws.last and after.label == ws.label:
            out.append(WordSpan(ws.first, after.last, ws.label, min(ws.raw, after.raw)))
            skip = True
    return out
