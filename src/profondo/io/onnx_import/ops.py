"""ONNX operators as functions of Tensors: ``fn(attrs, *inputs)``.

They run behind :class:`~profondo.io.onnx_import.OnnxOp` (the general form of a node) and
constant folding at import; :mod:`.converters` names which operator each one computes.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from ... import functional as F
from ...tensor import Tensor
from ..onnx_export import _onnx


def ints(t) -> list[int]:
    """An integer tensor (shape, axes, indices) as a Python list."""
    return [int(v) for v in np.asarray(t.data if isinstance(t, Tensor) else t).reshape(-1)]


def binary(fn: Callable) -> Callable:
    def op(attrs, a, b):
        if a.dtype.kind in "iu" and b.dtype.kind in "iu":  # shape arithmetic: exact integers
            return Tensor(np.asarray(fn(a.data, b.data)).astype(np.result_type(a.data, b.data)))
        return fn(a, b)

    return op


def unary(fn: Callable) -> Callable:
    return lambda attrs, x: fn(x)


def along_axis(fn: Callable) -> Callable:
    """Softmax and LogSoftmax over ``axis`` (the last one unless the node says otherwise)."""
    return lambda attrs, x: fn(x, attrs.get("axis", -1))


def reshape(attrs, x, shape):
    target = ints(shape)
    if not attrs.get("allowzero", 0):  # 0 copies the input's size on that axis
        target = [x.shape[i] if s == 0 else s for i, s in enumerate(target)]
    return F.reshape(x, tuple(target))


def unsqueeze(attrs, x, axes=None):
    axes = ints(axes) if axes is not None else attrs["axes"]
    rank = x.ndim + len(axes)
    for a in sorted(a % rank for a in axes):
        x = F.unsqueeze(x, a)
    return x


def squeeze(attrs, x, axes=None):
    axes = ints(axes) if axes is not None else attrs.get("axes")
    return F.squeeze(x, None if axes is None else tuple(axes))


def gather(attrs, data, indices):
    axis = attrs.get("axis", 0) % data.ndim
    return F.getitem(data, (slice(None),) * axis + (indices.data,))


def slice_(attrs, x, starts, ends, axes=None, steps=None):
    starts, ends = ints(starts), ints(ends)
    axes = ints(axes) if axes is not None else list(range(len(starts)))
    steps = ints(steps) if steps is not None else [1] * len(starts)
    index = [slice(None)] * x.ndim
    for s, e, a, k in zip(starts, ends, axes, steps):
        index[a % x.ndim] = slice(s, e, k)
    return F.getitem(x, tuple(index))


def gemm(attrs, a, b, c=None):
    a = F.transpose(a) if attrs.get("transA", 0) else a
    b = F.transpose(b) if attrs.get("transB", 0) else b
    y = F.matmul(a, b) * attrs.get("alpha", 1.0)
    return y if c is None else y + c * attrs.get("beta", 1.0)


def clip(attrs, x, low=None, high=None):
    low = attrs.get("min") if low is None else float(low.data)
    high = attrs.get("max") if high is None else float(high.data)
    return F.clip(x, low, high)


def constant_of_shape(attrs, shape):
    value = attrs.get("value", {"values": [0.0], "dtype": "float32"})
    return Tensor(np.full(ints(shape), value["values"][0], np.dtype(value["dtype"])))


def cast(attrs, x):
    dtype = _onnx().helper.tensor_dtype_to_np_dtype(attrs["to"])
    return F.cast(x, dtype) if x.dtype.kind == "f" and np.dtype(dtype).kind == "f" else Tensor(x.data.astype(dtype))


def reduce(fn: Callable) -> Callable:
    """ReduceMean/Max/Sum: axes an attribute before opset 18, an optional input from then on."""
    def op(attrs, x, axes=None):
        axes = ints(axes) if axes is not None else attrs.get("axes")
        if axes is None and attrs.get("noop_with_empty_axes", 0):
            return x
        return fn(x, None if axes is None else tuple(a % x.ndim for a in axes), bool(attrs.get("keepdims", 1)))

    return op


def divide(a, b):
    return np.trunc(a / b) if isinstance(a, np.ndarray) else a / b  # integers truncate, as ONNX's Div


def transpose(attrs, x):
    return F.permute(x, attrs.get("perm", list(range(x.ndim))[::-1]))


def flatten(attrs, x):
    return F.reshape(x, (math.prod(x.shape[:attrs.get("axis", 1)]), -1))


def shape(attrs, x):
    return Tensor(np.array(x.shape[attrs.get("start", 0):attrs.get("end")], np.int64))


def expand(attrs, x, target):
    return F.broadcast_to(x, np.broadcast_shapes(x.shape, tuple(ints(target))))


def global_average_pool(attrs, x):
    return F.mean(x, axis=tuple(range(2, x.ndim)), keepdims=True)


def output(attrs, xs):
    """One output of a multi-output node (an imported LSTM's Y_h, say)."""
    return xs[attrs["index"]]
