"""The outlier-channel rewrite of the served NER graph, on small real ONNX graphs run and quantized by ONNX Runtime."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

from hybrid_ner.ner.outliers import (
    channel_maxima,
    down_projections,
    fp32_nodes,
    outliers,
    split_outliers,
    unmasked,
    weight_matmuls,
)

HIDDEN, OUT = 64, 16


def _graph(readers: int = 1, out: int = OUT) -> onnx.ModelProto:
    """``x -> Relu -> h``, then ``readers`` weight MatMuls of ``h`` (as Q, K and V read one layer norm)."""
    rng = np.random.default_rng(0)
    inits = [
        numpy_helper.from_array(rng.normal(0, 0.2, (HIDDEN, out)).astype(np.float32), f"w{i}") for i in range(readers)
    ]
    nodes = [helper.make_node("Relu", ["x"], ["h"], name="relu")]
    nodes += [helper.make_node("MatMul", ["h", f"w{i}"], [f"y{i}"], name=f"mm{i}") for i in range(readers)]
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", HIDDEN])],
        [helper.make_tensor_value_info(f"y{i}", TensorProto.FLOAT, ["n", out]) for i in range(readers)], inits,
    )  # fmt: skip
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)


def _inputs(n: int, seed: int) -> np.ndarray:
    """Activations in [0, 1] with channel 7 reaching 25: one outlier channel, as in the real feed-forward input."""
    x = np.random.default_rng(seed).uniform(0, 1, (n, HIDDEN)).astype(np.float32)
    x[:, 7] *= 25.0
    return x


def _run(model: onnx.ModelProto, x: np.ndarray) -> list[np.ndarray]:
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {"x": x})


def test_outliers_are_the_channels_far_above_the_rest():
    peaks = np.ones(200)
    peaks[[3, 150]] = [9.0, 2.0]
    assert outliers(peaks, 1.5) == (3, 150)
    assert outliers(peaks, 3.0) == (3,)
    assert outliers(np.ones(200), 1.5) == ()


def test_the_split_is_exact_in_fp32_and_shares_one_mask_among_readers():
    model = _graph(readers=3)
    maxima = channel_maxima(model, weight_matmuls(model.graph), [{"x": _inputs(32, 1)}])
    assert set(maxima) == {"h"} and int(np.argmax(maxima["h"])) == 7
    split, splits = split_outliers(model, maxima, 1.5)
    onnx.checker.check_model(split)
    assert [s.channels for s in splits] == [(7,)] * 3
    ops = [n.op_type for n in split.graph.node]
    assert ops.count("Mul") == 1 and ops.count("Gather") == 1 and ops.count("MatMul") == 6  # three int8, three fp32
    x = _inputs(8, 2)
    for before, after in zip(_run(model, x), _run(split, x), strict=True):
        np.testing.assert_allclose(before, after, rtol=1e-5, atol=1e-5)
    assert len(model.graph.node) == 4  # the model given was not changed
    assert unmasked(split).graph.node == split.graph.node  # an fp32 product still needs its masked input


def test_only_products_that_narrow_their_input_are_split():
    assert set(down_projections(_graph(readers=2).graph)) == {"h"}  # 64 channels in, 16 out
    assert down_projections(_graph(out=4 * HIDDEN).graph) == {}  # an up-projection reads the residual stream


def test_a_graph_without_outliers_is_left_as_it_was():
    model = _graph()
    flat = {"h": np.ones(HIDDEN, np.float32)}
    split, splits = split_outliers(model, flat, 1.5)
    assert splits == [] and split.graph.node == model.graph.node


def test_static_int8_is_closer_to_fp32_with_the_outliers_kept_apart(tmp_path):
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    class Reader:
        def __init__(self) -> None:
            self.batches = iter([{"x": _inputs(16, seed)} for seed in range(4)])

        def get_next(self) -> dict[str, np.ndarray] | None:
            return next(self.batches, None)

    def int8(model: onnx.ModelProto, exclude: list[str]) -> onnx.ModelProto:
        src, dst = tmp_path / "fp32.onnx", tmp_path / "int8.onnx"
        onnx.save(model, str(src))
        quantize_static(
            str(src), str(dst), Reader(), quant_format=QuantFormat.QOperator, per_channel=True,
            activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, calibrate_method=CalibrationMethod.MinMax,
            op_types_to_quantize=["MatMul"], nodes_to_exclude=exclude,
        )  # fmt: skip
        return onnx.load(str(dst))

    model = _graph()
    split, splits = split_outliers(model, channel_maxima(model, ["h"], [{"x": _inputs(64, 9)}]), 1.5)
    x = _inputs(256, 5)
    (reference,) = _run(model, x)
    (plain,) = _run(int8(model, []), x)
    quantized = int8(split, fp32_nodes(splits))
    (kept,) = _run(quantized, x)
    ops = [n.op_type for n in quantized.graph.node]
    assert "QLinearMatMul" in ops and "MatMul" in ops  # the inliers in int8, the outlier product in fp32
    error_plain, error_kept = np.abs(plain - reference).mean(), np.abs(kept - reference).mean()
    assert error_kept < error_plain / 2, (error_kept, error_plain)

    served = unmasked(quantized)  # the mask only shaped the calibrated range: zero int8 rows ignore the outliers
    assert "Mul" in ops and "Mul" not in [n.op_type for n in served.graph.node]
    onnx.checker.check_model(served)
    (same,) = _run(served, x)
    np.testing.assert_array_equal(same, kept)
