"""Element-wise arithmetic, matrix products and dtype/device moves."""

from __future__ import annotations

import numpy as np

from ..autograd import Function, unwrap
from ..backend import move


def _check_broadcast(name, a, b):
    try:
        return np.broadcast_shapes(a.shape, b.shape)
    except ValueError:
        raise ValueError(f"{name}: shapes {tuple(a.shape)} and {tuple(b.shape)} cannot be broadcast together "
                         "(expected equal sizes or 1 in each trailing dimension)") from None


class Add(Function):
    differentiable_backward = True

    def forward(self, a, b):
        if a.shape != b.shape:
            _check_broadcast("add", a, b)
        return a + b

    def backward(self, gy):
        return gy, gy


class Sub(Function):
    differentiable_backward = True

    def forward(self, a, b):
        if a.shape != b.shape:
            _check_broadcast("sub", a, b)
        return a - b

    def backward(self, gy):
        return gy, (-gy if self.needs_input_grad[1] else None)


class Mul(Function):
    differentiable_backward = True

    def forward(self, a, b):
        if a.shape != b.shape:
            _check_broadcast("mul", a, b)
        self.save_for_backward(a, b)
        return a * b

    def backward(self, gy):
        a, b = self.saved
        return (gy * b if self.needs_input_grad[0] else None,
                gy * a if self.needs_input_grad[1] else None)


class Div(Function):
    differentiable_backward = True

    def forward(self, a, b):
        if a.shape != b.shape:
            _check_broadcast("div", a, b)
        self.save_for_backward(a, b)
        return a / b

    def backward(self, gy):
        a, b = self.saved
        ga = gy / b if self.needs_input_grad[0] else None
        gb = -gy * a / (b * b) if self.needs_input_grad[1] else None
        return ga, gb


class Neg(Function):
    differentiable_backward = True

    def forward(self, x):
        return -x

    def backward(self, gy):
        return -gy


class PowScalar(Function):
    """x ** p for a constant exponent p."""

    differentiable_backward = True

    def __init__(self, exponent: float) -> None:
        self.exponent = exponent

    def forward(self, x):
        self.save_for_backward(x)
        return x**self.exponent

    def backward(self, gy):
        (x,) = self.saved
        p = self.exponent
        return gy * (p * x ** (p - 1)) if p != 2 else gy * (2 * x)


class Pow(Function):
    """a ** b where both may require gradients."""

    differentiable_backward = True

    def forward(self, a, b):
        y = a**b
        self.save_for_backward(a, b, y)
        return y

    def backward(self, gy):
        a, b, y = self.saved
        xp = self.xp
        ga = gy * b * a ** (b - 1) if self.needs_input_grad[0] else None
        gb = None
        if self.needs_input_grad[1]:  # d/db a**b = a**b log a, taken as 0 where a == 0
            safe = xp.where(a > 0, a, 1)
            gb = gy * y * xp.log(safe)
        return ga, gb


class Exp(Function):
    differentiable_backward = True

    def forward(self, x):
        y = self.xp.exp(x)
        self.save_for_backward(y)
        return y

    def backward(self, gy):
        return gy * self.saved[0]


class Log(Function):
    differentiable_backward = True

    def forward(self, x):
        self.save_for_backward(x)
        return self.xp.log(x)

    def backward(self, gy):
        return gy / self.saved[0]


class Sqrt(Function):
    differentiable_backward = True

    def forward(self, x):
        y = self.xp.sqrt(x)
        self.save_for_backward(y)
        return y

    def backward(self, gy):
        return gy / (2 * self.saved[0])


class Abs(Function):
    differentiable_backward = True

    def forward(self, x):
        self.save_for_backward(x)
        return self.xp.abs(x)

    def backward(self, gy):
        return gy * self.xp.sign(self.saved[0])


class Maximum(Function):
    """Element-wise maximum; at ties each input receives half the gradient (as PyTorch)."""

    differentiable_backward = True

    def forward(self, a, b):
        if a.shape != b.shape:
            _check_broadcast("maximum", a, b)
        self.save_for_backward(a, b)
        return self.xp.maximum(a, b)

    def backward(self, gy):
        a, b = self.saved
        share = (a > b) + (a == b) * 0.5
        share = share.astype(gy.dtype)
        return (gy * share if self.needs_input_grad[0] else None,
                gy * (1 - share) if self.needs_input_grad[1] else None)


class Minimum(Maximum):
    def forward(self, a, b):
        if a.shape != b.shape:
            _check_broadcast("minimum", a, b)
        self.save_for_backward(b, a)  # min(a, b) takes a's gradient where b > a
        return self.xp.minimum(a, b)


class Clip(Function):
    """Clamp to [low, high]; the gradient passes where low <= x <= high."""

    differentiable_backward = True

    def __init__(self, low, high) -> None:
        self.low, self.high = low, high

    def forward(self, x):
        self.save_for_backward(x)
        return self.xp.clip(x, self.low, self.high)

    def backward(self, gy):
        x = unwrap(self.saved[0])  # the mask is piecewise constant, an array in both modes
        mask = self.xp.ones(x.shape, bool)
        if self.low is not None:
            mask &= x >= self.low
        if self.high is not None:
            mask &= x <= self.high
        return gy * mask


class Where(Function):
    differentiable_backward = True

    def __init__(self, condition) -> None:
        self.condition = condition

    def forward(self, a, b):
        return self.xp.where(self.condition, a, b)

    def backward(self, gy):
        zero = gy.dtype.type(0)
        c = self.condition
        return (self.xp.where(c, gy, zero) if self.needs_input_grad[0] else None,
                self.xp.where(c, zero, gy) if self.needs_input_grad[1] else None)


def _matmul_shape_error(a, b):
    return ValueError(
        f"matmul: shapes {tuple(a.shape)} and {tuple(b.shape)} are not aligned: the last dimension of "
        f"the first ({a.shape[-1]}) must equal the {'only' if b.ndim == 1 else 'second-to-last'} dimension "
        f"of the second ({b.shape[0] if b.ndim == 1 else b.shape[-2]})")


class MatMul(Function):
    """Matrix product with NumPy's rules: batched, broadcast, 1-D operands promoted."""

    differentiable_backward = True

    def forward(self, a, b):
        if a.ndim == 0 or b.ndim == 0:
            raise ValueError("matmul: both operands need at least one dimension, received a scalar")
        if a.shape[-1] != (b.shape[0] if b.ndim == 1 else b.shape[-2]):
            raise _matmul_shape_error(a, b)
        if a.ndim > 2 and b.ndim > 2:
            try:
                np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
            except ValueError:
                raise ValueError(f"matmul: the batch dimensions of shapes {tuple(a.shape)} and {tuple(b.shape)}, "
                                 f"{tuple(a.shape[:-2])} and {tuple(b.shape[:-2])}, cannot be broadcast together") from None
        self.save_for_backward(a, b)
        return a @ b

    def backward(self, gy):
        a, b = self.saved
        xp = self.xp
        if a.ndim == 1 and b.ndim == 1:
            return gy * b, gy * a
        # Promote 1-D operands to matrices, then drop the added axis from their gradients;
        # the engine sums the broadcast batch axes away.
        a2 = a[None, :] if a.ndim == 1 else a
        b2 = b[:, None] if b.ndim == 1 else b
        gy2 = xp.expand_dims(gy, -2) if a.ndim == 1 else gy
        gy2 = xp.expand_dims(gy2, -1) if b.ndim == 1 else gy2
        ga = gb = None
        if self.needs_input_grad[0]:
            ga = gy2 @ xp.swapaxes(b2, -1, -2)
            ga = ga[..., 0, :] if a.ndim == 1 else ga
        if self.needs_input_grad[1]:
            gb = xp.swapaxes(a2, -1, -2) @ gy2
            gb = gb[..., 0] if b.ndim == 1 else gb
        return ga, gb


class Linear(Function):
    """y = x @ W.T + b in one operator (the workhorse of fully connected layers)."""

    differentiable_backward = True

    def forward(self, x, w, b=None):
        if w.ndim != 2 or x.ndim == 0:
            raise ValueError(f"linear: expected a weight of shape (out_features, in_features) and an input of shape "
                             f"(..., in_features), received weight {tuple(w.shape)} and input {tuple(x.shape)}")
        if b is not None and b.shape != (w.shape[0],):
            raise ValueError(f"linear: bias of shape {tuple(b.shape)}, expected ({w.shape[0]},) for the weight {tuple(w.shape)}")
        if x.shape[-1] != w.shape[1]:
            raise ValueError(f"linear: input has {x.shape[-1]} features (shape {tuple(x.shape)}), "
                             f"the weight of shape {tuple(w.shape)} expects {w.shape[1]}")
        self.save_for_backward(x, w)
        y = x @ w.T
        if b is not None:
            y += b
        return y

    def backward(self, gy):
        x, w = self.saved
        needs = self.needs_input_grad
        gx = gy @ w if needs[0] else None
        gw = gb = None
        if needs[1]:
            gw = gy.reshape(-1, gy.shape[-1]).T @ x.reshape(-1, x.shape[-1])
        if len(needs) > 2 and needs[2]:
            gb = gy.reshape(-1, gy.shape[-1]).sum(0)
        return gx, gw, gb


class Cast(Function):
    differentiable_backward = True

    def __init__(self, dtype) -> None:
        self.dtype = dtype

    def forward(self, x):
        self.source = x.dtype
        return x.astype(self.dtype)

    def backward(self, gy):
        return gy.astype(self.source)


class ToDevice(Function):
    differentiable_backward = True

    def __init__(self, target) -> None:
        self.target = target

    def forward(self, x):
        from ..backend import device_of

        self.source = device_of(x)
        return move(x, self.target)

    def backward(self, gy):
        return gy.to(self.source) if hasattr(gy, "creator") else move(gy, self.source)


# --- functional wrappers ------------------------------------------------------------------
def add(a, b):
    """a + b with broadcasting. ``add(x, 1.0)``"""
    return Add().apply(a, b)


def sub(a, b):
    return Sub().apply(a, b)


def mul(a, b):
    return Mul().apply(a, b)


def div(a, b):
    return Div().apply(a, b)


def neg(x):
    return Neg().apply(x)


def pow(a, b):
    """a ** b; a constant Python exponent takes the cheaper path. ``pow(x, 2)``"""
    if isinstance(b, (int, float, np.integer, np.floating)) and not isinstance(b, bool):
        # As a Python number: a NumPy float64 exponent would promote float32 to float64.
        return PowScalar(b.item() if isinstance(b, np.generic) else b).apply(a)
    return Pow().apply(a, b)


def exp(x):
    return Exp().apply(x)


def log(x):
    return Log().apply(x)


def sqrt(x):
    return Sqrt().apply(x)


def abs(x):
    return Abs().apply(x)


def maximum(a, b):
    return Maximum().apply(a, b)


def minimum(a, b):
    return Minimum().apply(a, b)


def clip(x, min=None, max=None):
    """Clamp ``x`` to [min, max] (either bound may be None). ``clip(x, 0.0, 6.0)``"""
    return Clip(min, max).apply(x)


def where(condition, a, b):
    """Pick from ``a`` where ``condition`` is true, else from ``b``. ``where(x > 0, x, 0.0)``"""
    from ..tensor import Tensor

    cond = condition.data if isinstance(condition, Tensor) else condition
    return Where(cond).apply(a, b)


def matmul(a, b):
    """Matrix product (batched, broadcast). ``matmul(x, w)``"""
    return MatMul().apply(a, b)


def linear(x, weight, bias=None):
    """x @ weight.T + bias, with PyTorch's (out_features, in_features) weight layout."""
    return Linear().apply(x, weight) if bias is None else Linear().apply(x, weight, bias)


def cast(x, dtype):
    return Cast(dtype).apply(x)


def to_device(x, target):
    return ToDevice(target).apply(x)
