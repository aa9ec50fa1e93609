"""EfficientNet-Lite0 (Tan & Le 2019; the "lite" variant for mobile and edge devices).

The lite models drop squeeze-and-excitation, use ReLU6 and keep the stem and head fixed.
Mobile inverted bottleneck blocks: a 1x1 expansion, a depthwise 3x3 or 5x5 convolution
(``groups`` = channels), a 1x1 projection, each with batch norm, and a residual add where
the shape allows. Convolutions pad like TensorFlow's "SAME" (output = ceil(input /
stride), the odd pixel of padding at the bottom and right), which a file's symmetric
``pad`` cannot express, hence a module in code rather than an architecture file.

Module and parameter names follow the reference PyTorch port (efficientnet-lite-pytorch),
so its state dict loads as is; :func:`profondo.io.pretrained.efficientnet_lite0` builds it with
the ImageNet weights:

>>> from profondo.io.pretrained import efficientnet_lite0
>>> net = efficientnet_lite0()                       # or efficientnet_lite0(path="weights.pth")
"""

from __future__ import annotations

import importlib
import math
import os
import warnings
from pathlib import Path

import numpy as np

from .. import functional as F
from ..random import generator
from ..tensor import Tensor
from .activation import ReLU6
from .batchnorm import BatchNorm2d
from .container import ModuleList
from .conv import Conv2d
from .counts import LayerCounts, chain
from .dropout import Dropout
from .linear import Linear
from .module import Module, _shape
from .pooling import GlobalAvgPool2d

# (repeats, kernel, stride, expand ratio, input filters, output filters) of each stage, from
# the TensorFlow builder (efficientnet_lite_builder.py).
LITE0_STAGES = ((1, 3, 1, 1, 32, 16), (2, 3, 2, 6, 16, 24), (2, 5, 2, 6, 24, 40), (3, 3, 2, 6, 40, 80),
                (3, 5, 1, 6, 80, 112), (4, 5, 2, 6, 112, 192), (1, 3, 1, 6, 192, 320))
BN_EPS, BN_MOMENTUM = 1e-3, 0.01  # TensorFlow's decay 0.99 is PyTorch's momentum 0.01
MEAN, STD = 127.0, 128.0  # input normalisation of the lite checkpoints: (pixel - 127) / 128


def _same_pads(size: int, kernel: int, stride: int) -> tuple[int, int]:
    total = max((math.ceil(size / stride) - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


class Conv2dSame(Conv2d):
    """Conv2d with TensorFlow's "SAME" padding for the actual input size (no ``padding`` argument).

    >>> Conv2dSame(3, 32, 3, stride=2)(profondo.randn(1, 3, 224, 224)).shape   # ceil(224 / 2)
    (1, 32, 112, 112)
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, groups: int = 1,
                 bias: bool = True) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride, 0, 1, groups, bias)

    def forward(self, x):
        (top, bottom), (left, right) = (_same_pads(x.shape[2 + i], self.kernel_size[i], self.stride[i])
                                        for i in range(2))
        if (top, left) == (bottom, right):  # symmetric: the convolution pads by itself
            return F.conv2d(x, self.weight, self.bias, self.stride, (top, left), 1, self.groups)
        x = F.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)))
        return F.conv2d(x, self.weight, self.bias, self.stride, 0, 1, self.groups)

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        shape = _shape(input_shape, "Conv2dSame")
        if len(shape) != 3 or shape[0] != self.in_channels:
            raise ValueError(f"Conv2dSame({self.in_channels}, {self.out_channels}): expected a per-sample input "
                             f"({self.in_channels}, H, W), received {shape}")
        return (self.out_channels, math.ceil(shape[1] / self.stride[0]), math.ceil(shape[2] / self.stride[1]))


class MBConvBlock(Module):
    """Mobile inverted bottleneck: [1x1 expand, BN, ReLU6], depthwise conv, BN, ReLU6, 1x1 project,
    BN, and ``+ input`` when stride is 1 and the channels match. ``drop_rate`` is the drop-connect
    (stochastic depth) probability of the residual branch while training.

    >>> MBConvBlock(16, 24, 3, 2, 6)(profondo.randn(2, 16, 32, 32)).shape
    (2, 24, 16, 16)
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int, expand_ratio: int,
                 drop_rate: float = 0.0) -> None:
        super().__init__()
        self.in_channels, self.out_channels, self.kernel_size = in_channels, out_channels, kernel_size
        self.stride, self.expand_ratio, self.drop_rate = stride, expand_ratio, drop_rate
        mid = in_channels * expand_ratio
        if expand_ratio != 1:
            self._expand_conv = Conv2dSame(in_channels, mid, 1, bias=False)
            self._bn0 = BatchNorm2d(mid, BN_EPS, BN_MOMENTUM)
        self._depthwise_conv = Conv2dSame(mid, mid, kernel_size, stride, groups=mid, bias=False)
        self._bn1 = BatchNorm2d(mid, BN_EPS, BN_MOMENTUM)
        self._project_conv = Conv2dSame(mid, out_channels, 1, bias=False)
        self._bn2 = BatchNorm2d(out_channels, BN_EPS, BN_MOMENTUM)
        self._swish = ReLU6()  # the reference's name for the block's activation
        self.residual = stride == 1 and in_channels == out_channels

    def forward(self, inputs):
        x = inputs
        if self.expand_ratio != 1:
            x = self._swish(self._bn0(self._expand_conv(x)))
        x = self._swish(self._bn1(self._depthwise_conv(x)))
        x = self._bn2(self._project_conv(x))
        if not self.residual:
            return x
        if self.training and self.drop_rate:  # drop the whole branch of some samples, rescale the rest
            keep = 1.0 - self.drop_rate
            mask = np.floor(keep + generator().random((x.shape[0], 1, 1, 1))) / keep
            x = x * Tensor(x.xp.asarray(mask, dtype=x.dtype))
        return x + inputs

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        shape = self._depthwise_conv.output_shape((self.in_channels * self.expand_ratio,) + _shape(input_shape, "MBConvBlock")[1:])
        return (self.out_channels,) + shape[1:]

    def counts(self, input_shapes: list[tuple[int, ...]], output_shape: tuple[int, ...]) -> LayerCounts:
        expand = [self._expand_conv, self._bn0, self._swish] if self.expand_ratio != 1 else []
        layers = chain(expand + [self._depthwise_conv, self._bn1, self._swish, self._project_conv, self._bn2],
                       input_shapes[0])
        residual = math.prod(output_shape)
        return LayerCounts.total([layers, LayerCounts(residual, 2 * residual)] if self.residual else [layers])


class EfficientNetLite0(Module):
    """EfficientNet-Lite0: 4.65 M weights, 224x224 RGB input normalised as (pixel - 127) / 128.

    ``features(x)`` is the 1280-channel map before pooling; ``forward`` adds global average
    pooling, dropout and the ``_fc`` classifier. :func:`profondo.io.pretrained.efficientnet_lite0`
    loads ImageNet weights.

    >>> net = EfficientNetLite0(num_classes=10)
    >>> net(profondo.randn(2, 3, 224, 224)).shape
    (2, 10)
    """

    lacks = {"file_form": "its SAME-padded convolutions have no file form (see the module docstring)"}

    def __init__(self, num_classes: int = 1000, dropout: float = 0.2, drop_connect_rate: float = 0.2) -> None:
        super().__init__()
        self.num_classes, self.dropout, self.drop_connect_rate = num_classes, dropout, drop_connect_rate
        self._conv_stem = Conv2dSame(3, 32, 3, stride=2, bias=False)
        self._bn0 = BatchNorm2d(32, BN_EPS, BN_MOMENTUM)
        specs = [(cin if r == 0 else cout, cout, k, s if r == 0 else 1, e)
                 for repeats, k, s, e, cin, cout in LITE0_STAGES for r in range(repeats)]
        # The drop-connect rate grows linearly with depth, as in the reference.
        self._blocks = ModuleList(MBConvBlock(*spec, drop_rate=drop_connect_rate * i / len(specs))
                                  for i, spec in enumerate(specs))
        self._conv_head = Conv2dSame(320, 1280, 1, bias=False)
        self._bn1 = BatchNorm2d(1280, BN_EPS, BN_MOMENTUM)
        self._avg_pooling = GlobalAvgPool2d()
        self._dropout = Dropout(dropout)
        self._fc = Linear(1280, num_classes)
        self._swish = ReLU6()

    def features(self, x):
        """(N, 3, H, W) images -> (N, 1280, H/32, W/32) feature maps."""
        if x.ndim != 4 or x.shape[1] != 3:
            raise ValueError(f"EfficientNetLite0: expected images of shape (N, 3, H, W), received {tuple(x.shape)}")
        x = self._swish(self._bn0(self._conv_stem(x)))
        for block in self._blocks:
            x = block(x)
        return self._swish(self._bn1(self._conv_head(x)))

    def forward(self, x):
        return self._fc(self._dropout(self._avg_pooling(self.features(x))))

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        shape = _shape(input_shape, "EfficientNetLite0")
        if len(shape) != 3 or shape[0] != 3:
            raise ValueError(f"EfficientNetLite0: expected a per-sample input (3, H, W), received {shape}")
        return (self.num_classes,)

    def counts(self, input_shapes: list[tuple[int, ...]], output_shape: tuple[int, ...]) -> LayerCounts:
        return chain([self._conv_stem, self._bn0, self._swish, *self._blocks, self._conv_head, self._bn1, self._swish,
                      self._avg_pooling, self._dropout, self._fc], input_shapes[0])


def preprocess(images: np.ndarray, size: int = 224) -> np.ndarray:
    """uint8 or [0, 1] float images, (N, H, W, 3) or (N, 3, H, W) or grayscale (N, H, W) or
    (N, 1, H, W), -> float32 (N, 3, size, size) normalised for the lite checkpoints. Resizing is
    bilinear (align_corners=False, no antialiasing) in NumPy.

    >>> preprocess(np.zeros((2, 28, 28), np.uint8), 96).shape
    (2, 3, 96, 96)
    """
    x = np.asarray(images)
    scale = 1.0 if x.dtype == np.uint8 or x.max() > 1.0 else 255.0
    x = x.astype(np.float32) * np.float32(scale)
    if x.ndim == 3:
        x = x[:, None]
    elif x.ndim == 4 and x.shape[-1] in (1, 3) and x.shape[1] not in (1, 3):
        x = x.transpose(0, 3, 1, 2)
    if x.ndim != 4 or x.shape[1] not in (1, 3):
        raise ValueError(f"preprocess: expected images (N, H, W), (N, H, W, 3), (N, 1, H, W) or (N, 3, H, W), "
                         f"received shape {np.shape(images)}")
    x = _resize(x, size, size)
    if x.shape[1] == 1:
        x = np.repeat(x, 3, axis=1)
    return (x - np.float32(MEAN)) / np.float32(STD)


def _resize(x: np.ndarray, h: int, w: int) -> np.ndarray:
    """Bilinear resize of (N, C, H, W) with half-pixel centres (PyTorch's align_corners=False)."""
    def axis(n_in: int, n_out: int):
        pos = np.clip((np.arange(n_out) + 0.5) * (n_in / n_out) - 0.5, 0, n_in - 1)
        lo = np.floor(pos).astype(np.int64)
        hi = np.minimum(lo + 1, n_in - 1)
        return lo, hi, (pos - lo).astype(np.float32)

    (r0, r1, fr), (c0, c1, fc) = axis(x.shape[2], h), axis(x.shape[3], w)
    rows = x[:, :, r0] * (1 - fr)[:, None] + x[:, :, r1] * fr[:, None]
    return rows[..., c0] * (1 - fc) + rows[..., c1] * fc


# The loaders of published weights read files, so they live in profondo.io.pretrained (io sits above
# nn). These names stay importable from here for one release, with a DeprecationWarning.
_MOVED = {"efficientnet_lite0": "profondo.io.pretrained.efficientnet_lite0",
          "weights_path": "profondo.io.pretrained.weights_path"}


def _moved(name: str):
    warnings.warn(f"profondo.nn.efficientnet.{name} moved to {_MOVED[name]}; the old name will be removed",
                  DeprecationWarning, stacklevel=3)
    return getattr(importlib.import_module("profondo.io.pretrained"), name)


def efficientnet_lite0(pretrained: bool = True, path: str | os.PathLike | None = None) -> EfficientNetLite0:
    """Deprecated: :func:`profondo.io.pretrained.efficientnet_lite0` (same arguments, same result)."""
    return _moved("efficientnet_lite0")(pretrained, path)


def weights_path() -> Path:
    """Deprecated: :func:`profondo.io.pretrained.weights_path`."""
    return _moved("weights_path")()
