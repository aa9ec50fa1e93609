"""ONNX operators as functions of Tensors: ``fn(attrs, *inputs)``.

They run behind :class:`~profondo.io.onnx_import.OnnxOp` (the general form of a node) and
constant folding at import; :mod:`.converters` names which operator each one computes.
Floating inputs go through profondo's differentiable operators; integer and boolean inputs
(shapes, indices, masks) are computed exactly in their own dtype, as ONNX's type rules say.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from ... import functional as F
from ...autograd import Function
from ...tensor import Tensor
from ..onnx_export import _onnx


def ints(t) -> list[int]:
    """An integer tensor (shape, axes, indices) as a Python list."""
    return [int(v) for v in np.asarray(t.data if isinstance(t, Tensor) else t).reshape(-1)]


def arr(t) -> np.ndarray:
    return t.data if isinstance(t, Tensor) else np.asarray(t)


def exact(t) -> bool:
    """An integer or boolean tensor: computed in NumPy, in its own dtype (no gradient)."""
    return t.dtype.kind in "iub"


def const(x, like: Tensor) -> Tensor:
    return Tensor(np.asarray(x, like.dtype))


# --- element-wise --------------------------------------------------------------------------

def binary(fn: Callable, np_fn: Callable | None = None) -> Callable:
    """A broadcasting binary operator; integer operands stay integers of their dtype."""
    def op(attrs, a, b):
        if exact(a) or exact(b):
            out = (np_fn or fn)(arr(a), arr(b))
            return Tensor(np.asarray(out).astype(np.result_type(a.dtype, b.dtype), copy=False))
        return fn(a, b)

    return op


def int_divide(a, b):
    return np.trunc(np.true_divide(a, b)) if np.result_type(a, b).kind in "iu" else np.true_divide(a, b)


def pow_(attrs, a, b):
    """ONNX's Pow: the result has the base's type, whatever the exponent's."""
    if exact(a):
        return Tensor(np.power(arr(a).astype(np.float64), arr(b)).astype(a.dtype))
    if exact(b) or b.dtype != a.dtype:
        b = Tensor(arr(b).astype(a.dtype))
    if b.ndim == 0 and not b.requires_grad:
        return F.pow(a, float(b.data))
    return F.pow(a, b)


def variadic(fn: Callable, np_fn: Callable) -> Callable:
    """Max, Min, Sum, Mean of one or more inputs, broadcasting."""
    def op(attrs, *xs):
        out = xs[0]
        for x in xs[1:]:
            out = binary(fn, np_fn)(attrs, out, x)
        return out

    return op


def mean_(attrs, *xs):
    total = variadic(lambda a, b: a + b, np.add)(attrs, *xs)
    return total / float(len(xs)) if not exact(total) else Tensor((arr(total) / len(xs)).astype(total.dtype))


def compare(np_fn: Callable) -> Callable:
    return lambda attrs, a, b: Tensor(np.asarray(np_fn(arr(a), arr(b))))


def logical(np_fn: Callable) -> Callable:
    return lambda attrs, *xs: Tensor(np.asarray(np_fn(*[arr(x) for x in xs])))


def unary(fn: Callable, np_fn: Callable | None = None) -> Callable:
    def op(attrs, x):
        if exact(x):
            if np_fn is None:
                raise TypeError(f"expected a floating input, received {x.dtype}")
            return Tensor(np.asarray(np_fn(arr(x))).astype(x.dtype, copy=False))
        return fn(x)

    return op


def _erf_array(x: np.ndarray) -> np.ndarray:
    try:
        from scipy.special import erf as vectorised  # fast where SciPy is installed (scikit-learn brings it)
    except ImportError:
        vectorised = np.vectorize(math.erf, otypes=[np.float64])
    return np.asarray(vectorised(x)).astype(x.dtype) if x.size else x.copy()


class _Erf(Function):
    def forward(self, x):
        self.save_for_backward(x)
        return _erf_array(np.asarray(x))

    def backward(self, gy):
        (x,) = self.saved
        return gy * (2.0 / math.sqrt(math.pi)) * self.xp.exp(-x * x).astype(x.dtype)


def erf(x):
    return _Erf().apply(x)


def gelu(attrs, x):
    if attrs.get("approximate", "none") == "tanh":
        inner = (x + x * x * x * 0.044715) * math.sqrt(2.0 / math.pi)
        return x * 0.5 * (F.tanh(inner) + 1.0)
    return x * 0.5 * (erf(x * (1.0 / math.sqrt(2.0))) + 1.0)


def softplus(attrs, x):
    return F.relu(x) + F.log(F.exp(-F.abs(x)) + 1.0)  # log(1 + e^x) without overflow


def softsign(attrs, x):
    return x / (F.abs(x) + 1.0)


def elu(attrs, x):
    alpha = attrs.get("alpha", 1.0)
    return F.where(x.data > 0, x, (F.exp(F.minimum(x, const(0.0, x))) - 1.0) * alpha)


def selu(attrs, x):
    alpha, gamma = attrs.get("alpha", 1.67326319217681884765625), attrs.get("gamma", 1.05070102214813232421875)
    return elu({"alpha": alpha}, x) * gamma


def celu(attrs, x):
    alpha = attrs.get("alpha", 1.0)
    return F.relu(x) + F.minimum(const(0.0, x), (F.exp(F.minimum(x, const(0.0, x)) / alpha) - 1.0) * alpha)


def prelu(attrs, x, slope):
    return F.where(x.data < 0, x * slope, x) if not exact(x) else Tensor(np.where(arr(x) < 0, arr(x) * arr(slope),
                                                                                   arr(x)).astype(x.dtype))


def hard_sigmoid(attrs, x):
    return F.clip(x * attrs.get("alpha", 0.2) + attrs.get("beta", 0.5), 0.0, 1.0)


def hard_swish(attrs, x):
    return x * F.clip(x * (1.0 / 6.0) + 0.5, 0.0, 1.0)


def leaky_relu(attrs, x):
    return F.leaky_relu(x, attrs.get("alpha", 0.01))


def thresholded_relu(attrs, x):
    return F.where(x.data > attrs.get("alpha", 1.0), x, const(0.0, x))


def clip(attrs, x, low=None, high=None):
    low = attrs.get("min") if low is None else arr(low).item()
    high = attrs.get("max") if high is None else arr(high).item()
    if exact(x):
        return Tensor(np.clip(arr(x), low, high).astype(x.dtype))
    return F.clip(x, low, high)


def where(attrs, cond, a, b):
    if exact(a) and exact(b):
        return Tensor(np.where(arr(cond), arr(a), arr(b)))
    shape = np.broadcast_shapes(cond.shape, a.shape, b.shape)
    return F.where(np.broadcast_to(arr(cond).astype(bool), shape), F.broadcast_to(a, shape), F.broadcast_to(b, shape))


def gemm(attrs, a, b, c=None):
    a = F.transpose(a) if attrs.get("transA", 0) else a
    b = F.transpose(b) if attrs.get("transB", 0) else b
    y = F.matmul(a, b) * attrs.get("alpha", 1.0)
    return y if c is None else y + c * attrs.get("beta", 1.0)


def matmul(attrs, a, b):
    if exact(a):
        return Tensor(np.matmul(arr(a), arr(b)))
    return F.matmul(a, b)


def cast(attrs, x, target_like=None):
    to = attrs["to"] if target_like is None else None
    dtype = np.dtype(_onnx().helper.tensor_dtype_to_np_dtype(to)) if to is not None else target_like.dtype
    if x.dtype.kind == "f" and dtype.kind == "f":
        return F.cast(x, dtype)
    return Tensor(arr(x).astype(dtype))


def cast_like(attrs, x, target):
    return cast(attrs, x, target)


# --- shapes and indexing ------------------------------------------------------------------

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
    return F.squeeze(x, None if axes is None else tuple(a % x.ndim for a in axes))


def gather(attrs, data, indices):
    axis = attrs.get("axis", 0) % data.ndim
    idx = arr(indices).astype(np.int64)
    idx = np.where(idx < 0, idx + data.shape[axis], idx)
    return F.getitem(data, (slice(None),) * axis + (idx,))


def gather_elements(attrs, data, indices):
    axis = attrs.get("axis", 0) % data.ndim
    idx = arr(indices).astype(np.int64)
    idx = np.where(idx < 0, idx + data.shape[axis], idx)
    if exact(data):
        return Tensor(np.take_along_axis(arr(data), idx, axis))
    return F.gather(data, axis, idx)


class _ScatterElements(Function):
    def __init__(self, axis, index, reduction) -> None:
        self.axis, self.index, self.reduction = axis, index, reduction

    def _full_index(self, shape):
        grids = list(np.meshgrid(*[np.arange(n) for n in shape], indexing="ij"))
        grids[self.axis] = self.index
        return tuple(grids)

    def forward(self, data, updates):
        out = data.copy()
        where_ = self._full_index(updates.shape)
        ufunc = {"none": None, "add": np.add, "mul": np.multiply, "max": np.maximum, "min": np.minimum}[self.reduction]
        if ufunc is None:
            out[where_] = updates
        else:
            ufunc.at(out, where_, updates)
        self.where_ = where_
        return out

    def backward(self, gy):
        if self.reduction != "none":
            raise NotImplementedError("ScatterElements: gradients of a reduction other than 'none'")
        gd = gy.copy()
        gd[self.where_] = 0
        return gd, gy[self.where_]


def scatter_elements(attrs, data, indices, updates):
    axis = attrs.get("axis", 0) % data.ndim
    idx = arr(indices).astype(np.int64)
    idx = np.where(idx < 0, idx + data.shape[axis], idx)
    op = _ScatterElements(axis, idx, attrs.get("reduction", "none"))
    if exact(data):
        return Tensor(op.forward(arr(data), arr(updates)))
    return op.apply(data, updates)


def slice_(attrs, x, starts=None, ends=None, axes=None, steps=None):
    if starts is None:  # opset < 10: attributes
        starts, ends, axes = attrs["starts"], attrs["ends"], attrs.get("axes")
    starts, ends = ints(starts), ints(ends)
    axes = ints(axes) if axes is not None else list(range(len(starts)))
    steps = ints(steps) if steps is not None else [1] * len(starts)
    index = [slice(None)] * x.ndim
    for s, e, a, k in zip(starts, ends, axes, steps):
        n = x.shape[a % x.ndim]
        s, e = max(min(s, n), -n - 1), max(min(e, n), -n - 1)  # ONNX clamps; huge ends mean "to the end"
        if k < 0 and e < -n:
            e = None
        index[a % x.ndim] = slice(s, e, k)
    return F.getitem(x, tuple(index))


def transpose(attrs, x):
    return F.permute(x, attrs.get("perm", list(range(x.ndim))[::-1]))


def flatten(attrs, x):
    axis = attrs.get("axis", 1) % (x.ndim or 1) if attrs.get("axis", 1) != x.ndim else x.ndim
    return F.reshape(x, (math.prod(x.shape[:axis]), math.prod(x.shape[axis:])))


def shape(attrs, x):
    return Tensor(np.array(x.shape[attrs.get("start", 0):attrs.get("end")], np.int64))


def size(attrs, x):
    return Tensor(np.array(math.prod(x.shape), np.int64))


def expand(attrs, x, target):
    return F.broadcast_to(x, np.broadcast_shapes(x.shape, tuple(ints(target))))


def concat(attrs, *xs):
    if all(exact(x) for x in xs):
        return Tensor(np.concatenate([arr(x) for x in xs], attrs["axis"]))
    return F.concat(xs, attrs["axis"])


def split(attrs, x, sizes=None):
    axis = attrs.get("axis", 0) % x.ndim
    n = x.shape[axis]
    if sizes is None:
        sizes = attrs.get("split")
    if sizes is not None:
        sizes = ints(sizes)
    else:
        parts = attrs.get("num_outputs") or attrs["_n_outputs"]
        step = -(-n // parts)
        sizes = [min(step, n - k * step) for k in range(parts)]
    ends = np.cumsum(sizes)
    return tuple(F.getitem(x, (slice(None),) * axis + (slice(int(e - s), int(e)),)) for s, e in zip(sizes, ends))


def tile(attrs, x, repeats):
    reps = ints(repeats)
    if exact(x):
        return Tensor(np.tile(arr(x), reps))
    index = tuple(np.arange(n * r) % n if r != 1 else slice(None) for n, r in zip(x.shape, reps))
    for axis, ix in enumerate(index):
        if not isinstance(ix, slice):
            x = F.getitem(x, (slice(None),) * axis + (ix,))
    return x


def _edge_index(n: int, before: int, after: int, mode: str) -> np.ndarray:
    k = np.arange(-before, n + after)
    if mode == "edge":
        return np.clip(k, 0, n - 1)
    if mode == "wrap":
        return k % n
    period = 2 * (n - 1) if n > 1 else 1  # reflect: mirror without repeating the border
    k = np.abs(k) % period
    return np.where(k >= n, period - k, k)


def pad(attrs, x, pads=None, value=None, axes=None):
    mode = attrs.get("mode", "constant")
    pads = ints(pads) if pads is not None else list(attrs.get("pads", []))
    fill = arr(value).item() if value is not None else attrs.get("value", 0.0)
    axes = [a % x.ndim for a in ints(axes)] if axes is not None else list(range(x.ndim))
    k = len(axes)
    widths = [(0, 0)] * x.ndim
    for j, a in enumerate(axes):
        widths[a] = (pads[j], pads[j + k])
    crop = tuple(slice(max(-b, 0), x.shape[i] - max(-e, 0)) for i, (b, e) in enumerate(widths))
    x = F.getitem(x, crop) if any(b < 0 or e < 0 for b, e in widths) else x
    widths = [(max(b, 0), max(e, 0)) for b, e in widths]
    if exact(x):
        kw = {"constant_values": fill} if mode == "constant" else {}
        np_mode = {"constant": "constant", "edge": "edge", "reflect": "reflect", "wrap": "wrap"}[mode]
        return Tensor(np.pad(arr(x), widths, np_mode, **kw))
    if mode == "constant":
        return F.pad(x, widths, value=fill) if any(b or e for b, e in widths) else x
    for axis, (b, e) in enumerate(widths):
        if b or e:
            x = F.getitem(x, (slice(None),) * axis + (_edge_index(x.shape[axis], b, e, mode),))
    return x


def depth_to_space(attrs, x):
    b = attrs["blocksize"]
    n, c, h, w = x.shape
    if attrs.get("mode", "DCR") == "DCR":
        y = F.permute(F.reshape(x, (n, b, b, c // (b * b), h, w)), (0, 3, 4, 1, 5, 2))
    else:
        y = F.permute(F.reshape(x, (n, c // (b * b), b, b, h, w)), (0, 1, 4, 2, 5, 3))
    return F.reshape(y, (n, c // (b * b), h * b, w * b))


def space_to_depth(attrs, x):
    b = attrs["blocksize"]
    n, c, h, w = x.shape
    y = F.permute(F.reshape(x, (n, c, h // b, b, w // b, b)), (0, 3, 5, 1, 2, 4))
    return F.reshape(y, (n, c * b * b, h // b, w // b))


def trilu(attrs, x, k=None):
    k = ints(k)[0] if k is not None else 0
    rows, cols = x.shape[-2:]
    keep = (np.triu if attrs.get("upper", 1) else np.tril)(np.ones((rows, cols), bool), k)
    if exact(x):
        return Tensor(np.where(keep, arr(x), 0).astype(x.dtype))
    return F.where(np.broadcast_to(keep, x.shape), x, F.broadcast_to(const(0.0, x), x.shape))


def range_(attrs, start, limit, delta):
    s, end, d = (arr(v).item() for v in (start, limit, delta))
    n = max(math.ceil((end - s) / d), 0)
    return Tensor((s + np.arange(n) * d).astype(start.dtype))


def cumsum(attrs, x, axis):
    axis = ints(axis)[0] % x.ndim
    data = arr(x)
    if exact(x):
        flip = (slice(None),) * axis + (slice(None, None, -1),)
        y = data[flip] if attrs.get("reverse", 0) else data
        out = np.cumsum(y, axis, dtype=x.dtype)
        if attrs.get("exclusive", 0):
            out = out - y
        return Tensor(out[flip] if attrs.get("reverse", 0) else out)
    n = x.shape[axis]
    lower = np.tril(np.ones((n, n), x.dtype), -1 if attrs.get("exclusive", 0) else 0)
    mask = lower.T if attrs.get("reverse", 0) else lower  # out[i] = sum_j mask[i, j] x[j]
    moved = F.permute(x, [a for a in range(x.ndim) if a != axis] + [axis])
    out = F.matmul(moved, Tensor(np.ascontiguousarray(mask.T)))
    back = list(range(x.ndim - 1))
    back.insert(axis, x.ndim - 1)
    return F.permute(out, back)


def constant_of_shape(attrs, shape):
    value = attrs.get("value", {"values": [0.0], "dtype": "float32"})
    return Tensor(np.full(ints(shape), value["values"][0], np.dtype(value["dtype"])))


def arg_reduce(np_fn: Callable) -> Callable:
    def op(attrs, x):
        axis = attrs.get("axis", 0) % x.ndim
        data = arr(x)
        if attrs.get("select_last_index", 0):
            flipped = np.flip(data, axis)
            out = x.shape[axis] - 1 - np_fn(flipped, axis=axis)
        else:
            out = np_fn(data, axis=axis)
        out = out.astype(np.int64)
        return Tensor(np.expand_dims(out, axis) if attrs.get("keepdims", 1) else out)

    return op


def topk(attrs, x, k=None):
    k = ints(k)[0] if k is not None else attrs["k"]  # an attribute before opset 10
    axis = attrs.get("axis", -1) % x.ndim
    data = arr(x)
    largest = attrs.get("largest", 1)
    # stable sort; among equal values the lower index comes first, as ONNX says
    order = np.argsort(-data if largest else data, axis=axis, kind="stable")
    idx = np.take(order, np.arange(k), axis=axis)
    if exact(x):
        return Tensor(np.take_along_axis(data, idx, axis)), Tensor(idx.astype(np.int64))
    return F.gather(x, axis, idx), Tensor(idx.astype(np.int64))


class _Einsum(Function):
    def __init__(self, equation: str) -> None:
        self.equation = equation.replace(" ", "")

    def forward(self, *xs):
        self.save_for_backward(*xs)
        return np.asarray(np.einsum(self.equation, *xs))

    def backward(self, gy):
        xs = self.saved
        lhs, _, out = self.equation.partition("->")
        terms = lhs.split(",")
        if not _ and "..." not in lhs:
            out = "".join(sorted(c for c in set(lhs.replace(",", "")) if lhs.replace(",", "").count(c) == 1))
        if "..." in self.equation or any(len(set(t)) != len(t) for t in terms):
            raise NotImplementedError("Einsum: gradients of ellipses or repeated indices in one operand")
        grads = []
        for k, term in enumerate(terms):
            if not self.needs_input_grad[k]:
                grads.append(None)
                continue
            others = [t for j, t in enumerate(terms) if j != k]
            have = set(out) | set("".join(others))
            target = "".join(c for c in term if c in have)
            g = np.einsum(",".join([out, *others]) + "->" + target, gy, *[xs[j] for j in range(len(xs)) if j != k])
            shape = [xs[k].shape[i] if c in have else 1 for i, c in enumerate(term)]
            grads.append(np.broadcast_to(g.reshape(shape), xs[k].shape).astype(xs[k].dtype))
        return tuple(grads)


def einsum(attrs, *xs):
    if all(exact(x) for x in xs):
        return Tensor(np.asarray(np.einsum(attrs["equation"], *[arr(x) for x in xs])))
    return _Einsum(attrs["equation"]).apply(*xs)


# --- reductions -------------------------------------------------------------------------

def _axes_of(attrs, x, axes):
    """ONNX's axes: an attribute before opset 18 (13 for ReduceSum), an optional input after.
    None or empty means every axis, unless ``noop_with_empty_axes`` says to return the input."""
    axes = ints(axes) if axes is not None else attrs.get("axes")
    if not axes:
        return "noop" if attrs.get("noop_with_empty_axes", 0) else tuple(range(x.ndim))
    return tuple(sorted(a % x.ndim for a in axes))


class _Prod(Function):
    def __init__(self, axes, keepdims) -> None:
        self.axes, self.keepdims = axes, keepdims

    def forward(self, x):
        y = x.prod(axis=self.axes, keepdims=True)
        self.save_for_backward(x, y)
        return y if self.keepdims else y.reshape([n for i, n in enumerate(y.shape) if i not in self.axes])

    def backward(self, gy):
        x, y = self.saved
        gy = gy.reshape(y.shape)
        # d prod / d x_i = product of the others, computed without dividing (x_i may be 0)
        moved = np.moveaxis(x, self.axes, range(-len(self.axes), 0))
        flat = moved.reshape(*moved.shape[:moved.ndim - len(self.axes)], -1)
        left = np.cumprod(np.concatenate([np.ones_like(flat[..., :1]), flat[..., :-1]], -1), -1)
        right = np.flip(np.cumprod(np.concatenate([np.ones_like(flat[..., :1]), np.flip(flat, -1)[..., :-1]], -1),
                                   -1), -1)
        others = np.moveaxis((left * right).reshape(moved.shape), range(-len(self.axes), 0), self.axes)
        return gy * others


def reduce(kind: str) -> Callable:
    def op(attrs, x, axes=None):
        axes = _axes_of(attrs, x, axes)
        if axes == "noop":
            return x
        keep = bool(attrs.get("keepdims", 1))
        if exact(x):
            data = arr(x)
            np_fn = {"sum": np.sum, "mean": np.mean, "max": np.max, "min": np.min, "prod": np.prod,
                     "l1": lambda d, **k: np.sum(np.abs(d), **k), "sumsquare": lambda d, **k: np.sum(d * d, **k),
                     "l2": lambda d, **k: np.sqrt(np.sum(d * d, **k)),
                     "logsumexp": lambda d, **k: np.log(np.sum(np.exp(d), **k))}[kind]
            return Tensor(np.asarray(np_fn(data, axis=axes, keepdims=keep)).astype(x.dtype))
        if kind == "sum":
            return F.sum(x, axes, keep)
        if kind == "mean":
            return F.mean(x, axes, keep)
        if kind == "max":
            return F.amax(x, axes, keep)
        if kind == "min":
            return F.amin(x, axes, keep)
        if kind == "prod":
            return _Prod(axes, keep).apply(x)
        if kind == "l1":
            return F.sum(F.abs(x), axes, keep)
        if kind == "sumsquare":
            return F.sum(x * x, axes, keep)
        if kind == "l2":
            return F.sqrt(F.sum(x * x, axes, keep))
        return F.logsumexp(x, axes, keep)

    return op


# --- normalisation ---------------------------------------------------------------------------

def layer_norm(attrs, x, scale, bias=None):
    axis = attrs.get("axis", -1) % x.ndim
    axes = tuple(range(axis, x.ndim))
    mean = F.mean(x, axes, True)
    centered = x - mean
    var = F.mean(centered * centered, axes, True)
    inv = (var + attrs.get("epsilon", 1e-5)) ** -0.5
    y = centered * inv * scale
    y = y if bias is None else y + bias
    return y, mean, inv


def instance_norm(attrs, x, scale, bias):
    axes = tuple(range(2, x.ndim))
    mean = F.mean(x, axes, True)
    centered = x - mean
    var = F.mean(centered * centered, axes, True)
    shape = (1, -1) + (1,) * (x.ndim - 2)
    return centered * (var + attrs.get("epsilon", 1e-5)) ** -0.5 * F.reshape(scale, shape) + F.reshape(bias, shape)


def lrn(attrs, x):
    """ONNX's LRN: the squares of channels c - (size-1)//2 .. c + size//2 (for an odd size,
    PyTorch's window and :func:`profondo.functional.local_response_norm`)."""
    size, alpha, beta, bias = attrs["size"], attrs.get("alpha", 1e-4), attrs.get("beta", 0.75), attrs.get("bias", 1.0)
    if size % 2:
        return F.local_response_norm(x, size, alpha, beta, bias)
    front, back = (size - 1) // 2, size // 2
    c = x.shape[1]
    sq = F.pad(x * x, [(0, 0), (front, back)] + [(0, 0)] * (x.ndim - 2))
    total = F.getitem(sq, (slice(None), slice(0, c)))
    for j in range(1, size):
        total = total + F.getitem(sq, (slice(None), slice(j, j + c)))
    return x * (total * (alpha / size) + bias) ** -beta


# --- losses -----------------------------------------------------------------------------------

def _picked(x, target, ignore_index):
    """x[n, target[n, ...], ...] and the mask of targets that count."""
    t = arr(target).astype(np.int64)
    mask = np.ones(t.shape, bool) if ignore_index is None else t != ignore_index
    safe = np.where(mask, t, 0)
    grids = np.meshgrid(*[np.arange(n) for n in t.shape], indexing="ij")
    index = (grids[0], safe, *grids[1:])
    return F.getitem(x, index), safe, mask


def nll_loss(attrs, x, target, weight=None):
    picked, safe, mask = _picked(x, target, attrs.get("ignore_index"))
    w = np.where(mask, 1.0, 0.0).astype(x.dtype) if weight is None else np.where(mask, arr(weight)[safe], 0.0
                                                                                  ).astype(x.dtype)
    loss = -picked * Tensor(w)
    reduction = attrs.get("reduction", "mean")
    if reduction == "none":
        return loss
    total = F.sum(loss)
    return total if reduction == "sum" else total / float(w.sum())


def softmax_cross_entropy(attrs, scores, labels, weight=None):
    log_prob = F.log_softmax(scores, 1)
    loss = nll_loss(attrs, log_prob, labels, weight)
    return loss, log_prob


# --- others -------------------------------------------------------------------------------

def global_pool(kind: str) -> Callable:
    def op(attrs, x):
        axes = tuple(range(2, x.ndim))
        return F.mean(x, axes, True) if kind == "mean" else F.amax(x, axes, True)

    return op


def softmax_op(log: bool) -> Callable:
    """Softmax and LogSoftmax: over ``axis`` from opset 13, over the flattened axes from ``axis``
    on (default 1) before, as ONNX defines them."""
    def op(attrs, x):
        fn = F.log_softmax if log else F.softmax
        if attrs.get("_opset", 13) >= 13:
            return fn(x, attrs.get("axis", -1))
        axis = attrs.get("axis", 1) % x.ndim
        flat = F.reshape(x, (math.prod(x.shape[:axis]), -1))
        return F.reshape(fn(flat, -1), x.shape)

    return op


def identity(attrs, x):
    return x


def output(attrs, xs):
    """One output of a multi-output node (an imported LSTM's Y_h, say)."""
    return xs[attrs["index"]]


def gru(attrs, x, w, r, b=None, sequence_lens=None, h0=None):
    """ONNX's GRU in its general form (both ``linear_before_reset`` values, forward, reverse and
    bidirectional, either layout, ``clip``); returns (Y, Y_h)."""
    if sequence_lens is not None:
        raise ValueError("GRU: sequence_lens is not supported")
    hidden, layout = attrs["hidden_size"], attrs.get("layout", 0)
    before_reset, limit = attrs.get("linear_before_reset", 0), attrs.get("clip")
    if layout:
        x = F.transpose(x, 0, 1)
        h0 = None if h0 is None else F.transpose(h0, 0, 1)
    steps, batch = x.shape[:2]
    reverse_only = attrs.get("direction", "forward") == "reverse"
    gates = [slice(k * hidden, (k + 1) * hidden) for k in range(3)]

    def clipped(v):
        return v if limit is None else F.clip(v, -limit, limit)

    ys, finals = [], []
    for d in range(w.shape[0]):
        wd, rd = F.getitem(w, d), F.getitem(r, d)
        bd = F.getitem(b, d) if b is not None else Tensor(np.zeros(6 * hidden, x.dtype))
        xw = F.matmul(x, F.transpose(wd)) + F.getitem(bd, slice(0, 3 * hidden))
        rz, rr, rh = (F.transpose(F.getitem(rd, g)) for g in gates)
        bz, br, bh = (F.getitem(bd, slice(3 * hidden + g.start, 3 * hidden + g.stop)) for g in gates)
        h = F.getitem(h0, d) if h0 is not None else Tensor(np.zeros((batch, hidden), x.dtype))
        out = [None] * steps
        order = range(steps - 1, -1, -1) if reverse_only or d == 1 else range(steps)
        for t in order:
            xt = F.getitem(xw, t)
            z = F.sigmoid(clipped(F.getitem(xt, (slice(None), gates[0])) + F.matmul(h, rz) + bz))
            reset = F.sigmoid(clipped(F.getitem(xt, (slice(None), gates[1])) + F.matmul(h, rr) + br))
            if before_reset:
                pre = F.getitem(xt, (slice(None), gates[2])) + reset * (F.matmul(h, rh) + bh)
            else:
                pre = F.getitem(xt, (slice(None), gates[2])) + F.matmul(reset * h, rh) + bh
            h = (1.0 - z) * F.tanh(clipped(pre)) + z * h
            out[t] = h
        ys.append(F.stack(out, 0))
        finals.append(h)
    y, y_h = F.stack(ys, 1), F.stack(finals, 0)  # (T, dirs, N, H), (dirs, N, H)
    if layout:
        y, y_h = F.permute(y, (2, 0, 1, 3)), F.transpose(y_h, 0, 1)
    return y, y_h


def lstm(attrs, x, w, r, b=None, sequence_lens=None, h0=None, c0=None, p=None):
    """ONNX's LSTM in its general form (forward, reverse and bidirectional, either layout,
    ``clip``, ``input_forget``, peepholes P); returns (Y, Y_h, Y_c)."""
    if sequence_lens is not None:
        raise ValueError("LSTM: sequence_lens is not supported")
    hidden, layout, limit = attrs["hidden_size"], attrs.get("layout", 0), attrs.get("clip")
    couple = attrs.get("input_forget", 0)
    if layout:
        x = F.transpose(x, 0, 1)
        h0 = None if h0 is None else F.transpose(h0, 0, 1)
        c0 = None if c0 is None else F.transpose(c0, 0, 1)
    steps, batch = x.shape[:2]
    reverse_only = attrs.get("direction", "forward") == "reverse"
    gates = [slice(k * hidden, (k + 1) * hidden) for k in range(4)]  # ONNX's order: i, o, f, c

    def clipped(v):
        return v if limit is None else F.clip(v, -limit, limit)

    ys, hs, cs = [], [], []
    for d in range(w.shape[0]):
        wd, rd = F.getitem(w, d), F.getitem(r, d)
        bias = 0.0
        if b is not None:
            bd = F.getitem(b, d)
            bias = F.getitem(bd, slice(0, 4 * hidden)) + F.getitem(bd, slice(4 * hidden, 8 * hidden))
        xw = F.matmul(x, F.transpose(wd)) + bias
        rt = F.transpose(rd)
        pi = po = pf = None
        if p is not None:
            pd = F.getitem(p, d)
            pi, po, pf = (F.getitem(pd, slice(k * hidden, (k + 1) * hidden)) for k in range(3))
        zeros = Tensor(np.zeros((batch, hidden), x.dtype))
        h = F.getitem(h0, d) if h0 is not None else zeros
        c = F.getitem(c0, d) if c0 is not None else zeros
        out = [None] * steps
        order = range(steps - 1, -1, -1) if reverse_only or d == 1 else range(steps)
        for t in order:
            pre = F.getitem(xw, t) + F.matmul(h, rt)
            i_pre, o_pre, f_pre, c_pre = (F.getitem(pre, (slice(None), g)) for g in gates)
            if pi is not None:
                i_pre, f_pre = i_pre + pi * c, f_pre + pf * c
            i = F.sigmoid(clipped(i_pre))
            f = (1.0 - i) if couple else F.sigmoid(clipped(f_pre))
            c = f * c + i * F.tanh(clipped(c_pre))
            o = F.sigmoid(clipped(o_pre + po * c if po is not None else o_pre))
            h = o * F.tanh(c)
            out[t] = h
        ys.append(F.stack(out, 0))
        hs.append(h)
        cs.append(c)
    y, y_h, y_c = F.stack(ys, 1), F.stack(hs, 0), F.stack(cs, 0)
    if layout:
        y, y_h, y_c = F.permute(y, (2, 0, 1, 3)), F.transpose(y_h, 0, 1), F.transpose(y_c, 0, 1)
    return y, y_h, y_c


def _source_coordinates(mode: str, out_size: int, in_size: int, scale: float) -> np.ndarray:
    """ONNX Resize's coordinate_transformation_mode: each output index's position in the input."""
    y = np.arange(out_size, dtype=np.float64)
    length = scale * in_size  # the output length before rounding to out_size
    if mode == "align_corners":
        return np.zeros(out_size) if length == 1 else y * (in_size - 1) / (length - 1)
    if mode == "asymmetric":
        return y / scale
    if mode == "pytorch_half_pixel":
        return np.full(out_size, -0.5) if length == 1 else (y + 0.5) / scale - 0.5
    if mode == "half_pixel_symmetric":
        offset = in_size / 2 * (1 - out_size / length)
        return offset + (y + 0.5) / scale - 0.5
    return (y + 0.5) / scale - 0.5  # half_pixel


def _interpolation_matrix(attrs, out_size: int, in_size: int, scale: float) -> np.ndarray:
    """(out, in) weights of one axis, as ONNX's reference implementation computes them: the n
    nearest input positions (the lower preferred), clamped at the borders (edge padding)."""
    mode = attrs.get("mode", "nearest")
    x = _source_coordinates(attrs.get("coordinate_transformation_mode", "half_pixel"), out_size, in_size, scale)
    integer = x == np.floor(x)
    ratio = np.where(integer, 1.0, x - np.floor(x))
    if mode == "nearest":
        rule = attrs.get("nearest_mode", "round_prefer_floor")
        upper = {"round_prefer_floor": ratio > 0.5, "round_prefer_ceil": ratio >= 0.5, "floor": np.zeros_like(ratio, bool),
                 "ceil": np.ones_like(ratio, bool)}[rule] | integer
        coeffs = np.stack([~upper, upper], 1).astype(np.float64)
    elif mode == "linear":
        coeffs = np.stack([1 - ratio, ratio], 1)
    else:  # cubic
        a = attrs.get("cubic_coeff_a", -0.75)
        r, s = ratio, 1 - ratio
        coeffs = np.stack([((a * (r + 1) - 5 * a) * (r + 1) + 8 * a) * (r + 1) - 4 * a,
                           ((a + 2) * r - (a + 3)) * r * r + 1,
                           ((a + 2) * s - (a + 3)) * s * s + 1,
                           ((a * (s + 1) - 5 * a) * (s + 1) + 8 * a) * (s + 1) - 4 * a], 1)
    n = coeffs.shape[1]
    base = np.ceil(x).astype(np.int64) - 1  # the tap just below x (x - 1 when x is an integer)
    taps = base[:, None] + np.arange(n)[None, :] - (n // 2 - 1)
    if attrs.get("exclude_outside", 0):
        coeffs = np.where((taps < 0) | (taps >= in_size), 0.0, coeffs)
        coeffs = coeffs / coeffs.sum(1, keepdims=True)
    matrix = np.zeros((out_size, in_size))
    np.add.at(matrix, (np.repeat(np.arange(out_size), n), np.clip(taps, 0, in_size - 1).reshape(-1)),
              coeffs.reshape(-1))
    return matrix


def resize(attrs, x, roi=None, scales=None, sizes=None):
    """ONNX's Resize (opset 11 on): nearest, linear and cubic, separable along each resized axis."""
    rank = x.ndim
    axes = [a % rank for a in attrs.get("axes", range(rank))]
    if sizes is not None and arr(sizes).size:
        targets = ints(sizes)
        factors = [t / x.shape[a] for t, a in zip(targets, axes)]
        policy = attrs.get("keep_aspect_ratio_policy", "stretch")
        if policy != "stretch":
            pick = min(factors) if policy == "not_larger" else max(factors)
            factors = [pick] * len(axes)
            targets = [int(x.shape[a] * pick + 0.5) for a in axes]
    else:
        factors = [float(v) for v in arr(scales).reshape(-1)]
        targets = [int(math.floor(x.shape[a] * s)) for a, s in zip(axes, factors)]
    out = x
    for axis, size, scale in zip(axes, targets, factors):
        if size == x.shape[axis] and scale == 1.0:
            continue
        m = _interpolation_matrix(attrs, size, x.shape[axis], scale)
        if exact(x):
            moved = np.moveaxis(arr(out), axis, -1)
            picked = np.moveaxis(moved @ m.T, -1, axis)
            out = Tensor(np.rint(picked).astype(x.dtype) if attrs.get("mode", "nearest") != "nearest"
                         else picked.astype(x.dtype))
            continue
        order = [a for a in range(rank) if a != axis] + [axis]
        moved = F.matmul(F.permute(out, order), Tensor(np.ascontiguousarray(m.T).astype(x.dtype)))
        out = F.permute(moved, list(np.argsort(order)))
    return out
