"""Batch normalisation layers with PyTorch's parameters, buffers and state-dict keys."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import functional as F
from .counts import LayerCounts
from .module import Module, _shape
from .parameter import Parameter
from .vocabulary import BOOLEAN, Field, FileKind, SpecError, boolean, number_in, single


def _batchnorm_from_file(p: dict[str, Any], shapes: list[tuple[int, ...]], at: str) -> list[tuple[str, Module]]:
    (shape,) = shapes
    if len(shape) not in (1, 2, 3):
        raise SpecError(f"{at}: 'batchnorm' expects [features], [channels, length] or [channels, height, "
                        f"width], received {list(shape)}")
    norm = BatchNorm2d if len(shape) == 3 else BatchNorm1d
    return single(norm(shape[0], p["eps"], p["momentum"], p["affine"]))


BATCHNORM = FileKind("batchnorm", {
    "eps": Field(number_in(0, low_open=True), "a positive number", 1e-5, True),
    "momentum": Field(number_in(0, 1), "a number in [0, 1]", 0.1, True),
    "affine": Field(boolean, BOOLEAN, True)}, _batchnorm_from_file)


class _BatchNorm(Module):
    _sample_ndims: tuple[int, ...] = ()
    _layout = _sample_layout = ""

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,
                 track_running_stats: bool = True) -> None:
        super().__init__()
        self.num_features, self.eps, self.momentum = int(num_features), float(eps), momentum
        self.affine, self.track_running_stats = bool(affine), bool(track_running_stats)
        if affine:
            self.weight = Parameter(np.ones(self.num_features, np.float32))
            self.bias = Parameter(np.zeros(self.num_features, np.float32))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if track_running_stats:
            self.register_buffer("running_mean", np.zeros(self.num_features, np.float32))
            self.register_buffer("running_var", np.ones(self.num_features, np.float32))
            self.register_buffer("num_batches_tracked", np.zeros((), np.int64))
        else:
            self.running_mean = self.running_var = self.num_batches_tracked = None
        # Set by fine-tuning when the layer is frozen: normalise with the running statistics
        # and never update them, even in train() mode.
        self.frozen_stats = False

    def reset_running_stats(self) -> None:
        if self.track_running_stats:
            self.running_mean.data[...] = 0
            self.running_var.data[...] = 1
            self.num_batches_tracked.data[...] = 0

    def forward(self, x):
        if x.ndim - 1 not in self._sample_ndims or x.shape[1] != self.num_features:
            raise ValueError(f"{type(self).__name__}({self.num_features}): expected input of shape {self._layout}"
                             f" with C = {self.num_features}, received {tuple(x.shape)}")
        training = self.training and not self.frozen_stats
        batch_stats = training or not self.track_running_stats
        momentum = self.momentum
        if training and self.track_running_stats:
            self.num_batches_tracked.data += 1
            if momentum is None:  # cumulative moving average, as PyTorch
                momentum = 1.0 / float(self.num_batches_tracked.data)
        tracked = not training or self.track_running_stats
        return F.batch_norm(x, self.running_mean if tracked else None, self.running_var if tracked else None,
                            self.weight, self.bias, batch_stats, momentum or 0.0, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"track_running_stats={self.track_running_stats}")

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        where = type(self).__name__
        shape = _shape(input_shape, where)
        if len(shape) not in self._sample_ndims or shape[0] != self.num_features:
            raise ValueError(f"{where}({self.num_features}): expected a per-sample input {self._sample_layout} "
                             f"with C = {self.num_features}, received {shape}")
        return shape

    def counts(self, input_shapes: list[tuple[int, ...]], output_shape: tuple[int, ...]) -> LayerCounts:
        return LayerCounts(0, macs=math.prod(output_shape))  # one scale and shift per element, no new neurons

    def file_entry(self, input_shapes: list[tuple[int, ...]], at: str) -> tuple[str, dict[str, Any]]:
        if not self.track_running_stats or self.momentum is None:
            raise SpecError(f"{at}: track_running_stats=False or momentum=None have no file form")
        return "batchnorm", {"eps": self.eps, "momentum": self.momentum, "affine": self.affine}


class BatchNorm1d(_BatchNorm):
    """Normalise each feature of (N, C) or (N, C, L) inputs over the batch.

    Training normalises with the batch's statistics and updates ``running_mean`` and
    ``running_var`` in place (``num_batches_tracked`` counts the updates); ``eval()`` uses the
    running statistics. To keep a pretrained layer's statistics while fine-tuning, put it in
    eval mode (``layer.eval()``) besides freezing its parameters: freezing alone does not stop
    the running averages from moving.

    >>> BatchNorm1d(64)(profondo.randn(32, 64)).shape
    (32, 64)
    """

    file_kinds = (BATCHNORM,)
    _sample_ndims = (1, 2)
    _layout, _sample_layout = "(N, C) or (N, C, L)", "(C) or (C, L)"


class BatchNorm2d(_BatchNorm):
    """Normalise each channel of (N, C, H, W) volumes over the batch and the spatial axes.

    Training normalises with the batch's statistics and updates ``running_mean`` and
    ``running_var`` in place (``num_batches_tracked`` counts the updates); ``eval()`` uses the
    running statistics. To keep a pretrained layer's statistics while fine-tuning, put it in
    eval mode (``layer.eval()``) besides freezing its parameters: freezing alone does not stop
    the running averages from moving.

    >>> BatchNorm2d(16)(profondo.randn(8, 16, 10, 10)).shape
    (8, 16, 10, 10)
    """

    file_kinds = (BATCHNORM,)
    _sample_ndims = (3,)
    _layout, _sample_layout = "(N, C, H, W)", "(C, H, W)"
