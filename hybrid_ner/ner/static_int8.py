"""The served runtime: the classifier as an ONNX graph with static int8 MatMuls, run by ONNX Runtime.

Static quantization fixes every activation scale at export time (calibrated on real sentences), so a window's
logits do not depend on what else is in its batch, and windows can be batched again; dynamic int8 had to run
one window per pass. The graph starts *after* the word-embedding lookup: that frozen matrix (half of the
parameters) is read from the pinned base package at load time, as the torch artifact does, so the shipped file
stays small. The file records the digest of the weights it was exported from and refuses to run beside others.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from hybrid_ner.errors import ModelArtifactError
from hybrid_ner.files import replacing, write_whole
from hybrid_ner.ner.artifacts import CARD_FILE, ONNX_FILE, write_digest
from hybrid_ner.ner.encoding import collate, make_windows
from hybrid_ner.ner.model import WEIGHTS_FILE, CaseAwareTokenClassifier, load_model
from hybrid_ner.ner.outliers import channel_maxima, down_projections, fp32_nodes, split_outliers, unmasked
from hybrid_ner.packages import base_encoder_path, quiet_exporters

SOURCE_KEY = "hybrid_ner.weights_sha256"
INPUTS = ("word_embeds", "attention_mask", "shape_ids")


def weights_digest(model_dir: Path) -> str:
    return hashlib.sha256((model_dir / WEIGHTS_FILE).read_bytes()).hexdigest()


def word_embeddings() -> np.ndarray:
    """The frozen word-embedding matrix of the packaged encoder (read alone, without building the encoder)."""
    from safetensors import safe_open

    with safe_open(str(base_encoder_path() / "model.safetensors"), "np") as f:
        matrix: np.ndarray = f.get_tensor("embeddings.word_embeddings.weight")
    return matrix


class _AfterLookup(nn.Module):
    """The classifier from looked-up word embeddings on, as a module the exporter can trace."""

    def __init__(self, model: CaseAwareTokenClassifier) -> None:
        super().__init__()
        self.model = model

    def forward(self, word_embeds: torch.Tensor, attention_mask: torch.Tensor, shape_ids: torch.Tensor) -> torch.Tensor:
        return self.model.from_word_embeddings(word_embeds, attention_mask, shape_ids)


def _feeds(batch: dict[str, torch.Tensor], table: np.ndarray) -> dict[str, np.ndarray]:
    return {
        "word_embeds": table[batch["input_ids"].numpy()],
        "attention_mask": batch["attention_mask"].numpy(),
        "shape_ids": batch["shape_ids"].numpy(),
    }


class OnnxClassifier:
    """Drop-in for the torch classifier's call: token ids in, logits out. One intra-op thread: more threads go to
    whole batches at once (``word_logprobs(parallel=...)``), which uses cores better on these small matrices."""

    def __init__(self, model_dir: Path) -> None:
        import onnxruntime as ort

        path = model_dir / ONNX_FILE
        if not path.is_file():
            raise ModelArtifactError(
                f"{path} is missing: run `hybrid-ner export-ner --model {model_dir} --calibration FILE` "
                "(or set HNER_NER_RUNTIME=torch)"
            )
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        source = self.session.get_modelmeta().custom_metadata_map.get(SOURCE_KEY)
        if source != weights_digest(model_dir):
            raise ModelArtifactError(
                f"{path} was exported from other weights than {model_dir / WEIGHTS_FILE}: run `hybrid-ner export-ner`"
            )
        self.table = word_embeddings()

    def __call__(self, **batch: torch.Tensor) -> torch.Tensor:
        (logits,) = self.session.run(None, _feeds(batch, self.table))
        return torch.from_numpy(logits)


class _Calibration:
    """ONNX Runtime's calibration reader protocol: one real window per step, so ranges are per window."""

    def __init__(self, tokenizer: Any, sentences: Sequence[Sequence[str]], max_tokens: int, table: np.ndarray) -> None:
        windows = make_windows(tokenizer, sentences, max_tokens)
        self._it: Iterator[dict[str, np.ndarray]] = (_feeds(collate([w]), table) for w in windows)

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._it, None)


def _attention_products(graph: Any) -> list[str]:
    """The MatMuls of two activations (attention scores and their weighted sum): they have no weight to quantize."""
    weights = {init.name for init in graph.initializer}
    return [n.name for n in graph.node if n.op_type == "MatMul" and not weights.intersection(n.input)]


@dataclass(frozen=True)
class Layout:
    """How the exported graph is laid out for ONNX Runtime. The default is the one measured fastest at the same
    F1 (``make ner-export-bench``); ``QDQ_V1`` is the earlier layout, kept so the benchmark can compare them."""

    eager_attention: bool = True  # an additive mask: no Where/IsNaN pair per layer
    operators: bool = True  # QLinearMatMul operators rather than QuantizeLinear/DequantizeLinear pairs
    fp32_attention_products: bool = True  # no quantize/dequantize pair around the softmax
    # a down-projection's input channels whose peak passes this many times the 99th percentile stay fp32 (0: none)
    outlier_ratio: float = 1.5


QDQ_V1 = Layout(eager_attention=False, operators=False, fp32_attention_products=False, outlier_ratio=0.0)
QOPERATOR_V2 = Layout(outlier_ratio=0.0)


def _export_fp32(model_dir: Path, path: Path, layout: Layout, max_tokens: int, table: np.ndarray) -> Any:
    model, tokenizer, _ = load_model(model_dir)
    if layout.eager_attention:
        model.encoder.set_attn_implementation("eager")
    feeds = _feeds(collate(make_windows(tokenizer, [["Export", "sample", "in", "Paris", "."]], max_tokens)), table)
    axes = {name: {0: "batch", 1: "tokens"} for name in (*INPUTS, "logits")}
    args = tuple(torch.from_numpy(feeds[name]) for name in INPUTS)
    with torch.inference_mode():
        torch.onnx.export(
            _AfterLookup(model).eval(), args, str(path), input_names=list(INPUTS), output_names=["logits"],
            dynamic_axes=axes, opset_version=17, dynamo=False,
        )  # fmt: skip
    return tokenizer


def _fp32_nodes(path: Path, layout: Layout, calibration: _Calibration) -> list[str]:
    """The nodes the quantizer must leave in fp32. With ``layout.outlier_ratio``, the graph at ``path`` is first
    rewritten so that each down-projection's outlier input channels are a product of their own (:mod:`.outliers`)."""
    import onnx

    model = onnx.load(str(path))
    kept = _attention_products(model.graph) if layout.fp32_attention_products else []
    if not layout.outlier_ratio:
        return kept
    feeds = iter(calibration.get_next, None)
    maxima = channel_maxima(model, down_projections(model.graph), feeds)
    model, splits = split_outliers(model, maxima, layout.outlier_ratio)
    onnx.save(model, str(path))
    return kept + fp32_nodes(splits)


def export_onnx(
    model_dir: Path, calibration: Sequence[Sequence[str]], *, max_tokens: int = 256, layout: Layout = Layout()
) -> Path:
    """Export ``model_dir``'s classifier to ONNX and quantize its MatMuls to int8 with static, calibrated scales.

    Weights per output channel (int8), activations per tensor (uint8) with MinMax ranges over ``calibration``
    sentences; layer norms, softmax and the embeddings stay fp32 (and, by default, the attention products and the
    few outlier input channels of each down-projection). The graph is written whole or not at all.
    """
    import onnx
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    out, table = model_dir / ONNX_FILE, word_embeddings()
    with tempfile.TemporaryDirectory() as tmp, quiet_exporters():
        fp32, int8 = Path(tmp) / "fp32.onnx", Path(tmp) / "int8.onnx"
        tokenizer = _export_fp32(model_dir, fp32, layout, max_tokens, table)
        kept = _fp32_nodes(fp32, layout, _Calibration(tokenizer, calibration, max_tokens, table))
        quantize_static(
            str(fp32), str(int8), _Calibration(tokenizer, calibration, max_tokens, table),
            quant_format=QuantFormat.QOperator if layout.operators else QuantFormat.QDQ, per_channel=True,
            activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, calibrate_method=CalibrationMethod.MinMax,
            op_types_to_quantize=["MatMul"],
            nodes_to_exclude=kept,
            extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
        )  # fmt: skip
        graph = unmasked(onnx.load(str(int8)))
    onnx.helper.set_model_props(graph, {SOURCE_KEY: weights_digest(model_dir)})
    with replacing(out) as partial:
        onnx.save(graph, str(partial))
        os.chmod(partial, 0o644)
    write_digest(model_dir)  # the directory is whole now: record what it is
    return out


def note_export(model_dir: Path, calibration: Path, sentences: Sequence[Sequence[str]], passes: int = 3) -> float:
    """Time the exported graph through ``extract`` at one thread on the calibration sentences (median of
    ``passes``) and record it, with the calibration file's digest, in the model card when there is one."""
    import statistics
    import time

    from hybrid_ner.ner.card import served_section, with_served_section
    from hybrid_ner.ner.extractor import LocalNER

    ner = LocalNER(model_dir, threads=1)
    texts = [" ".join(words) for words in sentences]
    ner.extract(texts[:32])
    seconds = []
    for _ in range(passes):
        t0 = time.perf_counter()
        ner.extract(texts)
        seconds.append(time.perf_counter() - t0)
    words_per_s = sum(len(w) for w in sentences) / statistics.median(seconds)
    card = model_dir / CARD_FILE
    if card.is_file():
        section = served_section(calibration, len(sentences), words_per_s)
        write_whole(card, with_served_section(card.read_text(encoding="utf-8"), section))
    return words_per_s
