"""Conv2d: 2-D convolution over (N, C, H, W) volumes with shared filters."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import functional as F
from . import init as _init
from .activation import ACTIVATION_FIELD, with_activation
from .counts import LayerCounts, windowed
from .module import Module, _shape
from .parameter import Parameter
from .vocabulary import (
    BIAS,
    PAD,
    POSITIVE,
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
    size_rule,
)

INIT_FIELD = Field(optional(one_of(*_init.SCHEMES)),
                   f"null (PyTorch's default) or one of {', '.join(_init.SCHEMES)}", None)


def _conv_from_file(p: dict[str, Any], shapes: list[tuple[int, ...]], at: str) -> list[tuple[str, Module]]:
    (shape,) = shapes
    expect_volume("conv", shape, at)
    channels, groups = shape[0], p["groups"]
    if channels % groups or p["filters"] % groups:
        raise SpecError(f"{at}: field 'groups' expected a divisor of the input depth ({channels}) and of "
                        f"filters ({p['filters']}), received {groups}")
    k, s, pad, d = (pair(p[f]) for f in ("size", "stride", "pad", "dilation"))
    for i, axis in enumerate("HW"):
        size_rule(at, axis, shape[1 + i], k[i], s[i], pad[i], d[i], p["round"])
    conv = Conv2d(channels, p["filters"], as_argument(p["size"]), as_argument(p["stride"]), as_argument(p["pad"]),
                  as_argument(p["dilation"]), groups, p["bias"], p["init"])
    return with_activation(conv, p["activation"])


CONV = FileKind("conv", {
    "filters": Field(positive, POSITIVE), "size": Field(pair_of(positive), SIZE),
    "stride": Field(pair_of(positive), SIZE, 1), "pad": Field(pair_of(non_negative), PAD, 0),
    "dilation": Field(pair_of(positive), SIZE, 1), "groups": Field(positive, POSITIVE, 1), "bias": BIAS,
    "activation": ACTIVATION_FIELD, "init": INIT_FIELD, "round": ROUND}, _conv_from_file)


def _pair(value, name: str, where: str) -> tuple[int, int]:
    pair = (value, value) if isinstance(value, int) else tuple(value)
    if len(pair) != 2 or not all(isinstance(v, (int, np.integer)) for v in pair):
        raise ValueError(f"{where}: {name} must be an int or a pair of ints, received {value!r}")
    return int(pair[0]), int(pair[1])


def _padding(padding, kernel, stride, dilation, where: str):
    """PyTorch's padding="valid" (none) and "same" (the output keeps the input's size)."""
    if not isinstance(padding, str):
        return padding
    if padding == "valid":
        return 0
    if padding != "same":
        raise ValueError(f"{where}: padding must be an int, a pair, 'same' or 'valid', received {padding!r}")
    if stride != (1, 1):
        raise ValueError(f"{where}: padding='same' is not supported for strided convolutions (stride={stride}), "
                         "as in PyTorch")
    total = [d * (k - 1) for k, d in zip(kernel, dilation)]
    if any(t % 2 for t in total):
        raise NotImplementedError(f"{where}: padding='same' with kernel_size={kernel}, dilation={dilation} pads "
                                  "unevenly (PyTorch adds the extra row/column at the end); pad explicitly with "
                                  "F.pad and use padding=0")
    return tuple(t // 2 for t in total)


class Conv2d(Module):
    """Convolution with ``out_channels`` filters of shape (in_channels/groups, KH, KW), as PyTorch.

    >>> conv = Conv2d(3, 16, 5, padding=2, init="he_normal")
    >>> conv(profondo.randn(8, 3, 32, 32)).shape     # (32 - 5 + 2*2)/1 + 1 = 32
    (8, 16, 32, 32)
    """

    file_kinds = (CONV,)

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, dilation=1,
                 groups: int = 1, bias: bool = True, init: str | None = None) -> None:
        super().__init__()
        where = f"Conv2d({in_channels}, {out_channels})"
        _init.check_scheme(init, where)
        self.kernel_size = _pair(kernel_size, "kernel_size", where)
        self.stride = _pair(stride, "stride", where)
        self.dilation = _pair(dilation, "dilation", where)
        self.padding = _pair(_padding(padding, self.kernel_size, self.stride, self.dilation, where), "padding", where)
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

    def counts(self, input_shapes: list[tuple[int, ...]], output_shape: tuple[int, ...]) -> LayerCounts:
        # each output element reads an F x F x (input depth / groups) window, padding included
        return windowed(output_shape, self.kernel_size[0] * self.kernel_size[1] * self.in_channels // self.groups,
                        weighted=True)

    def file_entry(self, input_shapes: list[tuple[int, ...]], at: str) -> tuple[str, dict[str, Any]]:
        (shape,) = input_shapes
        if len(shape) != 3 or shape[0] != self.in_channels:
            raise SpecError(f"{at}: in_channels={self.in_channels} but the layer receives {list(shape)}")
        return "conv", {"filters": self.out_channels, "size": short(self.kernel_size), "stride": short(self.stride),
                        "pad": short(self.padding), "dilation": short(self.dilation), "groups": self.groups,
                        "bias": self.bias is not None, "init": self.init,
                        "round": rounding(shape, self.kernel_size, self.stride, self.padding, self.dilation)}
