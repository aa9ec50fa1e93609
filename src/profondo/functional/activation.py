"""Activation functions: relu, leaky_relu, sigmoid, tanh, softmax, log_softmax."""

from __future__ import annotations

import math

import numpy as np

from ..autograd import Function


class ReLU(Function):
    differentiable_backward = True

    def forward(self, x):
        y = self.xp.maximum(x, 0)
        self.save_for_backward(y)
        return y

    def backward(self, gy):
        return gy * (self.saved[0] > 0)


class ReLU6(Function):
    """Unlike clip, no gradient at exactly 0 or 6 (as PyTorch's relu6)."""

    differentiable_backward = True

    def forward(self, x):
        self.save_for_backward(x)
        return self.xp.clip(x, 0, 6)

    def backward(self, gy):
        (x,) = self.saved
        return gy * ((x > 0) * (x < 6))  # * on masks: `and` for arrays and Tensors alike


class LeakyReLU(Function):
    differentiable_backward = True

    def __init__(self, slope: float) -> None:
        self.slope = slope

    def forward(self, x):
        self.save_for_backward(x)
        return self.xp.where(x > 0, x, x * self.slope)

    def backward(self, gy):
        (x,) = self.saved
        return self.xp.where(x > 0, gy, gy * self.slope)


class Sigmoid(Function):
    differentiable_backward = True

    def forward(self, x):
        y = self.xp.tanh(x * 0.5) * 0.5 + 0.5  # stable for large |x|
        self.save_for_backward(y)
        return y

    def backward(self, gy):
        (y,) = self.saved
        return gy * y * (1 - y)


class Tanh(Function):
    differentiable_backward = True

    def forward(self, x):
        y = self.xp.tanh(x)
        self.save_for_backward(y)
        return y

    def backward(self, gy):
        (y,) = self.saved
        return gy * (1 - y * y)


class Softmax(Function):
    differentiable_backward = True

    def __init__(self, axis: int) -> None:
        self.axis = axis

    def forward(self, x):
        e = self.xp.exp(x - x.max(axis=self.axis, keepdims=True))
        y = e / e.sum(axis=self.axis, keepdims=True)
        self.save_for_backward(y)
        return y

    def backward(self, gy):
        (y,) = self.saved
        gx = y * gy
        return gx - y * gx.sum(axis=self.axis, keepdims=True)


class LogSoftmax(Function):
    differentiable_backward = True

    def __init__(self, axis: int) -> None:
        self.axis = axis

    def forward(self, x):
        xp = self.xp
        shifted = x - x.max(axis=self.axis, keepdims=True)
        y = shifted - xp.log(xp.exp(shifted).sum(axis=self.axis, keepdims=True))
        self.save_for_backward(y)
        return y

    def backward(self, gy):
        (y,) = self.saved
        return gy - self.xp.exp(y) * gy.sum(axis=self.axis, keepdims=True)


class Softplus(Function):
    def __init__(self, beta: float) -> None:
        self.beta = beta

    def forward(self, x):
        xp = self.xp
        bx = x * self.beta
        self.save_for_backward(bx)
        return ((xp.maximum(bx, 0) + xp.log1p(xp.exp(-xp.abs(bx)))) / self.beta).astype(x.dtype, copy=False)

    def backward(self, gy):
        (bx,) = self.saved
        return gy * (self.xp.tanh(bx * 0.5) * 0.5 + 0.5)

    def composite(self, x):
        from .reduction import logsumexp
        from .shape import stack

        # log(exp(0) + exp(bx)): stable for large |bx| and smooth at 0, where the kinks of
        # relu(bx) + log1p(exp(-|bx|)) would give wrong one-sided second derivatives
        bx = x * self.beta
        return logsumexp(stack([bx.xp.zeros(bx.shape, bx.dtype), bx]), axis=0) / self.beta


class GELU(Function):
    def __init__(self, approximate: str) -> None:
        self.approximate = approximate

    def forward(self, x):
        xp = self.xp
        self.save_for_backward(x)
        if self.approximate == "tanh":
            c = x.dtype.type(math.sqrt(2 / math.pi))
            return 0.5 * x * (1 + xp.tanh(c * (x + 0.044715 * x ** 3)))
        return (0.5 * x * (1 + _erf(xp, x / math.sqrt(2)))).astype(x.dtype, copy=False)

    def backward(self, gy):
        (x,) = self.saved
        xp = self.xp
        if self.approximate == "tanh":
            c = math.sqrt(2 / math.pi)
            t = xp.tanh(c * (x + 0.044715 * x ** 3))
            return gy * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * c * (1 + 3 * 0.044715 * x * x))
        cdf = 0.5 * (1 + _erf(xp, x / math.sqrt(2)))
        pdf = xp.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)
        return (gy * (cdf + x * pdf)).astype(gy.dtype, copy=False)

    def composite(self, x):
        if self.approximate == "tanh":
            c = math.sqrt(2 / math.pi)
            return 0.5 * x * (1 + tanh(c * (x + 0.044715 * x * x * x)))
        return 0.5 * x * (1 + Erf().apply(x * (1 / math.sqrt(2))))


class Erf(Function):
    """The error function; its derivative 2/sqrt(pi) exp(-x^2) is written with differentiable
    operators, so erf differentiates to any order."""

    differentiable_backward = True

    def forward(self, x):
        self.save_for_backward(x)
        return _erf(self.xp, x).astype(x.dtype, copy=False)

    def backward(self, gy):
        (x,) = self.saved
        return gy * (self.xp.exp(-(x * x)) * (2 / math.sqrt(math.pi)))


def _erf(xp, x):
    if xp is not np:
        import cupyx.scipy.special as special

        return special.erf(x)
    # Abramowitz-Stegun 7.1.26 is too coarse for parity; the vectorised math.erf is exact.
    return np.vectorize(math.erf, otypes=[x.dtype])(x)


def relu(x):
    """max(x, 0). ``relu(x)``"""
    return ReLU().apply(x)


def leaky_relu(x, negative_slope: float = 0.01):
    """x where x > 0, else negative_slope * x."""
    return LeakyReLU(negative_slope).apply(x)


def relu6(x):
    """min(max(x, 0), 6), the activation of mobile networks."""
    return ReLU6().apply(x)


def sigmoid(x):
    """1 / (1 + exp(-x))."""
    return Sigmoid().apply(x)


def tanh(x):
    return Tanh().apply(x)


def _softmax_dim(x, dim, axis, name):
    if dim is None:
        dim = axis
    if dim is None:  # PyTorch's implicit choice, with its warning
        import warnings

        dim = 0 if x.ndim in (0, 1, 3) else 1
        warnings.warn(f"Implicit dimension choice for {name} has been deprecated: pass dim= "
                      f"(chose dim={dim} for an input of {x.ndim} dimensions, as PyTorch)", stacklevel=3)
    return dim


def softmax(x, dim: int | None = None, *, axis: int | None = None, dtype=None):
    """exp(x) / sum(exp(x)) along ``dim``. ``softmax(logits, dim=1)``"""
    if dtype is not None:
        x = x.to(dtype)
    return Softmax(_softmax_dim(x, dim, axis, "softmax")).apply(x)


def log_softmax(x, dim: int | None = None, *, axis: int | None = None, dtype=None):
    """log(softmax(x)) computed stably along ``dim``."""
    if dtype is not None:
        x = x.to(dtype)
    return LogSoftmax(_softmax_dim(x, dim, axis, "log_softmax")).apply(x)


def softplus(x, beta: float = 1.0, threshold: float = 20.0):
    """log(1 + exp(beta x)) / beta, linear above ``threshold`` (as PyTorch)."""
    from .arithmetic import where

    return where(x * beta > threshold, x, Softplus(beta).apply(x))


def gelu(x, approximate: str = "none"):
    """x * Phi(x) (exact, with erf) or its tanh approximation (``approximate="tanh"``)."""
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', received {approximate!r}")
    return GELU(approximate).apply(x)


def silu(x):
    """x * sigmoid(x) (also called swish)."""
    return x * sigmoid(x)


def elu(x, alpha: float = 1.0):
    """x where x > 0, else alpha * (exp(x) - 1)."""
    from .arithmetic import exp, where

    return where(x > 0, x, alpha * (exp(where(x > 0, 0.0, x)) - 1))
