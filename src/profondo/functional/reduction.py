"""Reductions over axes: sum, mean, max, min, var, logsumexp (NumPy's axis/keepdims,
PyTorch's dim/keepdim accepted as well)."""

from __future__ import annotations

import math

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


def _resolve(axis, keepdims, dim, keepdim):
    return (dim if dim is not None else axis), (keepdim if keepdim is not None else keepdims)


def sum(x, axis=None, keepdims=False, *, dim=None, keepdim=None):
    """Sum over ``axis`` (int, tuple or None for all). ``sum(x, axis=1, keepdims=True)``"""
    axis, keepdims = _resolve(axis, keepdims, dim, keepdim)
    return Sum(_axes(axis, x.ndim, "sum"), keepdims).apply(x)


def mean(x, axis=None, keepdims=False, *, dim=None, keepdim=None):
    axis, keepdims = _resolve(axis, keepdims, dim, keepdim)
    return Mean(_axes(axis, x.ndim, "mean"), keepdims).apply(x)


def max(x, axis=None, keepdims=False, *, dim=None, keepdim=None):
    """Largest value over ``axis`` (values only; use argmax for positions)."""
    axis, keepdims = _resolve(axis, keepdims, dim, keepdim)
    return Max(_axes(axis, x.ndim, "max"), keepdims).apply(x)


def min(x, axis=None, keepdims=False, *, dim=None, keepdim=None):
    axis, keepdims = _resolve(axis, keepdims, dim, keepdim)
    return Min(_axes(axis, x.ndim, "min"), keepdims).apply(x)


def var(x, axis=None, keepdims=False, ddof=0, *, dim=None, keepdim=None, correction=None):
    """Variance with NumPy's default ``ddof=0``; ``correction=1`` (PyTorch's name) for unbiased."""
    axis, keepdims = _resolve(axis, keepdims, dim, keepdim)
    return Var(_axes(axis, x.ndim, "var"), keepdims, correction if correction is not None else ddof).apply(x)


def logsumexp(x, axis=None, keepdims=False, *, dim=None, keepdim=None):
    """log(sum(exp(x))) computed without overflow."""
    axis, keepdims = _resolve(axis, keepdims, dim, keepdim)
    return LogSumExp(_axes(axis, x.ndim, "logsumexp"), keepdims).apply(x)


def argmax(x, axis=None, keepdims=False, *, dim=None, keepdim=None):
    """Positions of the maxima (int64, no gradient)."""
    from ..tensor import Tensor

    axis, keepdims = _resolve(axis, keepdims, dim, keepdim)
    return Tensor(x.data.argmax(axis=axis, keepdims=keepdims).astype("int64"))


def argmin(x, axis=None, keepdims=False, *, dim=None, keepdim=None):
    from ..tensor import Tensor

    axis, keepdims = _resolve(axis, keepdims, dim, keepdim)
    return Tensor(x.data.argmin(axis=axis, keepdims=keepdims).astype("int64"))
