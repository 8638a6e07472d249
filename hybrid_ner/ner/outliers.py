"""Outlier input channels of a MatMul, computed in fp32 beside its int8 product.

A few hidden channels carry activations several times larger than the rest: in the default model one channel
into the first feed-forward down-projection reaches 21.7 where the next reaches 6.5. With one uint8 scale per
activation tensor, that channel sets the step for every other one. Splitting it off,

    Y = MatMul(X * mask, W * mask) + MatMul(Gather(X, C), W[C])

leaves the int8 product a range about three times tighter, while the fp32 product of rank ``|C|`` costs a few
hundred multiply-adds per token. The rewrite is exact in fp32; only what quantization does to it changes
(``make ner-export-bench`` measures both).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from onnx import GraphProto, ModelProto, NodeProto, TensorProto

Feeds = Mapping[str, np.ndarray]


@dataclass(frozen=True)
class Split:
    """One weight MatMul whose input has outlier channels: the node and the channels taken out of it."""

    node: str
    channels: tuple[int, ...]


def weight_matmuls(graph: GraphProto) -> dict[str, list[NodeProto]]:
    """The MatMuls with a weight initializer, grouped by their activation input (Q, K and V share one)."""
    weights = {init.name for init in graph.initializer}
    groups: dict[str, list[NodeProto]] = {}
    for node in graph.node:
        if node.op_type == "MatMul" and node.input[1] in weights and node.input[0] not in weights:
            groups.setdefault(node.input[0], []).append(node)
    return groups


def down_projections(graph: GraphProto) -> dict[str, list[NodeProto]]:
    """The weight MatMuls that read more channels than they write: each feed-forward block's second product (its
    input comes out of GELU, where single channels run far above the rest) and the classifier. Splitting the
    residual stream's readers as well (Q, K, V, the first feed-forward product) brought agreement with fp32 on
    CoNLL dev from 0.993 to 0.995 at a tenth more graph time, so they stay whole."""
    dims = {init.name: tuple(init.dims) for init in graph.initializer}
    return {
        x: nodes
        for x, nodes in weight_matmuls(graph).items()
        if all(dims[n.input[1]][0] > dims[n.input[1]][1] for n in nodes)
    }


def channel_maxima(model: ModelProto, tensors: Iterable[str], feeds: Iterable[Feeds]) -> dict[str, np.ndarray]:
    """The largest absolute value of each channel (last axis) of ``tensors`` over ``feeds``, in fp32."""
    import onnx
    import onnxruntime as ort

    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    names = list(tensors)
    probe.graph.output.extend(onnx.helper.make_tensor_value_info(n, onnx.TensorProto.FLOAT, None) for n in names)
    session = ort.InferenceSession(probe.SerializeToString(), providers=["CPUExecutionProvider"])
    maxima: dict[str, np.ndarray] = {}
    for feed in feeds:
        for name, value in zip(names, session.run(names, dict(feed)), strict=True):
            peak = np.abs(value.reshape(-1, value.shape[-1])).max(axis=0)
            maxima[name] = np.maximum(maxima[name], peak) if name in maxima else peak
    return maxima


def outliers(maxima: np.ndarray, ratio: float) -> tuple[int, ...]:
    """Channels whose peak exceeds ``ratio`` times the 99th percentile of all the channels' peaks."""
    return tuple(int(i) for i in np.flatnonzero(maxima > ratio * np.percentile(maxima, 99)))


def split_outliers(model: ModelProto, maxima: Mapping[str, np.ndarray], ratio: float) -> tuple[ModelProto, list[Split]]:
    """A copy of ``model`` with the outlier channels of every weight MatMul's input computed apart, in fp32.

    Returns the copy and what was split; :func:`fp32_nodes` names the fp32 products, so that the quantizer can be
    told to leave them alone.
    """
    import onnx

    out = onnx.ModelProto()
    out.CopyFrom(model)
    graph = out.graph
    plan = {x: outliers(maxima[x], ratio) for x in weight_matmuls(graph) if x in maxima}
    inits = {init.name: init for init in graph.initializer}
    nodes, masked, splits = list(graph.node), set(), []
    del graph.node[:]
    for node in nodes:
        x = node.input[0] if node.op_type == "MatMul" else ""
        if not plan.get(x) or node.input[1] not in inits:
            graph.node.append(node)
            continue
        if x not in masked:  # one mask and one gather per input tensor, before its first reader
            masked.add(x)
            _mask_input(graph, x, plan[x], maxima[x].shape[0])
        _split(graph, node, inits[node.input[1]], plan[x])
        splits.append(Split(node.name, plan[x]))
    return out, splits


def _ones_but(size: int, channels: tuple[int, ...]) -> np.ndarray:
    mask = np.ones(size, np.float32)
    mask[list(channels)] = 0.0
    return mask


def _inliers(x: str) -> str:
    """The mask's name: how :func:`unmasked` finds what :func:`_mask_input` wrote."""
    return f"{x}/inliers"


def _mask_input(graph: GraphProto, x: str, channels: tuple[int, ...], size: int) -> None:
    """``x/in``: ``x`` with the outlier channels zeroed; ``x/out``: those channels alone."""
    from onnx import helper, numpy_helper

    graph.initializer.extend(
        [numpy_helper.from_array(_ones_but(size, channels), _inliers(x)),
         numpy_helper.from_array(np.array(channels, np.int64), f"{x}/outliers")]
    )  # fmt: skip
    graph.node.extend(
        [helper.make_node("Mul", [x, _inliers(x)], [f"{x}/in"], name=f"{x}/in"),
         helper.make_node("Gather", [x, f"{x}/outliers"], [f"{x}/out"], name=f"{x}/out", axis=-1)]
    )  # fmt: skip


def _split(graph: GraphProto, node: NodeProto, init: TensorProto, channels: tuple[int, ...]) -> None:
    """Append ``node`` reading the inlier channels, its fp32 product over the outliers, and their sum."""
    from onnx import helper, numpy_helper

    x, y, weight = node.input[0], node.output[0], numpy_helper.to_array(init)
    graph.initializer.append(numpy_helper.from_array(weight[list(channels)].astype(np.float32), f"{node.name}/w"))
    init.CopyFrom(numpy_helper.from_array(weight * _ones_but(weight.shape[0], channels)[:, None], init.name))
    fp32 = helper.make_node("MatMul", [f"{x}/out", f"{node.name}/w"], [f"{y}/out"], name=fp32_name(node.name))
    node.input[0], node.output[0] = f"{x}/in", f"{y}/in"
    graph.node.extend([fp32, node, helper.make_node("Add", [f"{y}/in", f"{y}/out"], [y], name=f"{node.name}/join")])


def fp32_name(node: str) -> str:
    return f"{node}/outliers"


def fp32_nodes(splits: Iterable[Split]) -> list[str]:
    """The names of the fp32 products that :func:`split_outliers` added, for ``nodes_to_exclude``."""
    return [fp32_name(s.node) for s in splits]


def unmasked(model: ModelProto) -> ModelProto:
    """A copy of a quantized ``model`` whose int8 products read their inputs without the mask.

    The mask kept the outlier channels out of the calibrated range. Once the scales are fixed, it is not needed:
    the int8 weight rows of those channels are zero, so a saturated outlier adds nothing, and one elementwise pass
    over each down-projection's input is saved. Masks read by anything other than a quantizer are left in place.
    """
    import onnx

    out = onnx.ModelProto()
    out.CopyFrom(model)
    graph = out.graph
    readers: dict[str, list[NodeProto]] = {}
    for node in graph.node:
        for name in node.input:
            readers.setdefault(name, []).append(node)
    drop = {
        node.output[0]: node.input[0]
        for node in graph.node
        if node.op_type == "Mul" and node.input[1] == _inliers(node.input[0])
        and all(r.op_type == "QuantizeLinear" for r in readers.get(node.output[0], []))
    }  # fmt: skip
    for name, source in drop.items():
        for reader in readers.get(name, []):
            reader.input[0] = source
    kept = [n for n in graph.node if not (n.op_type == "Mul" and n.output[0] in drop)]
    del graph.node[:]
    graph.node.extend(kept)
    unused = {_inliers(source) for source in drop.values()}
    inits = [i for i in graph.initializer if i.name not in unused]
    del graph.initializer[:]
    graph.initializer.extend(inits)
    return out
