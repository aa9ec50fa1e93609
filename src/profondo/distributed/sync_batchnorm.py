"""SyncBatchNorm (PyTorch's name): batch normalisation whose batch statistics are those of the
whole global batch, all ranks together, rather than of each rank's share.

By default a data-parallel run keeps BatchNorm per rank, as PyTorch's DDP does: each rank
normalises its b samples with their own mean and variance. With small per-rank batches those
statistics are noisy; ``SyncBatchNorm.convert_sync_batchnorm(model)`` makes every batch-norm
layer normalise with the statistics of all N x b samples, exactly as one process with the
global batch would, at the cost of two small all-reduces per layer and step (one in forward for
the sums of x and x^2, one in backward for the sums of the gradient terms).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..autograd import Function
from ..nn import BatchNorm1d, BatchNorm2d, Module
from ..nn.batchnorm import _BatchNorm
from .world import Communicator, get_world


class SyncBatchNormFunction(Function):
    """Training-mode batch norm over the union of every rank's batch (statistics summed by
    all-reduce in float64); the gradient is that of the sum of the ranks' losses, which the
    gradient all-reduce then averages, as for every other parameter."""

    def __init__(self, comm: Communicator, running_mean, running_var, momentum: float, eps: float) -> None:
        self.comm, self.running_mean, self.running_var = comm, running_mean, running_var
        self.momentum, self.eps = momentum, eps

    def forward(self, x, weight=None, bias=None):
        xp = self.xp
        c = x.shape[1]
        axes = (0,) + tuple(range(2, x.ndim))
        shape = (1, c) + (1,) * (x.ndim - 2)
        wide = x.astype(np.float64)
        sums = xp.concatenate([wide.sum(axis=axes), (wide * wide).sum(axis=axes),
                               xp.full(1, x.size // c, dtype=np.float64)])
        self.comm.allreduce_(sums)
        n = float(sums[-1])
        if n < 2:
            raise ValueError(f"SyncBatchNorm: training needs more than one value per channel over all ranks, "
                             f"received {int(n)}")
        mean = sums[:c] / n
        var = xp.maximum(sums[c:2 * c] / n - mean * mean, 0.0)
        if self.running_mean is not None:
            m = self.momentum
            self.running_mean *= 1 - m
            self.running_mean += (m * mean).astype(self.running_mean.dtype)
            self.running_var *= 1 - m
            self.running_var += (m * n / (n - 1) * var).astype(self.running_var.dtype)
        inv_std = (1.0 / xp.sqrt(var + self.eps)).astype(x.dtype)
        xhat = (x - mean.astype(x.dtype).reshape(shape)) * inv_std.reshape(shape)
        self.axes, self.shape, self.n = axes, shape, n
        self.save_for_backward(xhat, inv_std, weight)
        y = xhat
        if weight is not None:
            y = y * weight.reshape(shape) + bias.reshape(shape)
        return y

    def backward(self, gy):
        xp = self.xp
        xhat, inv_std, weight = self.saved
        axes, shape, c = self.axes, self.shape, gy.shape[1]
        gxhat = gy * weight.reshape(shape) if weight is not None else gy
        sums = xp.concatenate([gxhat.sum(axis=axes, dtype=np.float64), (gxhat * xhat).sum(axis=axes, dtype=np.float64)])
        self.comm.allreduce_(sums)
        mean_g = (sums[:c] / self.n).astype(gy.dtype).reshape(shape)
        mean_gx = (sums[c:] / self.n).astype(gy.dtype).reshape(shape)
        gx = (gxhat - mean_g - xhat * mean_gx) * inv_std.reshape(shape)
        if weight is None:
            return (gx,)
        return gx, (gy * xhat).sum(axis=axes), gy.sum(axis=axes)


class SyncBatchNorm(_BatchNorm):
    """Batch normalisation of (N, C, ...) inputs with the statistics of every rank's batch
    together while training (PyTorch's ``SyncBatchNorm``, over ``process_group``: default the
    world). In eval mode, or in a one-process world, it is plain batch norm.

    >>> model = SyncBatchNorm.convert_sync_batchnorm(model)   # before data_parallel(trainer)
    """

    _sample_ndims = (1, 2, 3, 4)
    _layout, _sample_layout = "(N, C, ...)", "(C, ...)"

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,
                 track_running_stats: bool = True, process_group: Communicator | None = None) -> None:
        super().__init__(num_features, eps, momentum, affine, track_running_stats)
        self.process_group = process_group

    def forward(self, x):
        comm = get_world() if self.process_group is None else self.process_group
        if not self.training or self.frozen_stats or comm.size == 1:
            return super().forward(x)
        if x.ndim < 2 or x.shape[1] != self.num_features:
            raise ValueError(f"SyncBatchNorm({self.num_features}): expected input of shape (N, C, ...) with "
                             f"C = {self.num_features}, received {tuple(x.shape)}")
        momentum = self.momentum
        if self.track_running_stats:
            self.num_batches_tracked.data += 1
            if momentum is None:
                momentum = 1.0 / float(self.num_batches_tracked.data)
        running = (self.running_mean.data, self.running_var.data) if self.track_running_stats else (None, None)
        op = SyncBatchNormFunction(comm, *running, momentum or 0.0, self.eps)
        return op.apply(x, self.weight, self.bias) if self.affine else op.apply(x)

    def get_config(self) -> dict[str, Any]:
        # the process group belongs to the run, not to the layer's description
        return {name: getattr(self, name) for name in ("num_features", "eps", "momentum", "affine",
                                                        "track_running_stats")}

    @classmethod
    def convert_sync_batchnorm(cls, module: Module, process_group: Communicator | None = None) -> Module:
        """``module`` with every BatchNorm1d/2d replaced by a SyncBatchNorm holding the same
        parameters and running statistics (as PyTorch's classmethod; a BatchNorm at the top is
        returned converted)."""
        if isinstance(module, (BatchNorm1d, BatchNorm2d)):
            converted = cls(module.num_features, module.eps, module.momentum, module.affine,
                            module.track_running_stats, process_group)
            if module.affine:  # the same Parameters: an optimizer made before still updates them
                converted.weight, converted.bias = module.weight, module.bias
            if module.track_running_stats:
                for name in ("running_mean", "running_var", "num_batches_tracked"):
                    getattr(converted, name).data = getattr(module, name).data
            converted.training = module.training
            return converted
        for name, child in list(module.named_children()):
            replaced = cls.convert_sync_batchnorm(child, process_group)
            if replaced is not child:
                module._modules[name] = replaced  # in place: a Sequential keeps its order
        return module


__all__ = ["SyncBatchNorm", "SyncBatchNormFunction"]
