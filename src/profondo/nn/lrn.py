"""Local response normalisation across channels (AlexNet, CaffeNet), PyTorch's LocalResponseNorm."""

from __future__ import annotations

import math
from typing import Any

from .. import functional as F
from .counts import LayerCounts
from .module import Module, _shape
from .vocabulary import POSITIVE, Field, FileKind, SpecError, positive, real, single


def _lrn_from_file(p: dict[str, Any], shapes: list[tuple[int, ...]], at: str) -> list[tuple[str, Module]]:
    (shape,) = shapes
    if len(shape) < 2:
        raise SpecError(f"{at}: 'lrn' expects an input with channels first, [channels, ...], received {list(shape)}")
    return single(LocalResponseNorm(p["size"], p["alpha"], p["beta"], p["k"]))


LRN = FileKind("lrn", {
    "size": Field(positive, POSITIVE + " (neighbouring channels summed)", 5),
    "alpha": Field(real, "a number", 1e-4, True),
    "beta": Field(real, "a number", 0.75, True),
    "k": Field(real, "a number", 1.0, True)}, _lrn_from_file, bare_field="size", always_written=("size",))


class LocalResponseNorm(Module):
    """Normalise each element by the squares of the same position in ``size`` neighbouring channels:
    ``x / (k + alpha / size * sum x^2) ** beta`` over (N, C, ...) inputs, no parameters (PyTorch's
    ``nn.LocalResponseNorm``; CaffeNet's ``norm1``/``norm2`` with size 5).

    >>> LocalResponseNorm(5)(profondo.randn(2, 96, 27, 27)).shape
    (2, 96, 27, 27)
    """

    file_kinds = (LRN,)

    def __init__(self, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0) -> None:
        super().__init__()
        if not positive(size):
            raise ValueError(f"LocalResponseNorm: size must be a positive integer, received {size!r}")
        self.size, self.alpha, self.beta, self.k = int(size), float(alpha), float(beta), float(k)

    def forward(self, x):
        return F.local_response_norm(x, self.size, self.alpha, self.beta, self.k)

    def extra_repr(self) -> str:
        return f"{self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}"

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        shape = _shape(input_shape, "LocalResponseNorm")
        if len(shape) < 2:
            raise ValueError(f"LocalResponseNorm: expected a per-sample input (C, ...) of rank 2 or more, "
                             f"received {list(shape)}")
        return shape

    def counts(self, input_shapes: list[tuple[int, ...]], output_shape: tuple[int, ...]) -> LayerCounts:
        # no new neurons; each element sums the squares of `size` channels: one multiply-add each
        return LayerCounts(0, macs=self.size * math.prod(output_shape))

    def file_entry(self, input_shapes: list[tuple[int, ...]], at: str) -> tuple[str, dict[str, Any]]:
        return "lrn", {"size": self.size, "alpha": self.alpha, "beta": self.beta, "k": self.k}
