"""Upsample: grow the H and W of an (N, C, H, W) volume (nearest neighbour), the decoder's layer."""

from __future__ import annotations

import math
from typing import Any

from .. import functional as F
from .counts import LayerCounts
from .module import Module, _shape
from .vocabulary import Field, FileKind, SpecError, as_argument, expect_volume, pair, pair_of, positive, short, single


def _upsample_from_file(p: dict[str, Any], shapes: list[tuple[int, ...]], at: str) -> list[tuple[str, Module]]:
    expect_volume("upsample", shapes[0], at)
    return single(Upsample(scale_factor=as_argument(p["scale"])))


class Upsample(Module):
    """Resize H and W to ``size`` or by ``scale_factor`` (exactly one), as PyTorch's ``nn.Upsample``;
    only ``mode="nearest"``. In an architecture file: ``- upsample: 2`` (or ``{scale: [2, 3]}``).

    >>> Upsample(scale_factor=2)(profondo.randn(1, 8, 7, 7)).shape
    (1, 8, 14, 14)
    """

    file_kinds = (FileKind("upsample", {"scale": Field(pair_of(positive), "a positive integer or [height, width]: "
                                                                           "the factor of each axis", 2)},
                           _upsample_from_file, bare_field="scale", always_written=("scale",)),)

    def __init__(self, size=None, scale_factor=None, mode: str = "nearest") -> None:
        super().__init__()
        if mode != "nearest":
            raise NotImplementedError(f"Upsample: mode {mode!r} is not implemented; only 'nearest' is")
        if (size is None) == (scale_factor is None):
            raise ValueError(f"Upsample: expected exactly one of size and scale_factor, received size={size!r}, "
                             f"scale_factor={scale_factor!r}")
        self.size = size if size is None or isinstance(size, int) else tuple(int(s) for s in size)
        self.scale_factor = (scale_factor if scale_factor is None or isinstance(scale_factor, (int, float))
                             else tuple(scale_factor))
        self.mode = mode

    def forward(self, x):
        return F.interpolate(x, self.size, self.scale_factor, self.mode)

    def extra_repr(self) -> str:
        given = f"size={self.size}" if self.size is not None else f"scale_factor={self.scale_factor}"
        return f"{given}, mode={self.mode!r}"

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        shape = _shape(input_shape, "Upsample")
        if len(shape) != 3:
            raise ValueError(f"Upsample: expected a per-sample input (C, H, W), received {shape}")
        if self.size is not None:
            return (shape[0], *pair(self.size))
        factors = self.scale_factor if isinstance(self.scale_factor, tuple) else (self.scale_factor,) * 2
        return (shape[0], math.floor(shape[1] * factors[0]), math.floor(shape[2] * factors[1]))

    def counts(self, input_shapes: list[tuple[int, ...]], output_shape: tuple[int, ...]) -> LayerCounts:
        outputs = math.prod(output_shape)
        return LayerCounts(outputs, outputs)  # each output neuron copies one input neuron: no arithmetic

    def file_entry(self, input_shapes: list[tuple[int, ...]], at: str) -> tuple[str, dict[str, Any]]:
        factors = self.scale_factor if isinstance(self.scale_factor, tuple) else (self.scale_factor,) * 2
        if self.size is not None or not all(float(f).is_integer() and f >= 1 for f in factors):
            raise SpecError(f"{at}: only Upsample(scale_factor=<positive integer or pair>) has a file form "
                            f"(`upsample: {{scale: 2}}`), received {self.extra_repr()}")
        return "upsample", {"scale": short(tuple(int(f) for f in factors))}
