"""Linear: the fully connected layer y = x W^T + b."""

from __future__ import annotations

import numpy as np

from .. import functional as F
from . import init as _init
from .module import Module, _shape
from .parameter import Parameter


class Linear(Module):
    """Fully connected layer with a weight of shape (out_features, in_features), as PyTorch.

    ``init`` picks the initialisation: None (PyTorch's default), "he_normal", "glorot_uniform", ...

    >>> Linear(784, 10, init="he_normal")(profondo.randn(32, 784)).shape
    (32, 10)
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, init: str | None = None) -> None:
        super().__init__()
        _init.check_scheme(init, "Linear")
        self.in_features, self.out_features, self.init = int(in_features), int(out_features), init
        self.weight = Parameter(np.empty((self.out_features, self.in_features), np.float32))
        if bias:
            self.bias = Parameter(np.empty(self.out_features, np.float32))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Draw fresh weights with this layer's ``init`` scheme."""
        _init.initialize_(self.weight, self.bias, self.init)

    def forward(self, x):
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        s = f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"
        return s + (f", init={self.init!r}" if self.init else "")

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        shape = _shape(input_shape, "Linear")
        if not shape or shape[-1] != self.in_features:
            raise ValueError(f"Linear({self.in_features}, {self.out_features}): expected a per-sample input whose "
                             f"last axis has {self.in_features} features, received shape {shape}")
        return shape[:-1] + (self.out_features,)
