"""Element-wise arithmetic, matrix products and dtype/device moves."""

from __future__ import annotations

import numpy as np

from ..autograd import Function, unwrap
from ..backend import move

_F64 = np.dtype(np.float64)
_F32 = np.dtype(np.float32)


def _default_float(y, a, b):
    """PyTorch's promotion: float32 is the default float, so integers mixed with float32 (or
    divided) give float32 where NumPy gives float64; float64 only when an operand is float64."""
    if y.dtype == _F64 and a.dtype != _F64 and b.dtype != _F64:
        return y.astype(_F32)
    return y


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
        y = a + b
        return y if y.dtype != _F64 else _default_float(y, a, b)

    def backward(self, gy):
        return gy, gy


class Sub(Function):
    differentiable_backward = True

    def forward(self, a, b):
        if a.shape != b.shape:
            _check_broadcast("sub", a, b)
        y = a - b
        return y if y.dtype != _F64 else _default_float(y, a, b)

    def backward(self, gy):
        return gy, (-gy if self.needs_input_grad[1] else None)


class Mul(Function):
    differentiable_backward = True

    def forward(self, a, b):
        if a.shape != b.shape:
            _check_broadcast("mul", a, b)
        self.save_for_backward(a, b)
        y = a * b
        return y if y.dtype != _F64 else _default_float(y, a, b)

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
        y = a / b
        return y if y.dtype != _F64 else _default_float(y, a, b)

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
        y = x**self.exponent
        return y.astype(_F32) if y.dtype == _F64 and x.dtype != _F64 else y

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
        if gy.ndim != 2:  # fold the leading axes into one (a matrix needs no reshape)
            gy, x = gy.reshape(-1, gy.shape[-1]), x.reshape(-1, x.shape[-1])
        if needs[1]:
            gw = gy.T @ x
        if len(needs) > 2 and needs[2]:
            gb = gy.sum(0)
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
def add(a, b, *, alpha=1):
    """a + alpha * b with broadcasting. ``add(x, 1.0)``"""
    return Add().apply(a, b if alpha == 1 else mul(b, alpha))


def sub(a, b, *, alpha=1):
    return Sub().apply(a, b if alpha == 1 else mul(b, alpha))


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


def mm(a, b):
    """Product of two matrices (2-D only, as torch.mm; matmul broadcasts)."""
    if a.ndim != 2 or b.ndim != 2:
        raise ValueError(f"mm: expected two matrices (2-D), received shapes {tuple(a.shape)} and {tuple(b.shape)}")
    return MatMul().apply(a, b)


def bmm(a, b):
    """Batched matrix product of (B, n, m) and (B, m, p) tensors (no broadcasting, as torch.bmm)."""
    if a.ndim != 3 or b.ndim != 3 or a.shape[0] != b.shape[0]:
        raise ValueError(f"bmm: expected two 3-D tensors with the same batch size, received shapes "
                         f"{tuple(a.shape)} and {tuple(b.shape)}")
    return MatMul().apply(a, b)


def einsum(equation: str, *operands):
    """Einstein summation, ``einsum("bij,bjk->bik", a, b)``; operands may also come as one list."""
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    equation = equation.replace(" ", "")
    inputs, arrow, output = equation.partition("->")
    terms = inputs.split(",")
    if len(terms) != len(operands):
        raise ValueError(f"einsum: {equation!r} names {len(terms)} operands, received {len(operands)}")
    if not arrow:  # implicit output: the letters used once, in alphabetical order
        letters = inputs.replace(",", "").replace("...", "")
        output = ("..." if "..." in inputs else "") + "".join(sorted(c for c in set(letters) if letters.count(c) == 1))
    return Einsum(terms, output).apply(*operands)


class Einsum(Function):
    # its gradients are einsums of the other operands; under create_graph xp.einsum is this
    # operator again and xp.asarray keeps Tensors in the graph
    differentiable_backward = True

    def __init__(self, terms, output) -> None:
        self.terms, self.output = terms, output

    def forward(self, *xs):
        self.save_for_backward(*xs)
        y = self.xp.einsum(",".join(self.terms) + "->" + self.output, *xs)
        return self.xp.asarray(y)

    def backward(self, gy):
        xs, xp = self.saved, self.xp
        grads = []
        for i, (term, x) in enumerate(zip(self.terms, xs)):
            if not self.needs_input_grad[i]:
                grads.append(None)
                continue
            plain = term.replace("...", "")
            if len(set(plain)) != len(plain):
                raise NotImplementedError(f"einsum: the gradient through a repeated index within one operand "
                                          f"({term!r}) is not implemented")
            others = [t for j, t in enumerate(self.terms) if j != i]
            present = set(self.output + "".join(others))
            kept = "".join(c for c in plain if c in present)
            ellipsis = "..." if "..." in term else ""
            target = (ellipsis + kept) if term.startswith("...") or not ellipsis else (kept + ellipsis)
            if ellipsis and not term.startswith("..."):
                raise NotImplementedError(f"einsum: the gradient needs the ellipsis first in {term!r}")
            spec = ",".join([self.output, *others]) + "->" + target
            g = xp.asarray(xp.einsum(spec, gy, *[xs[j] for j in range(len(xs)) if j != i]))
            if len(kept) != len(plain):  # letters summed inside this operand alone: broadcast back
                shape = list(x.shape[: x.ndim - len(plain)]) if ellipsis else []
                index = [slice(None)] * len(shape)
                full = []
                for c in plain:
                    full.append(slice(None) if c in present else None)
                g = g[tuple(index + full)]
                g = xp.broadcast_to(g, x.shape)
            grads.append(g if g.dtype == x.dtype else g.astype(x.dtype))
        return tuple(grads)


def masked_fill(x, mask, value):
    """``x`` with ``value`` where ``mask`` is true (mask broadcasts against x)."""
    from ..tensor import Tensor

    cond = mask.data if isinstance(mask, Tensor) else mask
    if getattr(cond, "dtype", None) is None or cond.dtype.kind != "b":
        raise TypeError(f"masked_fill: expected a bool mask, received {getattr(cond, 'dtype', type(cond).__name__)}")
    if isinstance(value, Tensor):
        if value.ndim:
            raise ValueError(f"masked_fill: value must be a number or a 0-d tensor, received shape {tuple(value.shape)}")
    return Where(cond).apply(value if isinstance(value, Tensor) else x.xp.asarray(value, x.dtype), x)


def floor_divide(a, b):
    """Division rounded down (no gradient), as torch.floor_divide and //."""
    from ..tensor import Tensor, as_tensor

    a_, b_ = (t if isinstance(t, Tensor) else as_tensor(t, like=(a if isinstance(a, Tensor) else b).data) for t in (a, b))
    return Tensor(a_.data // b_.data)


def remainder(a, b):
    """Remainder with the sign of the divisor (no gradient), as torch.remainder and %."""
    from ..tensor import Tensor, as_tensor

    a_, b_ = (t if isinstance(t, Tensor) else as_tensor(t, like=(a if isinstance(a, Tensor) else b).data) for t in (a, b))
    return Tensor(a_.data % b_.data)


def linear(x, weight, bias=None):
    """x @ weight.T + bias, with PyTorch's (out_features, in_features) weight layout."""
    return Linear().apply(x, weight) if bias is None else Linear().apply(x, weight, bias)


def cast(x, dtype):
    return Cast(dtype).apply(x)


def to_device(x, target):
    return ToDevice(target).apply(x)
