"""Flatten: merge a range of axes into one (the bridge from convolutions to dense layers)."""

from __future__ import annotations

import math
from typing import Any

from .. import functional as F
from .counts import LayerCounts
from .module import Module, _shape
from .vocabulary import FileKind, SpecError, single


class Flatten(Module):
    """Merge axes ``start_dim``..``end_dim`` (the batch axis 0 kept by default).

    >>> Flatten()(profondo.randn(8, 16, 5, 5)).shape
    (8, 400)
    """

    file_kinds = (FileKind("flatten", {}, lambda p, shapes, at: single(Flatten())),)

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim, self.end_dim = int(start_dim), int(end_dim)

    def forward(self, x):
        return F.flatten(x, self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        full = (1,) + _shape(input_shape, "Flatten")  # the axes count the batch
        n = len(full)
        s, e = self.start_dim, self.end_dim
        if not (-n <= s < n and -n <= e < n) or s % n > e % n or s % n == 0:
            raise ValueError(f"Flatten(start_dim={s}, end_dim={e}): needs 1 <= start_dim <= end_dim within the "
                             f"{n} axes of a batch of per-sample shape {full[1:]} (the batch axis is kept)")
        s, e = s % n, e % n
        return full[1:s] + (math.prod(full[s:e + 1]),) + full[e + 1:]

    def counts(self, input_shapes: list[tuple[int, ...]], output_shape: tuple[int, ...]) -> LayerCounts:
        return LayerCounts(0, view=True)  # a reshape of neurons that exist

    def file_entry(self, input_shapes: list[tuple[int, ...]], at: str) -> tuple[str, dict[str, Any]]:
        (shape,) = input_shapes
        if (self.start_dim, self.end_dim % (len(shape) + 1)) != (1, len(shape)):
            raise SpecError(f"{at}: only Flatten() (start_dim=1, end_dim=-1) has a file form")
        return "flatten", {}
