"""Converters from ONNX nodes to profondo's own layers: ``fn(ctx, node, attrs, index)`` returns
``(module, dynamic input names)``, or None where the node's form has no matching layer (it is
then imported as a general :class:`~profondo.io.onnx_import.OnnxOp`)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ... import nn
from ...nn.graph import Add, Concat
from .context import Context, UnsupportedOperatorError, f32, need_const, node_attrs, set_param, symmetric_pads, where
from .recurrent import OnnxGRU, OnnxLSTM


def _layer_pads(node, attrs, ctx: Context, spatial: int = 2) -> tuple[int, ...] | None:
    """Symmetric padding per axis, None where the node's padding is uneven (or unknown)."""
    try:
        return symmetric_pads(node, attrs, ctx, spatial)
    except UnsupportedOperatorError:
        return None


def conv(ctx: Context, node, attrs, index):
    """A Conv2d where the weight is constant, 4-D, and the padding even; otherwise the general form."""
    w = ctx.const(node.input[1])
    if w is None or w.ndim != 4:
        return None
    pads = _layer_pads(node, {**attrs, "kernel_shape": list(w.shape[2:])}, ctx)
    if pads is None:
        return None
    bias = ctx.const(node.input[2]) if len(node.input) > 2 and node.input[2] else None
    if len(node.input) > 2 and node.input[2] and bias is None:
        return None
    group = attrs.get("group", 1)
    m = nn.Conv2d(w.shape[1] * group, w.shape[0], tuple(w.shape[2:]), tuple(attrs.get("strides", [1, 1])),
                  pads, tuple(attrs.get("dilations", [1, 1])), group, bias is not None)
    set_param(m.weight, w)
    if bias is not None:
        set_param(m.bias, bias)
    return m, [node.input[0]]


def _linear_from(weight_out_in: np.ndarray, bias: np.ndarray | None) -> nn.Linear:
    m = nn.Linear(weight_out_in.shape[1], weight_out_in.shape[0], bias is not None)
    set_param(m.weight, weight_out_in)
    if bias is not None:
        set_param(m.bias, np.broadcast_to(bias.reshape(-1) if bias.size > 1 else bias, (weight_out_in.shape[0],)))
    return m


def gemm(ctx: Context, node, attrs, index):
    b = ctx.const(node.input[1])
    c = ctx.const(node.input[2]) if len(node.input) > 2 else None
    dynamic_c = len(node.input) > 2 and node.input[2] and c is None
    if b is None or attrs.get("transA", 0) or dynamic_c:
        return None
    w = (b if attrs.get("transB", 0) else b.T) * np.float32(attrs.get("alpha", 1.0))
    if c is not None and c.size not in (1, w.shape[0]):
        return None
    return _linear_from(w, None if c is None else c * np.float32(attrs.get("beta", 1.0))), [node.input[0]]


def matmul(ctx: Context, node, attrs, index):
    b = ctx.const(node.input[1])
    if b is None or b.ndim != 2 or ctx.const(node.input[0]) is not None:
        return None
    bias = None
    j, nxt = ctx.only_consumer(node.output[0], index)
    if nxt is not None and nxt.op_type == "Add":  # MatMul + Add(bias): one Linear (PyTorch's export of it)
        other = [i for i in nxt.input if i != node.output[0]]
        c = ctx.const(other[0]) if len(other) == 1 else None
        if c is not None and c.size == b.shape[1] and c.ndim <= 1:
            bias = c
            ctx.fused.add(j)
            ctx.aliases[nxt.output[0]] = node.output[0]
    return _linear_from(b.T, bias), [node.input[0]]


def pool(ctx: Context, node, attrs, index):
    """MaxPool2d/AvgPool2d where the node's form is theirs; otherwise the general form."""
    kernel = attrs.get("kernel_shape", [])
    if len(kernel) != 2 or attrs.get("ceil_mode", 0) or any(d != 1 for d in attrs.get("dilations", [1, 1])):
        return None
    if len(node.output) > 1 and node.output[1] and ctx.consumers[node.output[1]]:  # the Indices output
        return None
    pads = _layer_pads(node, attrs, ctx)
    if pads is None or any(p > k // 2 for p, k in zip(pads, kernel)):
        return None
    strides = tuple(attrs.get("strides", [1, 1]))
    if node.op_type == "MaxPool":
        return nn.MaxPool2d(tuple(kernel), strides, pads), [node.input[0]]
    if any(pads) and not attrs.get("count_include_pad", 0):  # profondo's average counts padded zeros
        return None
    return nn.AvgPool2d(tuple(kernel), strides, pads), [node.input[0]]


def resize(ctx: Context, node, attrs, index):
    """Upsample where the node is PyTorch's nearest (asymmetric coordinates, floor) by constant whole
    factors of H and W; otherwise the general form."""
    if (attrs.get("mode", "nearest"), attrs.get("coordinate_transformation_mode"), attrs.get("nearest_mode")) != (
            "nearest", "asymmetric", "floor") or "axes" in attrs or len(node.input) != 3 or not node.input[2]:
        return None
    scales = ctx.const(node.input[2])
    if scales is None or scales.shape != (4,) or tuple(scales[:2]) != (1.0, 1.0):
        return None
    factors = tuple(float(f) for f in scales[2:])
    if not all(f.is_integer() and f >= 1 for f in factors):
        return None
    h, w = (int(f) for f in factors)
    return nn.Upsample(scale_factor=h if h == w else (h, w)), [node.input[0]]


def lrn(ctx: Context, node, attrs, index):
    """LocalResponseNorm for odd sizes (where ONNX's window is PyTorch's)."""
    size = attrs["size"]
    if size % 2 == 0:
        return None
    return nn.LocalResponseNorm(size, attrs.get("alpha", 1e-4), attrs.get("beta", 0.75),
                                attrs.get("bias", 1.0)), [node.input[0]]


def global_pool(ctx: Context, node, attrs, index):
    j, nxt = ctx.only_consumer(node.output[0], index)
    flat = nxt is not None and nxt.op_type == "Flatten" and node_attrs(nxt).get("axis", 1) == 1
    if not flat and nxt is not None and nxt.op_type in ("Reshape", "Squeeze"):  # (N, C, 1, 1) -> (N, C) forms
        shape = ctx.shapes.get(nxt.output[0])
        flat = shape is not None and len(shape) == 2
    if flat:
        ctx.fused.add(j)
        ctx.aliases[nxt.output[0]] = node.output[0]
        return nn.GlobalAvgPool2d(), [node.input[0]]
    return None


def batch_norm(ctx: Context, node, attrs, index):
    scale, bias, mean, var = (need_const(ctx, node, i, what)
                              for i, what in enumerate(("scale", "bias", "mean", "var"), 1))
    if any(o and ctx.consumers[o] for o in node.output[1:]):
        raise UnsupportedOperatorError(f"{where(node)}: the running-statistics outputs (training mode)")
    rank = ctx.rank(node.input[0])
    if rank not in (2, 3, 4):
        raise UnsupportedOperatorError(f"{where(node)}: expected an input of rank 2, 3 or 4 (known from shape "
                                       f"inference), received rank {rank}")
    cls = nn.BatchNorm2d if rank == 4 else nn.BatchNorm1d
    m = cls(scale.shape[0], eps=attrs.get("epsilon", 1e-5), momentum=f32(1.0 - attrs.get("momentum", 0.9)))
    for p, value in ((m.weight, scale), (m.bias, bias), (m.running_mean, mean), (m.running_var, var)):
        set_param(p, value)
    return m, [node.input[0]]


def flatten(ctx: Context, node, attrs, index):
    return (nn.Flatten(), [node.input[0]]) if attrs.get("axis", 1) == 1 else None


def dropout(ctx: Context, node, attrs, index):
    if len(node.output) > 1 and node.output[1] and ctx.consumers[node.output[1]]:
        raise UnsupportedOperatorError(f"{where(node)}: the mask output")
    ratio = ctx.const(node.input[1]) if len(node.input) > 1 and node.input[1] else None
    return nn.Dropout(f32(ratio) if ratio is not None else attrs.get("ratio", 0.5)), [node.input[0]]


def clip(ctx: Context, node, attrs, index):
    low = ctx.const(node.input[1]) if len(node.input) > 1 else None
    high = ctx.const(node.input[2]) if len(node.input) > 2 else None
    low = attrs.get("min") if low is None and ctx.opset < 11 else low
    high = attrs.get("max") if high is None and ctx.opset < 11 else high
    if low is not None and float(low) == 0.0 and high is not None and float(high) == 6.0:
        return nn.ReLU6(), [node.input[0]]
    return None


def gather(ctx: Context, node, attrs, index):
    table = ctx.const(node.input[0])
    if table is not None and node.input[0] in ctx.trainable and table.ndim == 2 and attrs.get("axis", 0) == 0 \
            and ctx.const(node.input[1]) is None:
        m = nn.Embedding(*table.shape)
        set_param(m.weight, table)
        return m, [node.input[1]]
    return None


def add(ctx: Context, node, attrs, index):
    a, b = (ctx.shapes.get(i) for i in node.input)
    if ctx.const(node.input[0]) is None and ctx.const(node.input[1]) is None and a is not None and a == b \
            and None not in a[1:]:
        return Add(), list(node.input)
    return None


def concat(ctx: Context, node, attrs, index):
    if all(ctx.const(i) is None for i in node.input) and attrs["axis"] != 0:
        return Concat(attrs["axis"]), list(node.input)
    return None


def layer(cls: type) -> Callable:
    """A converter to a layer with no settings (ReLU, Sigmoid, Tanh)."""
    return lambda ctx, node, attrs, index: (cls(), [node.input[0]])


def leaky_relu(ctx: Context, node, attrs, index):
    return nn.LeakyReLU(attrs.get("alpha", 0.01)), [node.input[0]]


def softmax(ctx: Context, node, attrs, index):
    axis = attrs.get("axis", 1 if ctx.opset < 13 else -1)
    rank = ctx.rank(node.input[0])
    if ctx.opset < 13 and not (rank is not None and axis % rank == rank - 1):
        return None  # softmax over the flattened axes from `axis` on: the general form
    cls = nn.Softmax if node.op_type == "Softmax" else nn.LogSoftmax
    return cls(axis), [node.input[0]]


def recurrent(ctx: Context, node, attrs, index):
    op = node.op_type
    if len(node.input) > 4 and node.input[4]:
        raise UnsupportedOperatorError(f"{where(node)}: the input sequence_lens (sequences of different lengths) "
                                       "is not supported")
    general = attrs.get("direction") == "reverse" or "clip" in attrs or attrs.get("input_forget", 0) or (
        op == "GRU" and not attrs.get("linear_before_reset", 0)) or (op == "LSTM" and len(node.input) > 7
                                                                    and node.input[7])
    if general:  # ONNX's own forms (GRU's default linear_before_reset=0, peepholes, ...): the general form
        return None
    if ctx.const(node.input[1]) is None or ctx.const(node.input[2]) is None:
        return None  # weights computed at run time: the general form
    w, r = need_const(ctx, node, 1, "W"), need_const(ctx, node, 2, "R")
    bias = ctx.const(node.input[3]) if len(node.input) > 3 and node.input[3] else None
    n_outputs = max((k + 1 for k, o in enumerate(node.output) if o and ctx.consumers[o]), default=1)
    states = list(node.input[5:7] if op == "LSTM" else node.input[5:6])
    slots = ["input"] + [None if not s else "const" if s in ctx.constants else "input" for s in states]
    while slots[-1] is None:
        slots.pop()
    constants = {str(i): {"shape": list(ctx.constants[s].shape), "dtype": str(ctx.constants[s].dtype)}
                 for i, s in enumerate(states, 1) if s in ctx.constants}
    cls = OnnxLSTM if op == "LSTM" else OnnxGRU
    m = cls(w.shape[2], attrs["hidden_size"], w.shape[0] == 2, attrs.get("layout", 0), n_outputs, slots, constants)
    m.load_onnx(w, r, bias)
    for i, s in enumerate(states, 1):
        if s in ctx.constants:
            m.__dict__[f"c{i}"].data[...] = ctx.constants[s]
    return m, [node.input[0], *[s for s in states if s and s not in ctx.constants]]
