"""The linker's encoders with the real packaged MiniLM: the ONNX int8 graph built from it and cached by its source's
digest, vectors close to fp32 and independent of their batch, and the choice by ``HNER_LINK_ENCODER``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hybrid_ner.components import build_embedder
from hybrid_ner.config import Settings
from linking.embedder import TorchEmbedder, embedders
from linking.onnx_encoder import OnnxEmbedder, graph_path, source_digest

pytestmark = pytest.mark.integration

TEXTS = [
    "Paris",
    "Paris (city) capital and most populous city of France",
    "Jobs unveiled the new phone at the company's headquarters in Cupertino on Tuesday.",
    "Siemens",
    "NYSE",
    "",
]


@pytest.fixture(scope="module")
def graph_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("encoders")


def test_vectors_are_normalised_and_close_to_the_fp32_encoder(graph_dir: Path) -> None:
    onnx = OnnxEmbedder(graph_dir).encode(TEXTS)
    fp32 = TorchEmbedder(quantize=False).encode(TEXTS)
    assert onnx.shape == (len(TEXTS), 384) and onnx.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(onnx, axis=1), 1.0, atol=1e-5)
    cosine = (onnx * fp32).sum(axis=1)
    assert cosine.min() > 0.96, cosine  # int8 costs little: the nearest entities stay the nearest
    similar = onnx[0] @ onnx[1]
    assert similar > onnx[0] @ onnx[2]  # "Paris" is nearer the city's entry than to a sentence about a phone


def test_a_text_has_the_same_vector_alone_and_in_a_batch_of_32(graph_dir: Path) -> None:
    embedder = OnnxEmbedder(graph_dir)
    batch = [f"{TEXTS[i % len(TEXTS)]} number {i}" for i in range(31)] + [TEXTS[2]]
    together = embedder.encode(batch)
    alone = embedder.encode([TEXTS[2]])
    assert np.array_equal(together[-1], alone[0])  # bit for bit, not merely close
    assert np.array_equal(embedder.encode_each(batch), together)


def test_the_graph_is_built_once_and_named_by_the_digest_of_its_source(graph_dir: Path) -> None:
    path = graph_path(graph_dir)
    assert path.name == f"minilm-int8-{source_digest()[:16]}.onnx"
    before = path.stat().st_mtime_ns
    OnnxEmbedder(graph_dir).encode(["again"])
    assert graph_path(graph_dir).stat().st_mtime_ns == before  # cached, not rebuilt
    assert [p.name for p in graph_dir.iterdir()] == [path.name]  # no temporary left beside it


def test_the_index_key_follows_the_graph_source_and_the_graph_reads_an_additive_mask(
    graph_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import onnx

    import linking.onnx_encoder as onnx_encoder

    name = OnnxEmbedder(graph_dir).name
    assert name.endswith("+onnx-int8@" + source_digest()[:12])  # the dense index is keyed by the graph's source
    monkeypatch.setattr(onnx_encoder, "RECIPE", onnx_encoder.RECIPE + "; another recipe")
    source_digest.cache_clear()
    try:
        assert OnnxEmbedder(graph_dir).name != name  # a new recipe: a new graph and a new index, never stale vectors
    finally:
        monkeypatch.undo()
        source_digest.cache_clear()
    ops = {node.op_type for node in onnx.load(str(graph_path(graph_dir))).graph.node}
    assert "IsNaN" not in ops and "MatMulInteger" in ops  # eager attention's additive mask; int8 products


def test_a_build_that_fails_leaves_nothing_behind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import onnxruntime.quantization

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("killed while quantizing")

    monkeypatch.setattr(onnxruntime.quantization, "quantize_dynamic", broken)
    with pytest.raises(RuntimeError, match="killed"):
        graph_path(tmp_path / "encoders")
    assert list((tmp_path / "encoders").iterdir()) == []


def test_the_setting_chooses_the_encoder_and_each_keys_its_own_index(tmp_path: Path, graph_dir: Path) -> None:
    default = build_embedder(Settings(data_dir=tmp_path, encoder_cache=graph_dir))
    assert isinstance(default, OnnxEmbedder) and default.cache_dir == graph_dir
    assert build_embedder(Settings(data_dir=tmp_path, encoder_cache=None)).cache_dir == tmp_path / "encoders"  # type: ignore[attr-defined]
    torch = build_embedder(Settings(data_dir=tmp_path, link_encoder="encoder.minilm_torch_int8.v1"))
    assert isinstance(torch, TorchEmbedder)
    assert default.name != torch.name  # a dense index built by one is never loaded for the other
    with pytest.raises(KeyError, match=r"encoder\.minilm_onnx_int8\.v1"):  # the error lists the valid names
        embedders.get("encoder.minilm.v0")


def test_the_environment_variable_reaches_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HNER_LINK_ENCODER", "encoder.minilm_torch_int8.v1")
    monkeypatch.setenv("HNER_ENCODER_CACHE", "/srv/encoders")
    settings = Settings()
    assert settings.link_encoder == "encoder.minilm_torch_int8.v1"
    assert settings.encoder_cache == Path("/srv/encoders")
