"""The ``xp`` an operator's backward sees when the engine records it (``create_graph=True``).

Backward bodies call ``self.xp.exp``, ``self.xp.where``, ``self.xp.broadcast_to``... on the
first-order path ``self.xp`` is NumPy or CuPy and these run on arrays; while the engine
records a backward it is this namespace, whose functions are the differentiable operators of
``profondo.functional`` with the array module's names and arguments. Functions that build
constants (``zeros``, ``ones``, ``eye``, ``arange``...) come from the array module itself.
A name with no differentiable counterpart here is an AttributeError naming the operator to
write, never a silent constant.
"""

from __future__ import annotations

import numpy as np

from .. import functional as F
from ..tensor import Tensor

# Array-module functions whose results are constants (shapes, masks, indices): passed through.
_CONSTANT = frozenset({"zeros", "ones", "empty", "full", "eye", "arange", "indices", "zeros_like", "ones_like",
                       "empty_like", "full_like", "float32", "float64", "bool_", "int64", "int32", "ndarray",
                       "isfinite", "inf", "dtype", "result_type", "argsort"})


def _unwrap(x):
    return x.data if isinstance(x, Tensor) else x


class _GraphXP:
    """Differentiable stand-ins for the array functions that backward bodies use."""

    def __init__(self, array_module) -> None:
        self.array = array_module  # the real NumPy / CuPy, for constants

    def __getattr__(self, name):
        if name in _CONSTANT:
            return getattr(self.array, name)
        raise AttributeError(f"xp.{name} has no differentiable counterpart for create_graph=True: write this part of "
                             "the backward with profondo operators, or give the operator a composite()")

    # --- element-wise ------------------------------------------------------------------------
    exp = staticmethod(F.exp)
    log = staticmethod(F.log)
    sqrt = staticmethod(F.sqrt)
    tanh = staticmethod(F.tanh)
    abs = staticmethod(F.abs)
    maximum = staticmethod(F.maximum)
    minimum = staticmethod(F.minimum)

    @staticmethod
    def where(condition, a, b):
        return F.where(_unwrap(condition), a, b)

    def sign(self, x):  # piecewise constant: its derivative is zero wherever it exists
        return Tensor(self.array.sign(_unwrap(x)))

    def clip(self, x, low, high):
        return F.clip(x, low, high)

    def log1p(self, x):
        return F.log(x + 1)

    # --- constants or Tensors ----------------------------------------------------------------
    # On an array these build constants; on a Tensor they stay in the graph (NumPy would turn a
    # Tensor into an array through __array__, a silent constant).
    def asarray(self, a, dtype=None):
        if isinstance(a, Tensor):
            return a if dtype is None else a.astype(dtype)
        return self.array.asarray(a, dtype=dtype)

    def cumsum(self, a, axis=None, dtype=None):
        if isinstance(a, Tensor):
            if axis is None:
                a, axis = F.reshape(a, (-1,)), 0
            return F.cumsum(a if dtype is None else a.astype(dtype), axis)
        return self.array.cumsum(a, axis=axis, dtype=dtype)

    # --- products ------------------------------------------------------------------------------
    @staticmethod
    def einsum(equation, *operands):
        return F.einsum(equation, *operands)

    # --- shape -------------------------------------------------------------------------------
    @staticmethod
    def broadcast_to(x, shape):
        return F.broadcast_to(x, shape)

    @staticmethod
    def expand_dims(x, axis):
        return F.unsqueeze(x, axis)

    @staticmethod
    def swapaxes(x, a, b):
        return F.transpose(x, a, b)

    @staticmethod
    def moveaxis(x, source, destination):
        order = [i for i in range(x.ndim) if i != source % x.ndim]
        order.insert(destination % x.ndim, source % x.ndim)
        return F.permute(x, order)

    @staticmethod
    def flip(x, axis=None):
        """Reversed slices: indexing, whose gradient is differentiable again."""
        axes = range(x.ndim) if axis is None else ((axis,) if isinstance(axis, int) else axis)
        axes = {a % x.ndim for a in axes}
        return x[tuple(slice(None, None, -1) if i in axes else slice(None) for i in range(x.ndim))]

    @staticmethod
    def concatenate(xs, axis=0):
        return F.concat(list(xs), axis)

    @staticmethod
    def stack(xs, axis=0):
        return F.stack(list(xs), axis)

    @staticmethod
    def split(x, cuts, axis=0):
        bounds = [0, *(int(c) for c in cuts), x.shape[axis]]
        return F.split(x, [b - a for a, b in zip(bounds, bounds[1:])], axis)


def namespace(array_module) -> _GraphXP:
    return _NAMESPACES.get(array_module) or _NAMESPACES.setdefault(array_module, _GraphXP(array_module))


_NAMESPACES: dict = {np: _GraphXP(np)}
