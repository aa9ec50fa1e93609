"""Pooling layers: MaxPool2d, AvgPool2d, GlobalAvgPool2d and AdaptiveAvgPool2d over (N, C, H, W) volumes."""

from __future__ import annotations

import math
from typing import Any

from .. import functional as F
from .conv import _pair
from .counts import LayerCounts, windowed
from .module import Module, _shape
from .vocabulary import (
    PAD,
    ROUND,
    SIZE,
    Field,
    FileKind,
    SpecError,
    as_argument,
    expect_volume,
    non_negative,
    one_of,
    optional,
    pair,
    pair_of,
    positive,
    rounding,
    short,
    single,
    size_rule,
)


def _pool_from_file(p: dict[str, Any], shapes: list[tuple[int, ...]], at: str) -> list[tuple[str, Module]]:
    (shape,) = shapes
    expect_volume("pool", shape, at)
    stride = p["size"] if p["stride"] is None else p["stride"]
    k, s, pad = pair(p["size"]), pair(stride), pair(p["pad"])
    if pad[0] > k[0] // 2 or pad[1] > k[1] // 2:
        raise SpecError(f"{at}: field 'pad' expected at most half the size ({p['size']}), received {p['pad']}")
    for i, axis in enumerate("HW"):
        size_rule(at, axis, shape[1 + i], k[i], s[i], pad[i], 1, p["round"])
    pool = MaxPool2d if p["type"] == "max" else AvgPool2d
    return single(pool(as_argument(p["size"]), as_argument(stride), as_argument(p["pad"])))


# A pool always says its type, as the files in DESIGN.md do.
POOL = FileKind("pool", {
    "type": Field(one_of("max", "avg"), "max or avg", "max"), "size": Field(pair_of(positive), SIZE),
    "stride": Field(optional(pair_of(positive)), f"null (= size) or {SIZE}", None),
    "pad": Field(pair_of(non_negative), PAD, 0), "round": ROUND}, _pool_from_file, always_written=("type",))


def _global_pool_from_file(p: dict[str, Any], shapes: list[tuple[int, ...]], at: str) -> list[tuple[str, Module]]:
    expect_volume("global_pool", shapes[0], at)
    return single(GlobalAvgPool2d())


def _as_given(value, name: str, where: str):
    """An int stays an int (PyTorch's repr), a pair becomes a tuple."""
    return value if isinstance(value, int) else _pair(value, name, where)


class _Pool2d(Module):
    _fn = None
    _file_type = ""  # the `type` field of the file's pool layer

    def __init__(self, kernel_size, stride=None, padding=0) -> None:
        super().__init__()
        where = type(self).__name__
        self.kernel_size = _as_given(kernel_size, "kernel_size", where)
        self.stride = self.kernel_size if stride is None else _as_given(stride, "stride", where)
        self.padding = _as_given(padding, "padding", where)
        k, s, p = (_pair(v, n, where) for v, n in ((self.kernel_size, "kernel_size"), (self.stride, "stride"),
                                                   (self.padding, "padding")))
        if min(k + s) < 1 or min(p) < 0 or p[0] > k[0] // 2 or p[1] > k[1] // 2:
            raise ValueError(f"{where}: kernel_size and stride must be >= 1 and padding between 0 and half the "
                             f"kernel, received kernel_size={self.kernel_size}, stride={self.stride}, "
                             f"padding={self.padding}")
        self._k, self._s, self._p = k, s, p

    def forward(self, x):
        return type(self)._fn(x, self.kernel_size, self.stride, self.padding)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        where = type(self).__name__
        shape = _shape(input_shape, where)
        if len(shape) != 3:
            raise ValueError(f"{where}: expected a per-sample input (C, H, W), received {shape}")
        return (shape[0],) + tuple(F.output_size(shape[1 + i], self._k[i], self._s[i], self._p[i], where=where,
                                                 axis="HW"[i]) for i in range(2))

    def counts(self, input_shapes: list[tuple[int, ...]], output_shape: tuple[int, ...]) -> LayerCounts:
        return windowed(output_shape, self._k[0] * self._k[1], weighted=False)

    def file_entry(self, input_shapes: list[tuple[int, ...]], at: str) -> tuple[str, dict[str, Any]]:
        fields = {"type": self._file_type, "size": short(self.kernel_size), "pad": short(self.padding),
                  "round": rounding(input_shapes[0], self.kernel_size, self.stride, self.padding)}
        # the stride is written only where it differs from the size (the file's default)
        fields["stride"] = None if pair(self.stride) == pair(self.kernel_size) else short(self.stride)
        return "pool", fields


class MaxPool2d(_Pool2d):
    """Maximum over each window; the stride defaults to the kernel size.

    >>> MaxPool2d(2)(profondo.randn(1, 16, 32, 32)).shape
    (1, 16, 16, 16)
    """

    _fn = staticmethod(F.max_pool2d)
    _file_type = "max"
    file_kinds = (POOL,)


class AvgPool2d(_Pool2d):
    """Mean over each window (padded zeros counted, as PyTorch's default).

    >>> AvgPool2d(3, stride=1, padding=1)(profondo.randn(1, 4, 8, 8)).shape
    (1, 4, 8, 8)
    """

    _fn = staticmethod(F.avg_pool2d)
    _file_type = "avg"
    file_kinds = (POOL,)


class GlobalAvgPool2d(Module):
    """Mean over H and W: (N, C, H, W) -> (N, C).

    >>> GlobalAvgPool2d()(profondo.randn(2, 8, 5, 5)).shape
    (2, 8)
    """

    file_kinds = (FileKind("global_pool", {"type": Field(one_of("avg"), "avg", "avg")}, _global_pool_from_file),)

    def forward(self, x):
        return F.global_avg_pool2d(x)

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        shape = _shape(input_shape, "GlobalAvgPool2d")
        if len(shape) != 3:
            raise ValueError(f"GlobalAvgPool2d: expected a per-sample input (C, H, W), received {shape}")
        return shape[:1]

    def counts(self, input_shapes: list[tuple[int, ...]], output_shape: tuple[int, ...]) -> LayerCounts:
        return LayerCounts(math.prod(output_shape), math.prod(input_shapes[0]))  # each channel reads its whole map

    def file_entry(self, input_shapes: list[tuple[int, ...]], at: str) -> tuple[str, dict[str, Any]]:
        return "global_pool", {"type": "avg"}


class AdaptiveAvgPool2d(Module):
    """Mean over the windows that cut H x W into ``output_size`` cells, as PyTorch's; the usual
    ``AdaptiveAvgPool2d(1)`` (or ``(1, 1)``) gives (N, C, 1, 1) before a Flatten.

    >>> AdaptiveAvgPool2d((1, 1))(profondo.randn(2, 8, 5, 5)).shape
    (2, 8, 1, 1)
    """

    lacks = {"file_form": "the architecture files pool by window size (pool) or over the whole map (global_pool); "
                          "an output-size pooling depends on the input size"}

    def __init__(self, output_size) -> None:
        super().__init__()
        self.output_size = output_size if isinstance(output_size, int) or output_size is None else tuple(output_size)

    def _cells(self, h: int, w: int) -> tuple[int, int]:
        size = (self.output_size,) * 2 if not isinstance(self.output_size, tuple) else self.output_size
        return (size[0] or h, size[1] or w)

    def forward(self, x):
        return F.adaptive_avg_pool2d(x, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        shape = _shape(input_shape, "AdaptiveAvgPool2d")
        if len(shape) != 3:
            raise ValueError(f"AdaptiveAvgPool2d: expected a per-sample input (C, H, W), received {shape}")
        return (shape[0], *self._cells(*shape[1:]))

    def counts(self, input_shapes: list[tuple[int, ...]], output_shape: tuple[int, ...]) -> LayerCounts:
        # each output cell reads its window; the windows tile the map (overlapping by at most one row)
        c, h, w = input_shapes[0]
        oh, ow = self._cells(h, w)
        window = sum(b - a for a, b in F.pooling._adaptive_bounds(h, oh)) * sum(
            b - a for a, b in F.pooling._adaptive_bounds(w, ow))
        return LayerCounts(math.prod(output_shape), c * window)
