"""Reductions over axes: sum, mean, max, min, var, logsumexp (NumPy's axis/keepdims,
PyTorch's dim/keepdim accepted as well)."""

from __future__ import annotations

import builtins
import math

import numpy as np

from ..autograd import Function


def _axes(axis, ndim: int, name: str):
    """Normalise ``axis`` to a sorted tuple of non-negative axes (None: all)."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    out, n = [], ndim or 1  # not max(ndim, 1): this module's max() is the tensor reduction
    for a in axes:
        if not -ndim <= a < n:
            raise ValueError(f"{name}: axis {a} is out of range for a tensor of {ndim} dimensions")
        out.append(a % n)
    return tuple(sorted(set(out)))


def _restore(gy, shape, axes, keepdims):
    """Give ``gy`` back the reduced axes (size 1) so that it broadcasts against the input."""
    if not keepdims and gy.ndim != len(shape):
        gy = gy.reshape(tuple(1 if i in axes else n for i, n in enumerate(shape)))
    return gy


class Sum(Function):
    differentiable_backward = True

    def __init__(self, axes, keepdims) -> None:
        self.axes, self.keepdims = axes, keepdims

    def forward(self, x):
        self.shape = x.shape
        return x.sum(axis=self.axes, keepdims=self.keepdims)

    def backward(self, gy):
        return self.xp.broadcast_to(_restore(gy, self.shape, self.axes, self.keepdims), self.shape)


def _floating(x):
    """Integer and boolean inputs averaged in float32 (dtype=x.dtype would make (pred == y).mean() True)."""
    return x if x.dtype.kind == "f" else x.astype("float32")


class Mean(Sum):
    def forward(self, x):
        x = _floating(x)
        self.shape = x.shape
        self.count = math.prod(x.shape[a] for a in self.axes)
        return x.mean(axis=self.axes, keepdims=self.keepdims, dtype=x.dtype)

    def backward(self, gy):
        return self.xp.broadcast_to(_restore(gy, self.shape, self.axes, self.keepdims) / self.count, self.shape)


class Max(Function):
    """Maximum over axes; tied maxima share the gradient equally (as torch.amax)."""

    reduce = "max"
    differentiable_backward = True

    def __init__(self, axes, keepdims) -> None:
        self.axes, self.keepdims = axes, keepdims

    def forward(self, x):
        if x.size == 0:
            raise ValueError(f"{self.reduce}: reduction over an empty tensor of shape {tuple(x.shape)}")
        y = getattr(x, self.reduce)(axis=self.axes, keepdims=True)
        self.save_for_backward(x, y)
        return y if self.keepdims else y.reshape(tuple(n for i, n in enumerate(x.shape) if i not in self.axes))

    def backward(self, gy):
        x, y = self.saved
        mask = (x == y).astype(gy.dtype)
        mask /= mask.sum(axis=self.axes, keepdims=True)
        return mask * _restore(gy, x.shape, self.axes, self.keepdims)


class Min(Max):
    reduce = "min"


class Var(Function):
    def __init__(self, axes, keepdims, ddof) -> None:
        self.axes, self.keepdims, self.ddof = axes, keepdims, ddof

    def forward(self, x):
        x = _floating(x)
        mean = x.mean(axis=self.axes, keepdims=True, dtype=x.dtype)
        centered = x - mean
        self.count = math.prod(x.shape[a] for a in self.axes) - self.ddof
        self.save_for_backward(centered)
        return (centered * centered).sum(axis=self.axes, keepdims=self.keepdims) / self.count

    def backward(self, gy):
        (centered,) = self.saved
        return _restore(gy, centered.shape, self.axes, self.keepdims) * (2 / self.count) * centered

    def composite(self, x):
        centered = x - x.mean(axis=self.axes, keepdims=True)
        return (centered * centered).sum(axis=self.axes, keepdims=self.keepdims) / self.count


class LogSumExp(Function):
    def __init__(self, axes, keepdims) -> None:
        self.axes, self.keepdims = axes, keepdims

    def forward(self, x):
        xp = self.xp
        m = x.max(axis=self.axes, keepdims=True)
        m = xp.where(xp.isfinite(m), m, 0)  # all -inf rows stay -inf instead of nan
        y = xp.log(xp.exp(x - m).sum(axis=self.axes, keepdims=True)) + m
        self.save_for_backward(x, y)
        return y if self.keepdims else y.reshape(tuple(n for i, n in enumerate(x.shape) if i not in self.axes))

    def backward(self, gy):
        x, y = self.saved
        return self.xp.exp(x - y) * _restore(gy, x.shape, self.axes, self.keepdims)

    def composite(self, x):
        from .arithmetic import exp, log

        m = x.data.max(axis=self.axes, keepdims=True)  # a constant shift: any value gives the same derivatives
        m = self.xp.where(self.xp.isfinite(m), m, 0)
        y = log(exp(x - m).sum(axis=self.axes, keepdims=True)) + m
        return y if self.keepdims else y.reshape(tuple(n for i, n in enumerate(x.shape) if i not in self.axes))


class Prod(Function):
    def __init__(self, axes, keepdims) -> None:
        self.axes, self.keepdims = axes, keepdims

    def forward(self, x):
        self.save_for_backward(x)
        return x.prod(axis=self.axes, keepdims=self.keepdims)

    def backward(self, gy):
        (x,) = self.saved
        xp = self.xp
        # product of all the other elements: exclusive cumulative products from both sides
        moved = xp.moveaxis(x, self.axes, builtins.range(-len(self.axes), 0))
        flat = moved.reshape(moved.shape[:moved.ndim - len(self.axes)] + (-1,))
        ones = xp.ones(flat.shape[:-1] + (1,), flat.dtype)
        left = xp.cumprod(xp.concatenate([ones, flat[..., :-1]], axis=-1), axis=-1)
        right = xp.flip(xp.cumprod(xp.concatenate([ones, xp.flip(flat, -1)[..., :-1]], axis=-1), axis=-1), -1)
        others = xp.moveaxis((left * right).reshape(moved.shape), builtins.range(-len(self.axes), 0), self.axes)
        return others * _restore(gy, x.shape, self.axes, self.keepdims)

    def composite(self, x):
        # the reduced axes last, flattened to one of n, and the n slices multiplied: no
        # division, so zeros are exact (O(n) operators, paid only under create_graph)
        from .shape import permute

        kept = [i for i in builtins.range(x.ndim) if i not in self.axes]
        flat = permute(x, kept + list(self.axes)).reshape(tuple(x.shape[i] for i in kept) + (-1,))
        n = flat.shape[-1]
        if n == 0:
            y = x.sum(axis=self.axes, keepdims=False) + 1  # the empty product, recorded
        else:
            y = flat[..., 0]
            for i in builtins.range(1, n):
                y = y * flat[..., i]
        if self.keepdims:
            y = y.reshape(tuple(1 if i in self.axes else s for i, s in enumerate(x.shape)))
        return y


class CumSum(Function):
    differentiable_backward = True  # under create_graph, xp.flip is indexing and .cumsum this operator

    def __init__(self, axis) -> None:
        self.axis = axis

    def forward(self, x):
        return x.cumsum(axis=self.axis, dtype=x.dtype if x.dtype.kind == "f" else None)

    def backward(self, gy):
        xp = self.xp
        return xp.flip(xp.flip(gy, self.axis).cumsum(self.axis), self.axis)


def _resolve(axis, keepdims, dim, keepdim):
    return (dim if dim is not None else axis), (keepdim if keepdim is not None else keepdims)


class _ValuesIndices(tuple):
    """(values, indices) as PyTorch's ``torch.return_types``: unpacks, and names its fields."""

    __slots__ = ()
    _name = "values_indices"

    def __new__(cls, values, indices):
        return tuple.__new__(cls, (values, indices))

    @property
    def values(self):
        return self[0]

    @property
    def indices(self):
        return self[1]

    def __repr__(self) -> str:
        return f"torch.return_types.{self._name}(values={self[0]!r}, indices={self[1]!r})"


def _result_type(name: str) -> type:
    return type(name, (_ValuesIndices,), {"__slots__": (), "_name": name})


max_result, min_result, sort_result, topk_result = (_result_type(n) for n in ("max", "min", "sort", "topk"))


def sum(x, axis=None, keepdims=False, *, dim=None, keepdim=None, dtype=None):
    """Sum over ``dim`` (int, tuple or None for all). ``sum(x, dim=1, keepdim=True)``"""
    axis, keepdims = _resolve(axis, keepdims, dim, keepdim)
    if dtype is not None:
        x = x.to(dtype)
    return Sum(_axes(axis, x.ndim, "sum"), keepdims).apply(x)


def mean(x, axis=None, keepdims=False, *, dim=None, keepdim=None, dtype=None):
    axis, keepdims = _resolve(axis, keepdims, dim, keepdim)
    if dtype is not None:
        x = x.to(dtype)
    return Mean(_axes(axis, x.ndim, "mean"), keepdims).apply(x)


def amax(x, axis=None, keepdims=False, *, dim=None, keepdim=None):
    """Largest value over one or several axes (values only; tied maxima share the gradient)."""
    axis, keepdims = _resolve(axis, keepdims, dim, keepdim)
    return Max(_axes(axis, x.ndim, "amax"), keepdims).apply(x)


def amin(x, axis=None, keepdims=False, *, dim=None, keepdim=None):
    axis, keepdims = _resolve(axis, keepdims, dim, keepdim)
    return Min(_axes(axis, x.ndim, "amin"), keepdims).apply(x)


def _select(x, axis, keepdims, pick, result, name):
    """(values, indices) of the element ``pick`` (argmax/argmin) chooses along one axis; the
    gradient goes to that element only, as PyTorch's max(dim)."""
    from ..tensor import Tensor
    from .shape import gather, squeeze

    if not isinstance(axis, (int, np.integer)):
        raise TypeError(f"{name}(dim): dim must be one int, received {axis!r} (amax/amin reduce several)")
    (a,) = _axes(int(axis), x.ndim, name)
    if x.shape and x.shape[a] == 0:
        raise ValueError(f"{name}: reduction over an empty tensor of shape {tuple(x.shape)} (dimension {a} is empty)")
    indices = getattr(x.data, pick)(axis=a, keepdims=True).astype("int64") if x.ndim else x.data.astype("int64") * 0
    values = gather(x, a, indices) if x.ndim else x
    if not keepdims and x.ndim:
        values, indices = squeeze(values, a), indices.reshape(tuple(n for i, n in enumerate(indices.shape) if i != a))
    return result(values, Tensor(indices))


def _as_tensor(x):
    """An array (``outputs.data`` in PyTorch-era code: here the array itself) as a tensor."""
    from ..tensor import Tensor, as_tensor

    return x if isinstance(x, Tensor) else as_tensor(x)


def _is_tensor_argument(value) -> bool:
    """max(x, other) / min(x, other): the second argument is a tensor or an array, not a dim."""
    return hasattr(value, "shape") and hasattr(value, "dtype")


def max(x, axis=None, keepdims=False, *, dim=None, keepdim=None):
    """As PyTorch: ``max(x)`` is the largest value, ``max(x, dim)`` returns (values, indices),
    ``max(x, other)`` is the element-wise maximum."""
    if _is_tensor_argument(axis):
        from .arithmetic import maximum

        return maximum(x, axis)
    x = _as_tensor(x)
    axis, keepdims = _resolve(axis, keepdims, dim, keepdim)
    if axis is None:
        return Max(_axes(None, x.ndim, "max"), keepdims).apply(x)
    return _select(x, axis, keepdims, "argmax", max_result, "max")


def min(x, axis=None, keepdims=False, *, dim=None, keepdim=None):
    """As PyTorch: ``min(x)``, ``min(x, dim)`` -> (values, indices), ``min(x, other)``."""
    if _is_tensor_argument(axis):
        from .arithmetic import minimum

        return minimum(x, axis)
    x = _as_tensor(x)
    axis, keepdims = _resolve(axis, keepdims, dim, keepdim)
    if axis is None:
        return Min(_axes(None, x.ndim, "min"), keepdims).apply(x)
    return _select(x, axis, keepdims, "argmin", min_result, "min")


def _correction(unbiased, correction, ddof, name):
    given = [v for v in (unbiased, correction, ddof) if v is not None]
    if len(given) > 1:
        raise TypeError(f"{name}: give one of unbiased=, correction= or ddof=, received {len(given)}")
    if unbiased is not None:
        return 1 if unbiased else 0
    if correction is not None:
        return correction
    return 1 if ddof is None else ddof


def var(x, dim=None, unbiased=None, keepdim=False, *, correction=None, axis=None, keepdims=None, ddof=None):
    """Variance as PyTorch: unbiased (``correction=1``) by default; ``unbiased=False``,
    ``correction=0`` or NumPy's ``ddof=0`` for the biased (population) variance."""
    dim = dim if dim is not None else axis
    keepdim = keepdims if keepdims is not None else keepdim
    if isinstance(dim, bool):  # var(x, False): PyTorch's legacy var(input, unbiased)
        dim, unbiased = None, dim
    return Var(_axes(dim, x.ndim, "var"), keepdim, _correction(unbiased, correction, ddof, "var")).apply(x)


def std(x, dim=None, unbiased=None, keepdim=False, *, correction=None, axis=None, keepdims=None, ddof=None):
    """Standard deviation: the square root of :func:`var` (unbiased by default, as PyTorch)."""
    from .arithmetic import sqrt

    return sqrt(var(x, dim, unbiased, keepdim, correction=correction, axis=axis, keepdims=keepdims, ddof=ddof))


def logsumexp(x, axis=None, keepdims=False, *, dim=None, keepdim=None):
    """log(sum(exp(x))) computed without overflow."""
    axis, keepdims = _resolve(axis, keepdims, dim, keepdim)
    return LogSumExp(_axes(axis, x.ndim, "logsumexp"), keepdims).apply(x)


def argmax(x, axis=None, keepdims=False, *, dim=None, keepdim=None):
    """Positions of the maxima (int64, no gradient)."""
    from ..tensor import Tensor

    x = _as_tensor(x)
    axis, keepdims = _resolve(axis, keepdims, dim, keepdim)
    return Tensor(x.data.argmax(axis=axis, keepdims=keepdims).astype("int64"))


def argmin(x, axis=None, keepdims=False, *, dim=None, keepdim=None):
    from ..tensor import Tensor

    axis, keepdims = _resolve(axis, keepdims, dim, keepdim)
    return Tensor(x.data.argmin(axis=axis, keepdims=keepdims).astype("int64"))


def _logical(x, axis, keepdims, dim, keepdim, how):
    from ..tensor import Tensor

    axis, keepdims = _resolve(axis, keepdims, dim, keepdim)
    axes = _axes(axis, x.ndim, how)
    return Tensor(getattr(x.data.astype(bool), how)(axis=axes, keepdims=keepdims))


def any(x, axis=None, keepdims=False, *, dim=None, keepdim=None):
    """True where any element along ``dim`` is non-zero (a bool tensor)."""
    return _logical(x, axis, keepdims, dim, keepdim, "any")


def all(x, axis=None, keepdims=False, *, dim=None, keepdim=None):
    """True where every element along ``dim`` is non-zero (a bool tensor)."""
    return _logical(x, axis, keepdims, dim, keepdim, "all")


def prod(x, axis=None, keepdims=False, *, dim=None, keepdim=None, dtype=None):
    """Product over ``dim``; the gradient is prod / x (computed without dividing, so zeros are exact)."""
    axis, keepdims = _resolve(axis, keepdims, dim, keepdim)
    if dtype is not None:
        x = x.to(dtype)
    return Prod(_axes(axis, x.ndim, "prod"), keepdims).apply(x)


def norm(x, p=2, dim=None, keepdim=False):
    """The p-norm over ``dim`` (all elements by default), as ``torch.norm`` / ``Tensor.norm``."""
    from .arithmetic import abs as _abs
    from .arithmetic import pow as _pow
    from .arithmetic import sqrt

    if p == 2 or p == "fro":
        return sqrt(sum(x * x, dim, keepdim))
    if p == 1:
        return sum(_abs(x), dim, keepdim)
    if p == float("inf"):
        return amax(_abs(x), dim, keepdim)
    return _pow(sum(_pow(_abs(x), p), dim, keepdim), 1.0 / p)


def cumsum(x, dim: int, *, dtype=None):
    """Running sum along ``dim`` (PyTorch's cumsum; ``dim`` is required)."""
    if dtype is not None:
        x = x.to(dtype)
    return CumSum(_axes(dim, x.ndim, "cumsum")[0]).apply(x)
