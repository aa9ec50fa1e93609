"""Dropout: zero each element with probability p during training, scale the rest by 1/(1-p)."""

from __future__ import annotations

from ..autograd import Function
from ..backend import device_of, move
from ..random import generator


class Dropout(Function):
    differentiable_backward = True

    def __init__(self, p: float) -> None:
        self.p = p

    def forward(self, x):
        keep = generator().random(x.shape, dtype="float32") >= self.p
        if self.xp is not __import__("numpy"):
            keep = move(keep, device_of(x))
        mask = keep.astype(x.dtype) * x.dtype.type(1.0 / (1.0 - self.p))
        self.save_for_backward(mask)
        return x * mask

    def backward(self, gy):
        return gy * self.saved[0]


def dropout(x, p: float = 0.5, training: bool = True):
    """Inverted dropout; the identity when ``training`` is False or p == 0.

    >>> h = dropout(h, 0.5, training=model.training)
    """
    if not 0.0 <= p < 1.0:
        raise ValueError(f"dropout: p must be in [0, 1), received {p}")
    if not training or p == 0.0:
        return x
    return Dropout(p).apply(x)
