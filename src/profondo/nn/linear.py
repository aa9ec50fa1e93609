"""Linear: the fully connected layer y = x W^T + b."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import functional as F
from . import init as _init
from .activation import ACTIVATION_FIELD, with_activation
from .conv import INIT_FIELD
from .counts import LayerCounts, windowed
from .flatten import Flatten
from .module import Module, _shape
from .parameter import Parameter
from .vocabulary import BIAS, POSITIVE, Field, FileKind, SpecError, positive


def _dense_from_file(p: dict[str, Any], shapes: list[tuple[int, ...]], at: str) -> list[tuple[str, Module]]:
    """A dense layer reads its whole input: after a volume or a sequence it starts with a Flatten."""
    (shape,) = shapes
    flatten = [("flatten", Flatten())] if len(shape) > 1 else []
    dense = Linear(math.prod(shape), p["units"], p["bias"], p["init"])
    return flatten + with_activation(dense, p["activation"])


DENSE = FileKind("dense", {"units": Field(positive, POSITIVE), "activation": ACTIVATION_FIELD, "bias": BIAS,
                           "init": INIT_FIELD}, _dense_from_file)


class Linear(Module):
    """Fully connected layer with a weight of shape (out_features, in_features), as PyTorch.

    ``init`` picks the initialisation: None (PyTorch's default), "he_normal", "glorot_uniform", ...

    >>> Linear(784, 10, init="he_normal")(profondo.randn(32, 784)).shape
    (32, 10)
    """

    file_kinds = (DENSE,)

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

    def counts(self, input_shapes: list[tuple[int, ...]], output_shape: tuple[int, ...]) -> LayerCounts:
        return windowed(output_shape, self.in_features, weighted=True)  # inputs x outputs

    def file_entry(self, input_shapes: list[tuple[int, ...]], at: str) -> tuple[str, dict[str, Any]]:
        (shape,) = input_shapes
        if len(shape) != 1 or shape[0] != self.in_features:
            raise SpecError(f"{at}: in_features={self.in_features} but the layer receives {list(shape)} (a file's "
                            "dense layer flattens its input first)")
        return "dense", {"units": self.out_features, "bias": self.bias is not None, "init": self.init}
