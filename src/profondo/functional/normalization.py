"""Normalisation: batch normalisation over the channel axis 1 of (N, C) or (N, C, H, W) inputs, and
local response normalisation across channels."""

from __future__ import annotations

import numpy as np

from ..autograd import Function, unwrap


class BatchNorm(Function):
    """y = (x - mean) / sqrt(var + eps) * weight + bias.

    Training uses the batch's statistics (biased variance) and updates the running
    averages in place, the variance unbiased, as PyTorch does; evaluation uses the
    running averages.
    """

    def __init__(self, running_mean, running_var, training, momentum, eps) -> None:
        self.running_mean, self.running_var = running_mean, running_var
        self.training, self.momentum, self.eps = training, momentum, eps

    def forward(self, x, weight=None, bias=None):
        xp = self.xp
        if x.ndim < 2:
            raise ValueError(f"batch_norm: expected input of shape (N, C, ...), received {tuple(x.shape)}")
        c = x.shape[1]
        for name, p in (("weight", weight), ("bias", bias), ("running_mean", self.running_mean),
                        ("running_var", self.running_var)):
            if p is not None and p.shape != (c,):
                raise ValueError(f"batch_norm: {name} of shape {tuple(p.shape)}, expected ({c},) for input {tuple(x.shape)}")
        axes = (0,) + tuple(range(2, x.ndim))
        shape = (1, c) + (1,) * (x.ndim - 2)
        if self.training:
            n = x.size // c
            if n < 2:
                raise ValueError(f"batch_norm: training needs more than one value per channel, received input {tuple(x.shape)}")
            mean = x.mean(axis=axes, dtype=x.dtype)
            centered = x - mean.reshape(shape)
            var = (centered * centered).mean(axis=axes, dtype=x.dtype)
            if self.running_mean is not None:
                m = self.momentum
                self.running_mean *= 1 - m
                self.running_mean += m * mean
                self.running_var *= 1 - m
                self.running_var += (m * n / (n - 1)) * var
        else:
            if self.running_mean is None:
                raise ValueError("batch_norm: evaluation mode needs running_mean and running_var")
            centered = x - self.running_mean.reshape(shape)
            var = self.running_var
        inv_std = (1.0 / xp.sqrt(var + self.eps)).astype(x.dtype)
        xhat = centered * inv_std.reshape(shape)
        self.axes, self.shape = axes, shape
        self.save_for_backward(xhat, inv_std, weight)
        y = xhat
        if weight is not None:
            y = y * weight.reshape(shape)
        if bias is not None:
            y = y + bias.reshape(shape)
        return y

    def backward(self, gy):
        xhat, inv_std, weight = self.saved
        axes, shape = self.axes, self.shape
        needs = self.needs_input_grad
        gxhat = gy * weight.reshape(shape) if weight is not None else gy
        gx = gw = gb = None
        if needs[0]:
            if self.training:
                mean_g = gxhat.mean(axis=axes, keepdims=True, dtype=gy.dtype)
                mean_gx = (gxhat * xhat).mean(axis=axes, keepdims=True, dtype=gy.dtype)
                gx = (gxhat - mean_g - xhat * mean_gx) * inv_std.reshape(shape)
            else:
                gx = gxhat * inv_std.reshape(shape)
        if len(needs) > 1 and needs[1]:
            gw = (gy * xhat).sum(axis=axes)
        if len(needs) > 2 and needs[2]:
            gb = gy.sum(axis=axes)
        return gx, gw, gb

    def composite(self, x, weight=None, bias=None):
        """The same normalisation with operators; the running statistics are left as they are."""
        axes, shape = self.axes, self.shape
        if self.training:
            centered = x - x.mean(axis=axes, keepdims=True)
            y = centered * ((centered * centered).mean(axis=axes, keepdims=True) + self.eps) ** -0.5
        else:
            y = (x - self.running_mean.reshape(shape)) * self.saved[1].reshape(shape)
        if weight is not None:
            y = y * weight.reshape(shape)
        return y if bias is None else y + bias.reshape(shape)


def batch_norm(x, running_mean=None, running_var=None, weight=None, bias=None, training: bool = False,
               momentum: float = 0.1, eps: float = 1e-5):
    """Normalise each channel (axis 1); running statistics are arrays or tensors updated in place.

    >>> y = batch_norm(x, rm, rv, gamma, beta, training=True)
    """
    rm, rv = unwrap(running_mean), unwrap(running_var)
    op = BatchNorm(rm, rv, training, momentum, eps)
    if weight is None and bias is None:
        return op.apply(x)
    if weight is None or bias is None:
        raise ValueError("batch_norm: give both weight and bias, or neither")
    return op.apply(x, weight, bias)


def _channel_window_sum(xp, a, front: int, back: int):
    """s[:, c] = sum of a[:, c - front .. c + back] along axis 1 (out-of-range channels are 0)."""
    widths = [(0, 0)] * a.ndim
    widths[1] = (front + 1, back)
    c = xp.cumsum(xp.pad(a, widths), axis=1)
    n = a.shape[1]
    return c[:, front + back + 1:front + back + 1 + n] - c[:, :n]


class LocalResponseNorm(Function):
    """y = x / (k + alpha / size * sum of x^2 over the ``size`` neighbouring channels)^beta."""

    def __init__(self, size: int, alpha: float, beta: float, k: float) -> None:
        self.size, self.alpha, self.beta, self.k = size, alpha, beta, k
        self.front, self.back = size // 2, (size - 1) // 2  # PyTorch's window: the extra channel in front

    def forward(self, x):
        if x.ndim < 3:
            raise ValueError(f"local_response_norm: expected input of shape (N, C, ...) with at least 3 "
                             f"dimensions, received {tuple(x.shape)}")
        scale = self.alpha / self.size
        d = (self.k + scale * _channel_window_sum(self.xp, x * x, self.front, self.back)).astype(x.dtype)
        inv = d ** -self.beta
        self.save_for_backward(x, d, inv)
        return x * inv

    def backward(self, gy):
        x, d, inv = self.saved
        t = gy * x * inv / d
        # channel c enters the windows of c - back .. c + front: the transposed window
        back_sum = _channel_window_sum(self.xp, t, self.back, self.front)
        return gy * inv - (2.0 * self.beta * self.alpha / self.size) * x * back_sum

    def composite(self, x):
        from .shape import pad

        # the window sum as ``size`` shifted slices of x*x padded along the channels
        n = x.shape[1]
        widths = [(0, 0)] * x.ndim
        widths[1] = (self.front, self.back)
        padded = pad(x * x, widths, mode="constant", value=0.0)
        window = padded[:, 0:n]
        for i in range(1, self.size):
            window = window + padded[:, i:i + n]
        return x * (self.k + (self.alpha / self.size) * window) ** -self.beta


def local_response_norm(x, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0):
    """PyTorch's local response normalisation across channels (axis 1) of (N, C, ...) inputs:
    ``x / (k + alpha / size * sum of x^2 over size channels) ** beta`` (AlexNet, CaffeNet).

    >>> local_response_norm(x, 5, alpha=1e-4, beta=0.75, k=2.0).shape == x.shape
    True
    """
    if not isinstance(size, (int, np.integer)) or isinstance(size, bool) or size < 1:
        raise ValueError(f"local_response_norm: size must be a positive integer, received {size!r}")
    return LocalResponseNorm(int(size), float(alpha), float(beta), float(k)).apply(x)
