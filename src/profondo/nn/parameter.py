"""Parameter: a Tensor that a Module registers as learnable."""

from __future__ import annotations

import numpy as np

from ..tensor import Tensor


class Parameter(Tensor):
    """A leaf tensor with ``requires_grad=True`` that modules collect in ``parameters()``.

    >>> w = Parameter(np.zeros((3, 2), np.float32))
    >>> w.requires_grad
    True
    """

    __slots__ = ()

    def __init__(self, data, requires_grad: bool = True) -> None:
        if isinstance(data, Tensor):
            data = data.data
        elif not hasattr(data, "dtype"):  # lists and Python scalars become float32, the default dtype
            data = np.asarray(data, dtype=np.float32)
        if requires_grad and data.dtype.kind != "f":
            raise TypeError(f"Parameter: requires_grad=True needs a floating dtype, received {data.dtype}")
        super().__init__(data, requires_grad)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()
