"""Pooling layers: MaxPool2d, AvgPool2d and GlobalAvgPool2d over (N, C, H, W) volumes."""

from __future__ import annotations

from .. import functional as F
from .conv import _pair
from .module import Module, _shape


def _as_given(value, name: str, where: str):
    """An int stays an int (PyTorch's repr), a pair becomes a tuple."""
    return value if isinstance(value, int) else _pair(value, name, where)


class _Pool2d(Module):
    _fn = None

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


class MaxPool2d(_Pool2d):
    """Maximum over each window; the stride defaults to the kernel size.

    >>> MaxPool2d(2)(profondo.randn(1, 16, 32, 32)).shape
    (1, 16, 16, 16)
    """

    _fn = staticmethod(F.max_pool2d)


class AvgPool2d(_Pool2d):
    """Mean over each window (padded zeros counted, as PyTorch's default).

    >>> AvgPool2d(3, stride=1, padding=1)(profondo.randn(1, 4, 8, 8)).shape
    (1, 4, 8, 8)
    """

    _fn = staticmethod(F.avg_pool2d)


class GlobalAvgPool2d(Module):
    """Mean over H and W: (N, C, H, W) -> (N, C).

    >>> GlobalAvgPool2d()(profondo.randn(2, 8, 5, 5)).shape
    (2, 8)
    """

    def forward(self, x):
        return F.global_avg_pool2d(x)

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        shape = _shape(input_shape, "GlobalAvgPool2d")
        if len(shape) != 3:
            raise ValueError(f"GlobalAvgPool2d: expected a per-sample input (C, H, W), received {shape}")
        return shape[:1]
