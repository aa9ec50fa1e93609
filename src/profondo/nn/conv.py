"""Conv2d: 2-D convolution over (N, C, H, W) volumes with shared filters."""

from __future__ import annotations

import numpy as np

from .. import functional as F
from . import init as _init
from .module import Module, _shape
from .parameter import Parameter


def _pair(value, name: str, where: str) -> tuple[int, int]:
    pair = (value, value) if isinstance(value, int) else tuple(value)
    if len(pair) != 2 or not all(isinstance(v, (int, np.integer)) for v in pair):
        raise ValueError(f"{where}: {name} must be an int or a pair of ints, received {value!r}")
    return int(pair[0]), int(pair[1])


class Conv2d(Module):
    """Convolution with ``out_channels`` filters of shape (in_channels/groups, KH, KW), as PyTorch.

    >>> conv = Conv2d(3, 16, 5, padding=2, init="he_normal")
    >>> conv(profondo.randn(8, 3, 32, 32)).shape     # (32 - 5 + 2*2)/1 + 1 = 32
    (8, 16, 32, 32)
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, dilation=1,
                 groups: int = 1, bias: bool = True, init: str | None = None) -> None:
        super().__init__()
        where = f"Conv2d({in_channels}, {out_channels})"
        _init.check_scheme(init, where)
        self.kernel_size = _pair(kernel_size, "kernel_size", where)
        self.stride = _pair(stride, "stride", where)
        self.padding = _pair(padding, "padding", where)
        self.dilation = _pair(dilation, "dilation", where)
        if min(self.kernel_size + self.stride + self.dilation) < 1 or min(self.padding) < 0:
            raise ValueError(f"{where}: kernel_size, stride and dilation must be >= 1 and padding >= 0, received "
                             f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                             f"dilation={self.dilation}")
        if groups < 1 or in_channels % groups or out_channels % groups:
            raise ValueError(f"{where}: groups={groups} must divide both in_channels ({in_channels}) and "
                             f"out_channels ({out_channels})")
        self.in_channels, self.out_channels, self.groups, self.init = int(in_channels), int(out_channels), int(groups), init
        self.weight = Parameter(np.empty((self.out_channels, self.in_channels // groups, *self.kernel_size), np.float32))
        if bias:
            self.bias = Parameter(np.empty(self.out_channels, np.float32))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Draw fresh weights with this layer's ``init`` scheme."""
        _init.initialize_(self.weight, self.bias, self.init)

    def forward(self, x):
        return F.conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)

    def extra_repr(self) -> str:
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0, 0):
            s += f", padding={self.padding}"
        if self.dilation != (1, 1):
            s += f", dilation={self.dilation}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        return s + (f", init={self.init!r}" if self.init else "")

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        shape = _shape(input_shape, "Conv2d")
        if len(shape) != 3 or shape[0] != self.in_channels:
            raise ValueError(f"Conv2d({self.in_channels}, {self.out_channels}): expected a per-sample input "
                             f"({self.in_channels}, H, W), received {shape}")
        return (self.out_channels,) + tuple(
            F.output_size(shape[1 + i], self.kernel_size[i], self.stride[i], self.padding[i], self.dilation[i],
                          where="Conv2d", axis="HW"[i]) for i in range(2))
