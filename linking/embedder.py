"""Sentence embeddings for mentions, contexts and KB entries (the packaged all-MiniLM-L6-v2)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from functools import cached_property
from typing import Any

import numpy as np

from hybrid_ner.packages import BASE_PACKAGE, base_encoder_path


class Embedder:
    """Normalised 384-d vectors; ``name`` keys every derived index, so a model change never mixes vectors."""

    def __init__(self, quantize: bool = True, batch_size: int = 64) -> None:
        self.quantize = quantize
        self.batch_size = batch_size
        self.name = f"{BASE_PACKAGE}{'+int8' if quantize else ''}"
        self.dim = 384

    @cached_property
    def model(self) -> Any:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
        model = SentenceTransformer(str(base_encoder_path()), device="cpu")
        if self.quantize:
            import warnings

            import torch
            from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                quantize_dynamic(  # type: ignore[no-untyped-call]
                    model[0].auto_model, {torch.nn.Linear: per_channel_dynamic_qconfig}, dtype=torch.qint8, inplace=True
                )
        return model

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self.model.encode(
            list(texts), batch_size=self.batch_size, normalize_embeddings=True, show_progress_bar=False
        )
        return np.asarray(vectors, dtype=np.float32)
