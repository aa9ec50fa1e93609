"""Import ONNX models as trainable profondo networks (needs ``pip install onnx``).

Every ONNX node becomes a module: the layers of :mod:`profondo.nn` where one matches
(Conv -> Conv2d, Gemm or MatMul[+Add] with constant weights -> Linear, BatchNormalization ->
BatchNorm1d/2d, pools, activations, Flatten, Dropout, Gather of a table -> Embedding,
LSTM/GRU -> :class:`OnnxLSTM`/:class:`OnnxGRU`), and :class:`OnnxOp` for the rest
(arithmetic with broadcasting, Reshape, Transpose, Concat, Gather, Shape, ...). Float
initializers become Parameters (trainable), Constant nodes buffers; nodes whose inputs are
all constant are folded at import. A chain of nodes becomes a ``Sequential``, anything
else a :class:`~profondo.nn.graph.Graph` with one node per ONNX node. A model written by
:func:`~profondo.io.onnx_export.export_onnx` comes back with its module names, state-dict
keys and ``spec`` (so :func:`profondo.spec.to_dict` writes its architecture file).

>>> net = import_onnx("model.onnx")                 # or bytes, or an onnx.ModelProto
>>> loss = F.cross_entropy(net(x), y); loss.backward()   # trainable
"""

from __future__ import annotations

import json
import math
import os
import re
from collections import Counter, OrderedDict
from collections.abc import Callable
from typing import Any

import numpy as np

from .. import functional as F
from .. import nn
from ..autograd import no_grad
from ..nn.graph import INPUT, Add, Concat, Graph
from ..tensor import Tensor
from .onnx_export import EXPORTERS, SPEC_KEY, _Builder, _onnx, _Value

try:
    from ..nn import recurrent as _recurrent
except ImportError:  # recurrent layers not installed: LSTM and GRU nodes are reported as unsupported
    _recurrent = None


class UnsupportedOperatorError(ValueError):
    """The ONNX model uses operators (or forms of them) that the importer cannot build."""


# --- ONNX operators as functions of Tensors --------------------------------------------------
def _ints(t) -> list[int]:
    return [int(v) for v in np.asarray(t.data if isinstance(t, Tensor) else t).reshape(-1)]


def _binary(fn: Callable) -> Callable:
    def op(attrs, a, b):
        if a.dtype.kind in "iu" and b.dtype.kind in "iu":  # shape arithmetic: exact integers
            return Tensor(np.asarray(fn(a.data, b.data)).astype(np.result_type(a.data, b.data)))
        return fn(a, b)

    return op


def _reshape(attrs, x, shape):
    target = _ints(shape)
    if not attrs.get("allowzero", 0):  # 0 copies the input's size on that axis
        target = [x.shape[i] if s == 0 else s for i, s in enumerate(target)]
    return F.reshape(x, tuple(target))


def _unsqueeze(attrs, x, axes=None):
    axes = _ints(axes) if axes is not None else attrs["axes"]
    rank = x.ndim + len(axes)
    for a in sorted(a % rank for a in axes):
        x = F.unsqueeze(x, a)
    return x


def _squeeze(attrs, x, axes=None):
    axes = _ints(axes) if axes is not None else attrs.get("axes")
    return F.squeeze(x, None if axes is None else tuple(axes))


def _gather(attrs, data, indices):
    axis = attrs.get("axis", 0) % data.ndim
    return F.getitem(data, (slice(None),) * axis + (indices.data,))


def _slice(attrs, x, starts, ends, axes=None, steps=None):
    starts, ends = _ints(starts), _ints(ends)
    axes = _ints(axes) if axes is not None else list(range(len(starts)))
    steps = _ints(steps) if steps is not None else [1] * len(starts)
    index = [slice(None)] * x.ndim
    for s, e, a, k in zip(starts, ends, axes, steps):
        index[a % x.ndim] = slice(s, e, k)
    return F.getitem(x, tuple(index))


def _gemm(attrs, a, b, c=None):
    a = F.transpose(a) if attrs.get("transA", 0) else a
    b = F.transpose(b) if attrs.get("transB", 0) else b
    y = F.matmul(a, b) * attrs.get("alpha", 1.0)
    return y if c is None else y + c * attrs.get("beta", 1.0)


def _clip(attrs, x, low=None, high=None):
    low = attrs.get("min") if low is None else float(low.data)
    high = attrs.get("max") if high is None else float(high.data)
    return F.clip(x, low, high)


def _constant_of_shape(attrs, shape):
    value = attrs.get("value", {"values": [0.0], "dtype": "float32"})
    return Tensor(np.full(_ints(shape), value["values"][0], np.dtype(value["dtype"])))


def _cast(attrs, x):
    dtype = _onnx().helper.tensor_dtype_to_np_dtype(attrs["to"])
    return F.cast(x, dtype) if x.dtype.kind == "f" and np.dtype(dtype).kind == "f" else Tensor(x.data.astype(dtype))


def _reduce(fn: Callable) -> Callable:
    """ReduceMean/Max/Sum: axes an attribute before opset 18, an optional input from then on."""
    def reduce(attrs, x, axes=None):
        axes = _ints(axes) if axes is not None else attrs.get("axes")
        if axes is None and attrs.get("noop_with_empty_axes", 0):
            return x
        return fn(x, None if axes is None else tuple(a % x.ndim for a in axes), bool(attrs.get("keepdims", 1)))

    return reduce


def _softmax_like(fn: Callable) -> Callable:
    return lambda attrs, x: fn(x, attrs.get("axis", -1))


OPS: dict[str, Callable] = {
    "Add": _binary(lambda a, b: a + b), "Sub": _binary(lambda a, b: a - b), "Mul": _binary(lambda a, b: a * b),
    "Div": _binary(lambda a, b: np.trunc(a / b) if isinstance(a, np.ndarray) else a / b),  # ints truncate
    "Pow": lambda attrs, a, b: F.pow(a, b),
    "MatMul": lambda attrs, a, b: F.matmul(a, b), "Gemm": _gemm,
    "Neg": lambda attrs, x: -x, "Exp": lambda attrs, x: F.exp(x), "Log": lambda attrs, x: F.log(x),
    "Sqrt": lambda attrs, x: F.sqrt(x), "Abs": lambda attrs, x: F.abs(x),
    "Relu": lambda attrs, x: F.relu(x), "Sigmoid": lambda attrs, x: F.sigmoid(x), "Tanh": lambda attrs, x: F.tanh(x),
    "LeakyRelu": lambda attrs, x: F.leaky_relu(x, attrs.get("alpha", 0.01)),
    "Softmax": _softmax_like(F.softmax), "LogSoftmax": _softmax_like(F.log_softmax),
    "Clip": _clip, "Reshape": _reshape,
    "Transpose": lambda attrs, x: F.permute(x, attrs.get("perm", list(range(x.ndim))[::-1])),
    "Flatten": lambda attrs, x: F.reshape(x, (math.prod(x.shape[:attrs.get("axis", 1)]), -1)),
    "Concat": lambda attrs, *xs: F.concat(xs, attrs["axis"]),
    "Gather": _gather, "Slice": _slice, "Unsqueeze": _unsqueeze, "Squeeze": _squeeze,
    "Shape": lambda attrs, x: Tensor(np.array(x.shape[attrs.get("start", 0):attrs.get("end")], np.int64)),
    "Expand": lambda attrs, x, shape: F.broadcast_to(x, np.broadcast_shapes(x.shape, tuple(_ints(shape)))),
    "ConstantOfShape": _constant_of_shape, "Cast": _cast,
    "ReduceMean": _reduce(F.mean), "ReduceMax": _reduce(F.max), "ReduceSum": _reduce(F.sum),
    "GlobalAveragePool": lambda attrs, x: F.mean(x, axis=tuple(range(2, x.ndim)), keepdims=True),
    "Output": lambda attrs, xs: xs[attrs["index"]],  # one output of a multi-output node
}
"""ONNX op type -> ``fn(attrs, *inputs)`` on Tensors, behind :class:`OnnxOp` and constant folding."""


class OnnxOp(nn.Module):
    """One ONNX operator on Tensors, its constant inputs held as Parameters (float initializers,
    trainable) or buffers (named ``c0``, ``c1``, ... by input position).

    ``slots`` says, for each ONNX input, ``"input"`` (the module's next argument), ``"const"``
    or ``None`` (an omitted optional input).

    >>> op = OnnxOp("Add", slots=["input", "const"], constants={"1": {"shape": [4], "dtype": "float32",
    ...             "trainable": True}})
    >>> op(profondo.randn(2, 4)).shape
    (2, 4)
    """

    def __init__(self, op: str, attrs: dict | None = None, slots: list | None = None,
                 constants: dict | None = None) -> None:
        super().__init__()
        if op not in OPS:
            raise ValueError(f"OnnxOp: unknown operator {op!r}; expected one of {sorted(OPS)}")
        self.op, self.attrs = op, dict(attrs or {})
        self.slots = list(slots or ["input"])
        self.constants = {str(k): dict(v) for k, v in (constants or {}).items()}
        self._fn = OPS[op]
        for i, slot in enumerate(self.slots):
            if slot == "const":
                c = self.constants[str(i)]
                array = np.zeros(c["shape"], np.dtype(c["dtype"]))
                if c.get("trainable"):
                    setattr(self, f"c{i}", nn.Parameter(array))
                else:
                    self.register_buffer(f"c{i}", array)

    def forward(self, *xs):
        it = iter(xs)
        args = [next(it) if s == "input" else None if s is None else self.__dict__[f"c{i}"]
                for i, s in enumerate(self.slots)]
        while args and args[-1] is None:  # trailing omitted optional inputs
            args.pop()
        return self._fn(self.attrs, *args)

    def extra_repr(self) -> str:
        return self.op + (f", {self.attrs}" if self.attrs else "")

    def get_config(self) -> dict[str, Any]:
        return {"op": self.op, "attrs": self.attrs, "slots": self.slots, "constants": self.constants}


def _export_onnx_op(b: _Builder, m: OnnxOp, name: str, *xs: _Value):
    """Write an OnnxOp back as its ONNX node (so an imported network exports again)."""
    if m.op == "Output":
        return xs[0][m.attrs["index"]]
    it = iter(xs)
    inputs = [next(it).name if s == "input" else "" if s is None else b.const(f"{name}.c{i}", m.__dict__[f"c{i}"].numpy())
              for i, s in enumerate(m.slots)]
    attrs = {k: _attr_to_onnx(k, v) for k, v in m.attrs.items()}
    return _Value(b.node(m.op, inputs, name, **attrs)[0], None)


def _attr_to_onnx(key: str, value):
    if isinstance(value, dict) and "values" in value:  # a tensor attribute (ConstantOfShape's value)
        array = np.array(value["values"], np.dtype(value["dtype"])).reshape(value.get("shape", [-1]))
        return _onnx().numpy_helper.from_array(array)
    return value


EXPORTERS[OnnxOp] = _export_onnx_op


# --- recurrent layers in ONNX's layout ---------------------------------------------------------
def _onnx_recurrent_class(base: type, n_gates: int, order: list[int]) -> type:
    """A subclass of profondo's LSTM/GRU that takes and returns tensors in ONNX's layout."""
    op = base.__name__

    class Recurrent(base):
        __doc__ = (f"profondo's {op} with ONNX's interface: ``forward(X, initial_h{', initial_c' if op == 'LSTM' else ''})`` "
                   f"returns Y (T, directions, N, H), Y_h{' and Y_c' if op == 'LSTM' else ''} (directions, N, H) "
                   "(``layout=1``: batch first), the first ``n_outputs`` of them.")

        def __init__(self, input_size: int, hidden_size: int, bidirectional: bool = False, layout: int = 0,
                     n_outputs: int = 1, slots: list | None = None, constants: dict | None = None) -> None:
            super().__init__(input_size, hidden_size, bidirectional=bidirectional, batch_first=bool(layout))
            self.layout, self.n_outputs, self.slots = int(layout), int(n_outputs), list(slots or ["input"])
            self.constants = {str(k): dict(v) for k, v in (constants or {}).items()}
            for i, slot in enumerate(self.slots):  # constant initial states
                if slot == "const":
                    c = self.constants[str(i)]
                    self.register_buffer(f"c{i}", np.zeros(c["shape"], np.dtype(c["dtype"])))

        def forward(self, *xs):
            it = iter(xs)
            args = [next(it) if s == "input" else None if s is None else self.__dict__[f"c{i}"]
                    for i, s in enumerate(self.slots)]
            x, h0, c0 = (args + [None, None, None])[:3]
            if self.layout and h0 is not None:
                h0 = F.transpose(h0, 0, 1)
                c0 = None if c0 is None else F.transpose(c0, 0, 1)
            if op == "LSTM":
                zeros = None if h0 is None and c0 is None else Tensor(x.xp.zeros(
                    (self.num_directions, x.shape[1 - self.layout], self.hidden_size), x.dtype))
                hx = None if zeros is None else (zeros if h0 is None else h0, zeros if c0 is None else c0)
                y, (h, c) = super().forward(x, hx)
                states = [h, c]
            else:
                y, h = super().forward(x, h0)
                states = [h]
            d, hidden = self.num_directions, self.hidden_size
            if self.layout:  # (N, T, dirs*H) -> (N, T, dirs, H); states (N, dirs, H)
                y = F.reshape(y, (y.shape[0], y.shape[1], d, hidden))
                states = [F.transpose(s, 0, 1) for s in states]
            else:  # (T, N, dirs*H) -> (T, dirs, N, H)
                y = F.permute(F.reshape(y, (y.shape[0], y.shape[1], d, hidden)), (0, 2, 1, 3))
            outs = [y, *states][:self.n_outputs]
            return outs[0] if len(outs) == 1 else tuple(outs)

        def get_config(self) -> dict[str, Any]:
            return {"input_size": self.input_size, "hidden_size": self.hidden_size,
                    "bidirectional": self.bidirectional, "layout": self.layout, "n_outputs": self.n_outputs,
                    "slots": self.slots, "constants": self.constants}

        def load_onnx(self, w: np.ndarray, r: np.ndarray, bias: np.ndarray | None) -> None:
            """Set the weights from ONNX's W (dirs, G*H, I), R (dirs, G*H, H), B (dirs, 2*G*H)."""
            hidden = self.hidden_size
            inverse = np.argsort(order)
            for d, suffix in enumerate(("", "_reverse")[:self.num_directions]):
                gates = {"weight_ih": w[d], "weight_hh": r[d],
                         "bias_ih": bias[d, :n_gates * hidden] if bias is not None else 0.0,
                         "bias_hh": bias[d, n_gates * hidden:] if bias is not None else 0.0}
                for key, value in gates.items():
                    target = self.__dict__[f"{key}_l0{suffix}"].data
                    target[...] = _reorder(np.broadcast_to(value, target.shape), inverse, n_gates)

    Recurrent.__name__ = Recurrent.__qualname__ = f"Onnx{op}"
    del nn.Module._registry["Recurrent"]  # registered under its final name, for Graph.from_config
    nn.Module._registry[Recurrent.__name__] = Recurrent
    return Recurrent


def _reorder(w: np.ndarray, order, n: int) -> np.ndarray:
    blocks = np.split(np.asarray(w), n, axis=0)
    return np.concatenate([blocks[i] for i in order], axis=0)


# PyTorch's gate order in ONNX's: LSTM i, f, g, o <- ONNX i, o, f, c; GRU r, z, n <- ONNX z, r, h
_LSTM_ORDER, _GRU_ORDER = [0, 3, 1, 2], [1, 0, 2]
if _recurrent is not None:
    OnnxLSTM = _onnx_recurrent_class(_recurrent.LSTM, 4, _LSTM_ORDER)
    OnnxGRU = _onnx_recurrent_class(_recurrent.GRU, 3, _GRU_ORDER)

    def _export_onnx_recurrent(b: _Builder, m, name: str, *xs: _Value):
        op, order, n_gates = ("LSTM", _LSTM_ORDER, 4) if isinstance(m, OnnxLSTM) else ("GRU", _GRU_ORDER, 3)
        dirs, state = m.num_directions, m.state_dict()
        sfx = ["_l0", "_l0_reverse"][:dirs]
        w = np.stack([_reorder(state[f"weight_ih{s}"], order, n_gates) for s in sfx])
        r = np.stack([_reorder(state[f"weight_hh{s}"], order, n_gates) for s in sfx])
        bias = np.stack([np.concatenate([_reorder(state[f"bias_ih{s}"], order, n_gates),
                                         _reorder(state[f"bias_hh{s}"], order, n_gates)]) for s in sfx])
        it = iter(xs)
        given = [next(it).name if s == "input" else "" if s is None else b.const(f"{name}.c{i}", m.__dict__[f"c{i}"].numpy())
                 for i, s in enumerate(m.slots)]
        inputs = [given[0], b.const(f"{name}.W", w), b.const(f"{name}.R", r), b.const(f"{name}.B", bias), "",
                  *given[1:]]
        attrs = {"hidden_size": m.hidden_size, "direction": "bidirectional" if dirs == 2 else "forward",
                 "layout": m.layout or None, "linear_before_reset": 1 if op == "GRU" else None}
        outs = b.node(op, inputs, name, n_outputs=m.n_outputs, **attrs)
        values = [_Value(o, None) for o in outs]
        return values[0] if len(values) == 1 else tuple(values)

    EXPORTERS[OnnxLSTM] = EXPORTERS[OnnxGRU] = _export_onnx_recurrent


# --- the importer ------------------------------------------------------------------------------
class _Context:
    """What converters see: constants, inferred shapes, consumers, and the nodes built so far."""

    def __init__(self, proto) -> None:
        onnx = _onnx()
        self.graph = proto.graph
        self.opset = next((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), 1)
        self.constants: dict[str, np.ndarray] = {}
        self.trainable: set[str] = set()  # constants that are float initializers: Parameters
        for init in self.graph.initializer:
            array = onnx.numpy_helper.to_array(init)
            self.constants[init.name] = array
            if array.dtype.kind == "f":
                self.trainable.add(init.name)
        try:
            inferred = onnx.shape_inference.infer_shapes(proto).graph
        except Exception:  # a model shape inference cannot follow still imports; ranks come from elsewhere
            inferred = self.graph
        self.shapes: dict[str, list[int | None] | None] = {}
        for vi in [*inferred.value_info, *inferred.input, *inferred.output]:
            t = vi.type.tensor_type
            self.shapes[vi.name] = ([d.dim_value if d.HasField("dim_value") else None for d in t.shape.dim]
                                    if t.HasField("shape") else None)
        self.consumers: Counter = Counter(i for n in self.graph.node for i in n.input if i)
        self.consumers.update(o.name for o in self.graph.output)
        self.fused: set[int] = set()  # nodes merged into an earlier module
        self.aliases: dict[str, str] = {}  # output of a fused node -> the value that replaces it

    def const(self, name: str) -> np.ndarray | None:
        return self.constants.get(name) if name else None

    def rank(self, name: str) -> int | None:
        shape = self.shapes.get(name)
        return None if shape is None else len(shape)

    def only_consumer(self, value: str, index: int):
        """The single node (after ``index``) reading ``value``, when no one else does."""
        if self.consumers[value] != 1:
            return None, None
        for j in range(index + 1, len(self.graph.node)):
            if value in self.graph.node[j].input:
                return j, self.graph.node[j]
        return None, None


def _f32(v) -> float:
    """A float32 read back as the shortest Python float that rounds to it (1e-05, not 9.99999974e-06)."""
    return float(str(np.float32(v)))


def _attrs(node) -> dict[str, Any]:
    """Node attributes as JSON-able Python values (tensors as {"values", "dtype", "shape"})."""
    onnx = _onnx()
    out = {}
    for a in node.attribute:
        v = onnx.helper.get_attribute_value(a)
        if isinstance(v, float):
            v = _f32(v)
        elif isinstance(v, bytes):
            v = v.decode()
        elif isinstance(v, onnx.TensorProto):
            arr = onnx.numpy_helper.to_array(v)
            v = {"values": arr.reshape(-1).tolist(), "dtype": str(arr.dtype), "shape": list(arr.shape)}
        elif isinstance(v, list):
            v = [x.decode() if isinstance(x, bytes) else x for x in v]
        out[a.name] = v
    return out


def _where(node) -> str:
    return f"node {node.name!r} ({node.op_type})" if node.name else f"a {node.op_type} node"


def _sym_pads(node, attrs, ctx: _Context, spatial: int = 2) -> tuple[int, ...]:
    """Symmetric padding per spatial axis from ``pads`` or ``auto_pad``."""
    auto = attrs.get("auto_pad", "NOTSET")
    pads = attrs.get("pads", [0] * 2 * spatial)
    if auto in ("SAME_UPPER", "SAME_LOWER"):
        shape = ctx.shapes.get(node.input[0])
        kernel, strides = attrs.get("kernel_shape"), attrs.get("strides", [1] * spatial)
        if shape is None or any(s is None for s in shape[2:]) or kernel is None:
            raise UnsupportedOperatorError(f"{_where(node)}: auto_pad={auto} needs a known input size")
        dil = attrs.get("dilations", [1] * spatial)
        total = [max((math.ceil(n / s) - 1) * s + (k - 1) * d + 1 - n, 0)
                 for n, s, k, d in zip(shape[2:], strides, kernel, dil)]
        pads = [t // 2 for t in total] + [t - t // 2 for t in total]
    elif auto == "VALID":
        pads = [0] * 2 * spatial
    if list(pads[:spatial]) != list(pads[spatial:]):
        raise UnsupportedOperatorError(f"{_where(node)}: asymmetric pads {pads} (begin != end); profondo pads "
                                       "both sides of an axis equally")
    return tuple(int(p) for p in pads[:spatial])


def _need_const(ctx: _Context, node, i: int, what: str) -> np.ndarray:
    array = ctx.const(node.input[i]) if len(node.input) > i else None
    if array is None:
        raise UnsupportedOperatorError(f"{_where(node)}: the {what} (input {i}) must be a constant (an initializer)")
    return array


def _param(module_param, array: np.ndarray) -> None:
    module_param.data[...] = array.astype(module_param.data.dtype, copy=False)


def _conv(ctx, node, attrs, index):
    w = _need_const(ctx, node, 1, "weight")
    if w.ndim != 4:
        raise UnsupportedOperatorError(f"{_where(node)}: only 2-D convolutions (a 4-D weight), received weight "
                                       f"shape {w.shape}")
    bias = ctx.const(node.input[2]) if len(node.input) > 2 else None
    group = attrs.get("group", 1)
    m = nn.Conv2d(w.shape[1] * group, w.shape[0], tuple(w.shape[2:]), tuple(attrs.get("strides", [1, 1])),
                  _sym_pads(node, {**attrs, "kernel_shape": list(w.shape[2:])}, ctx),
                  tuple(attrs.get("dilations", [1, 1])), group, bias is not None)
    _param(m.weight, w)
    if bias is not None:
        _param(m.bias, bias)
    return m, [node.input[0]]


def _linear_from(weight_out_in: np.ndarray, bias: np.ndarray | None) -> nn.Linear:
    m = nn.Linear(weight_out_in.shape[1], weight_out_in.shape[0], bias is not None)
    _param(m.weight, weight_out_in)
    if bias is not None:
        _param(m.bias, np.broadcast_to(bias.reshape(-1) if bias.size > 1 else bias, (weight_out_in.shape[0],)))
    return m


def _gemm(ctx, node, attrs, index):
    b = ctx.const(node.input[1])
    c = ctx.const(node.input[2]) if len(node.input) > 2 else None
    dynamic_c = len(node.input) > 2 and node.input[2] and c is None
    if b is None or attrs.get("transA", 0) or dynamic_c:
        return None  # the general OnnxOp
    w = (b if attrs.get("transB", 0) else b.T) * np.float32(attrs.get("alpha", 1.0))
    if c is not None and c.size not in (1, w.shape[0]):
        return None
    return _linear_from(w, None if c is None else c * np.float32(attrs.get("beta", 1.0))), [node.input[0]]


def _matmul(ctx, node, attrs, index):
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


def _pool(ctx, node, attrs, index):
    kernel = attrs.get("kernel_shape", [])
    if len(kernel) != 2:
        raise UnsupportedOperatorError(f"{_where(node)}: only 2-D pooling, received kernel_shape {kernel}")
    if attrs.get("ceil_mode", 0):
        raise UnsupportedOperatorError(f"{_where(node)}: ceil_mode=1 (profondo floors the output size)")
    if any(d != 1 for d in attrs.get("dilations", [1, 1])):
        raise UnsupportedOperatorError(f"{_where(node)}: dilated pooling")
    if len(node.output) > 1 and node.output[1] and ctx.consumers[node.output[1]]:
        raise UnsupportedOperatorError(f"{_where(node)}: the Indices output")
    pads = _sym_pads(node, attrs, ctx)
    strides = tuple(attrs.get("strides", [1, 1]))
    if node.op_type == "MaxPool":
        return nn.MaxPool2d(tuple(kernel), strides, pads), [node.input[0]]
    if any(pads) and not attrs.get("count_include_pad", 0):
        raise UnsupportedOperatorError(f"{_where(node)}: count_include_pad=0 with padding (profondo's average "
                                       "counts padded zeros, as PyTorch's default)")
    return nn.AvgPool2d(tuple(kernel), strides, pads), [node.input[0]]


def _global_pool(ctx, node, attrs, index):
    j, nxt = ctx.only_consumer(node.output[0], index)
    flat = nxt is not None and nxt.op_type == "Flatten" and _attrs(nxt).get("axis", 1) == 1
    if not flat and nxt is not None and nxt.op_type in ("Reshape", "Squeeze"):  # (N, C, 1, 1) -> (N, C) forms
        shape = ctx.shapes.get(nxt.output[0])
        flat = shape is not None and len(shape) == 2
    if flat:
        ctx.fused.add(j)
        ctx.aliases[nxt.output[0]] = node.output[0]
        return nn.GlobalAvgPool2d(), [node.input[0]]
    return None


def _batch_norm(ctx, node, attrs, index):
    scale, bias, mean, var = (_need_const(ctx, node, i, what)
                              for i, what in enumerate(("scale", "bias", "mean", "var"), 1))
    if any(o and ctx.consumers[o] for o in node.output[1:]):
        raise UnsupportedOperatorError(f"{_where(node)}: the running-statistics outputs (training mode)")
    rank = ctx.rank(node.input[0])
    if rank not in (2, 3, 4):
        raise UnsupportedOperatorError(f"{_where(node)}: expected an input of rank 2, 3 or 4 (known from shape "
                                       f"inference), received rank {rank}")
    cls = nn.BatchNorm2d if rank == 4 else nn.BatchNorm1d
    m = cls(scale.shape[0], eps=attrs.get("epsilon", 1e-5), momentum=_f32(1.0 - attrs.get("momentum", 0.9)))
    for p, value in ((m.weight, scale), (m.bias, bias), (m.running_mean, mean), (m.running_var, var)):
        _param(p, value)
    return m, [node.input[0]]


def _flatten(ctx, node, attrs, index):
    return (nn.Flatten(), [node.input[0]]) if attrs.get("axis", 1) == 1 else None


def _dropout(ctx, node, attrs, index):
    if len(node.output) > 1 and node.output[1] and ctx.consumers[node.output[1]]:
        raise UnsupportedOperatorError(f"{_where(node)}: the mask output")
    ratio = ctx.const(node.input[1]) if len(node.input) > 1 and node.input[1] else None
    return nn.Dropout(_f32(ratio) if ratio is not None else attrs.get("ratio", 0.5)), [node.input[0]]


def _clip(ctx, node, attrs, index):
    low = ctx.const(node.input[1]) if len(node.input) > 1 else None
    high = ctx.const(node.input[2]) if len(node.input) > 2 else None
    low = attrs.get("min") if low is None and ctx.opset < 11 else low
    high = attrs.get("max") if high is None and ctx.opset < 11 else high
    if low is not None and float(low) == 0.0 and high is not None and float(high) == 6.0:
        return nn.ReLU6(), [node.input[0]]
    return None


def _gather(ctx, node, attrs, index):
    table = ctx.const(node.input[0])
    if table is not None and node.input[0] in ctx.trainable and table.ndim == 2 and attrs.get("axis", 0) == 0 \
            and ctx.const(node.input[1]) is None:
        m = nn.Embedding(*table.shape)
        _param(m.weight, table)
        return m, [node.input[1]]
    return None


def _add(ctx, node, attrs, index):
    a, b = (ctx.shapes.get(i) for i in node.input)
    if ctx.const(node.input[0]) is None and ctx.const(node.input[1]) is None and a is not None and a == b \
            and None not in a[1:]:
        return Add(), list(node.input)
    return None


def _concat(ctx, node, attrs, index):
    if all(ctx.const(i) is None for i in node.input) and attrs["axis"] != 0:
        return Concat(attrs["axis"]), list(node.input)
    return None


def _softmax(ctx, node, attrs, index):
    axis = attrs.get("axis", 1 if ctx.opset < 13 else -1)
    rank = ctx.rank(node.input[0])
    if ctx.opset < 13 and not (rank is not None and axis % rank == rank - 1):
        raise UnsupportedOperatorError(f"{_where(node)}: opset {ctx.opset} softmax over the flattened axes "
                                       f"{axis}.. of a rank-{rank} input (only the last axis is supported)")
    cls = nn.Softmax if node.op_type == "Softmax" else nn.LogSoftmax
    return cls(axis), [node.input[0]]


def _recurrent_layer(ctx, node, attrs, index):
    op = node.op_type
    if _recurrent is None:
        raise UnsupportedOperatorError(f"{_where(node)}: {op} needs profondo.nn.recurrent, which is not installed")
    w, r = _need_const(ctx, node, 1, "W"), _need_const(ctx, node, 2, "R")
    bias = ctx.const(node.input[3]) if len(node.input) > 3 and node.input[3] else None
    problems = []
    if len(node.input) > 4 and node.input[4]:
        problems.append("sequence_lens")
    if op == "LSTM" and len(node.input) > 7 and node.input[7]:
        problems.append("peephole weights P")
    if attrs.get("direction", "forward") not in ("forward", "bidirectional"):
        problems.append(f"direction={attrs['direction']}")
    if "activations" in attrs or "clip" in attrs or attrs.get("input_forget", 0):
        problems.append("custom activations, clip or input_forget")
    if op == "GRU" and not attrs.get("linear_before_reset", 0):
        problems.append("linear_before_reset=0 (profondo's GRU is PyTorch's, linear_before_reset=1)")
    if problems:
        raise UnsupportedOperatorError(f"{_where(node)}: {', '.join(problems)}")
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


CONVERTERS: dict[str, Callable] = {
    "Conv": _conv, "Gemm": _gemm, "MatMul": _matmul, "MaxPool": _pool, "AveragePool": _pool,
    "GlobalAveragePool": _global_pool, "BatchNormalization": _batch_norm, "Flatten": _flatten,
    "Dropout": _dropout, "Clip": _clip, "Gather": _gather, "Add": _add, "Concat": _concat,
    "Relu": lambda ctx, node, attrs, index: (nn.ReLU(), [node.input[0]]),
    "Sigmoid": lambda ctx, node, attrs, index: (nn.Sigmoid(), [node.input[0]]),
    "Tanh": lambda ctx, node, attrs, index: (nn.Tanh(), [node.input[0]]),
    "LeakyRelu": lambda ctx, node, attrs, index: (nn.LeakyReLU(attrs.get("alpha", 0.01)), [node.input[0]]),
    "Softmax": _softmax, "LogSoftmax": _softmax, "LSTM": _recurrent_layer, "GRU": _recurrent_layer,
}
"""ONNX op type -> converter returning (profondo layer, dynamic input names), or None for the
general :class:`OnnxOp` form."""

SUPPORTED = sorted({*CONVERTERS, *OPS, "Constant", "Identity"} - {"Output"})
"""Every ONNX operator the importer reads."""


def _generic(ctx: _Context, node, attrs) -> tuple[nn.Module, list[str]]:
    """An OnnxOp holding the node's constant inputs."""
    if node.op_type == "Clip" and ctx.opset < 11:  # bounds were attributes
        attrs = {k: attrs[k] for k in ("min", "max") if k in attrs}
    if node.op_type in ("Squeeze", "Unsqueeze") and ctx.opset >= 13:
        attrs = {}
    slots, constants, dynamic = [], {}, []
    for i, name in enumerate(node.input):
        if not name:
            slots.append(None)
            continue
        array = ctx.const(name)
        if array is None:
            slots.append("input")
            dynamic.append(name)
        else:
            slots.append("const")
            bound = node.op_type == "Clip" and i > 0  # a float, but a setting (bounds), not a weight
            constants[str(i)] = {"shape": list(array.shape), "dtype": str(array.dtype),
                                 "trainable": name in ctx.trainable and not bound}
    m = OnnxOp(node.op_type, attrs, slots, constants)
    for i, name in enumerate(node.input):
        if slots[i] == "const":
            m.__dict__[f"c{i}"].data[...] = ctx.constants[name]
    return m, dynamic


def _module_name(onnx_name: str, op_type: str, index: int, taken: set[str]) -> str:
    """A node name usable as a module name: no dots or slashes, not a Module attribute."""
    base = re.sub(r"[^0-9A-Za-z_]+", "_", onnx_name).strip("_") or f"{op_type.lower()}_{index}"
    if base == INPUT or hasattr(Graph, base) or base in ("spec", "inputs_of", "outputs", "training"):
        base += "_"
    name, k = base, 1
    while name in taken:
        name, k = f"{base}_{k}", k + 1
    taken.add(name)
    return name


def _fold(ctx: _Context, node, attrs) -> None:
    """Evaluate a node whose inputs are all constants; its outputs become constants."""
    if node.op_type not in OPS:
        raise UnsupportedOperatorError(f"{_where(node)}: all its inputs are constant, and constant folding of "
                                       f"{node.op_type} is not supported")
    args = [Tensor(ctx.constants[i]) if i else None for i in node.input]
    while args and args[-1] is None:
        args.pop()
    with no_grad():
        out = OPS[node.op_type](attrs, *args)
    trainable = any(i in ctx.trainable for i in node.input)
    for name, value in zip(node.output, out if isinstance(out, tuple) else (out,)):
        ctx.constants[name] = np.asarray(value.data)
        if trainable and value.dtype.kind == "f":
            ctx.trainable.add(name)


def _check_supported(graph) -> None:
    bad: dict[str, list[str]] = {}
    for node in graph.node:
        if node.domain not in ("", "ai.onnx") or node.op_type not in SUPPORTED:
            key = node.op_type if node.domain in ("", "ai.onnx") else f"{node.domain}.{node.op_type}"
            bad.setdefault(key, []).append(node.name or "(unnamed)")
    if bad:
        listing = "; ".join(f"{op} ({len(n)}x, e.g. {n[0]!r})" for op, n in sorted(bad.items()))
        raise UnsupportedOperatorError(f"ONNX import: {len(bad)} unsupported operator(s): {listing}. "
                                       f"Supported: {', '.join(SUPPORTED)}")


def _load(source):
    onnx = _onnx()
    if isinstance(source, onnx.ModelProto):
        return source
    if isinstance(source, (bytes, bytearray)):
        return onnx.load_from_string(bytes(source))
    if not os.path.exists(source):
        raise FileNotFoundError(f"ONNX import: no file {os.fspath(source)!r}")
    return onnx.load(os.fspath(source))


def import_onnx(source, *, check: bool = True) -> nn.Module:
    """Build a trainable profondo network from an ONNX model (a path, bytes or ``onnx.ModelProto``).

    The model must have one input. Raises :class:`UnsupportedOperatorError` listing every
    unsupported operator at once (and naming the node for unsupported forms of supported
    ones). ``check`` runs ``onnx.checker`` first.

    >>> net = import_onnx("resnet.onnx")
    >>> net(profondo.randn(1, 3, 32, 32)).shape
    (1, 10)
    """
    onnx = _onnx()
    proto = _load(source)
    if check:
        onnx.checker.check_model(proto)
    graph = proto.graph
    _check_supported(graph)
    ctx = _Context(proto)
    inputs = [i.name for i in graph.input if i.name not in ctx.constants]
    if len(inputs) != 1:
        raise UnsupportedOperatorError(f"ONNX import: expected a model with one input, received {len(inputs)}: "
                                       f"{inputs}")
    refs: dict[str, str] = {inputs[0]: INPUT}  # ONNX value -> the Graph node producing it
    nodes: list[tuple[str, nn.Module, list[str]]] = []
    taken: set[str] = set()
    for index, node in enumerate(graph.node):
        if index in ctx.fused:
            continue
        attrs = _attrs(node)
        if node.op_type == "Constant":
            ctx.constants[node.output[0]] = _constant_value(node)
            continue
        live = [i for i in node.input if i]
        if all(i in ctx.constants for i in live) and node.op_type not in ("LSTM", "GRU"):
            if node.op_type == "Identity":
                ctx.constants[node.output[0]] = ctx.constants[node.input[0]]
            else:
                _fold(ctx, node, attrs)
            continue
        if node.op_type == "Identity":
            refs[node.output[0]] = refs[ctx.aliases.get(node.input[0], node.input[0])]
            continue
        try:
            built = CONVERTERS[node.op_type](ctx, node, attrs, index) if node.op_type in CONVERTERS else None
            module, dynamic = built if built is not None else _generic(ctx, node, attrs)
        except UnsupportedOperatorError:
            raise
        except (ValueError, TypeError) as e:
            raise UnsupportedOperatorError(f"ONNX import: {_where(node)}: {e}") from e
        name = _module_name(node.name, node.op_type, index, taken)
        missing = [i for i in dynamic if ctx.aliases.get(i, i) not in refs]
        if missing:
            raise UnsupportedOperatorError(f"ONNX import: {_where(node)} reads {missing}, which no earlier node "
                                           "produces (the graph is not in topological order, or has a second input)")
        nodes.append((name, module, [refs[ctx.aliases.get(i, i)] for i in dynamic]))
        outputs = [o for o in node.output if o]
        if len(outputs) == 1 or getattr(module, "n_outputs", 1) == 1:
            refs[outputs[0]] = name
        else:
            for k, o in enumerate(outputs[:module.n_outputs]):
                if ctx.consumers[o]:
                    pick = _module_name(f"{name}_out{k}", "Output", index, taken)
                    nodes.append((pick, OnnxOp("Output", {"index": k}), [name]))
                    refs[o] = pick
    for alias, target in ctx.aliases.items():
        if target in refs:
            refs.setdefault(alias, refs[target])
    outputs = []
    for o in graph.output:
        if o.name not in refs:
            raise UnsupportedOperatorError(f"ONNX import: output {o.name!r} is a constant or the input itself; "
                                           "expected the result of a node")
        outputs.append(refs[o.name])
    model = _assemble(nodes, outputs)
    _attach_spec(model, proto, ctx, inputs[0])
    return model


def _constant_value(node) -> np.ndarray:
    onnx = _onnx()
    a = node.attribute[0]
    if a.name == "value":
        return onnx.numpy_helper.to_array(a.t)
    value = onnx.helper.get_attribute_value(a)
    dtype = {"value_float": np.float32, "value_floats": np.float32, "value_int": np.int64,
             "value_ints": np.int64}.get(a.name)
    if dtype is None:
        raise UnsupportedOperatorError(f"ONNX import: {_where(node)}: attribute {a.name!r}")
    return np.array(value, dtype)


def _assemble(nodes: list[tuple[str, nn.Module, list[str]]], outputs: list[str]) -> nn.Module:
    """A Sequential when the nodes form a chain from the input to the one output, else a Graph."""
    chain = len(outputs) == 1 and outputs[0] == (nodes[-1][0] if nodes else None) and all(
        ins == [nodes[k - 1][0] if k else INPUT] for k, (_, _, ins) in enumerate(nodes))
    if chain:
        return nn.Sequential(OrderedDict((n, m) for n, m, _ in nodes))
    return Graph(nodes, outputs)


def _attach_spec(model: nn.Module, proto, ctx: _Context, input_name: str) -> None:
    """``model.spec`` (name, per-sample input shape, output activation) where it is known."""
    from ..spec import Spec

    meta = {p.key: p.value for p in proto.metadata_props}
    info = json.loads(meta[SPEC_KEY]) if SPEC_KEY in meta else {}
    shape = info.get("input") or (ctx.shapes.get(input_name) or [None])[1:]
    if shape and all(isinstance(s, int) and s > 0 for s in shape):
        model.spec = Spec(info.get("name") or proto.graph.name or "onnx-model", tuple(shape),
                          info.get("output_activation"))
