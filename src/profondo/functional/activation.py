"""Activation functions: relu, leaky_relu, sigmoid, tanh, softmax, log_softmax."""

from __future__ import annotations

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


def softmax(x, axis: int = -1):
    """exp(x) / sum(exp(x)) along ``axis``. ``softmax(logits, axis=1)``"""
    return Softmax(axis).apply(x)


def log_softmax(x, axis: int = -1):
    """log(softmax(x)) computed stably along ``axis``."""
    return LogSoftmax(axis).apply(x)
