"""Data-parallel training of a Trainer: the same model on every process, each process a share
of every batch, gradients averaged before each update.

    world = get_world()                                  # under mpiexec -n 4
    train_loader = shard_loader(train_loader, world)     # each rank a quarter of each epoch
    data_parallel(trainer, world)                        # broadcast, all-reduce, metrics, rank 0 writes
    trainer.fit(train_loader, epochs)

A run started on N processes and resumed on M continues exactly: the epoch's order depends
only on the seed and the epoch, every rank holds the same weights and optimizer state, and
the checkpoint (written by rank 0 alone) holds what one process would hold.
"""

from __future__ import annotations

import numpy as np

from ..data import DataLoader, DistributedSampler, Subset
from ..train import CSVLogger, JSONLogger, ModelCheckpoint, PlotCurves, Trainer, TrainingProgress
from ..train.monitor import PrintGradientNorms
from ..train.tensorboard import TensorBoard
from .reducer import DEFAULT_BUCKET_CAP_MB, GradientAllReduce
from .world import Communicator, get_world

# Callbacks that write files or print: on rank 0 only, so that N processes do not write one file
# (or one progress line) N times.
WRITERS = (ModelCheckpoint, CSVLogger, JSONLogger, PlotCurves, TrainingProgress, TensorBoard, PrintGradientNorms)


def broadcast_parameters(module, comm: Communicator | None = None, root: int = 0) -> None:
    """Make every process's parameters and buffers equal to ``root``'s, in place."""
    comm = get_world() if comm is None else comm
    if comm.size == 1:
        return
    for _, tensor in [*module.named_parameters(), *module.named_buffers()]:
        if tensor is None:
            continue
        array = tensor.data
        if array.flags.c_contiguous:
            comm.broadcast_(array, root)
        else:
            copy = tensor.xp.ascontiguousarray(array)
            comm.broadcast_(copy, root)
            array[...] = copy


def shard_loader(loader: DataLoader, comm: Communicator | None = None, batch_size: int | None = None) -> DataLoader:
    """A DataLoader that reads this rank's share of ``loader``'s epochs (DistributedSampler
    with the loader's seed and shuffling, so the N shards make up ``loader``'s own epoch).

    ``batch_size`` is the per-rank batch; by default ``loader.batch_size // comm.size``, so that
    one step of N ranks sees the samples of one step of ``loader`` (then N must divide it)."""
    comm = get_world() if comm is None else comm
    if batch_size is None:
        if loader.batch_size % comm.size:
            raise ValueError(f"shard_loader: the batch of {loader.batch_size} samples does not split over "
                             f"{comm.size} processes; choose a batch size divisible by {comm.size} or pass "
                             "batch_size (per process)")
        batch_size = loader.batch_size // comm.size
    sampler = DistributedSampler(loader.dataset, comm.size, comm.rank, shuffle=loader.shuffle, seed=loader.seed,
                                 drop_last=loader.drop_last)
    return DataLoader(loader.dataset, batch_size, seed=loader.seed, drop_last=loader.drop_last,
                      transform=loader.transform, prefetch=loader.prefetch, sampler=sampler)


def shard_dataset(dataset, comm: Communicator | None = None):
    """Every ``size``-th sample from ``rank``: disjoint shares of unequal length at most one
    apart, for evaluation (where sums are reduced, not gradients, so no padding is needed)."""
    comm = get_world() if comm is None else comm
    return dataset if comm.size == 1 else Subset(dataset, np.arange(comm.rank, len(dataset), comm.size))


def shard_eval_loader(loader: DataLoader, comm: Communicator | None = None) -> DataLoader:
    """``loader`` over this rank's :func:`shard_dataset` of its data (for ``evaluate``, which
    sums the ranks' totals)."""
    comm = get_world() if comm is None else comm
    if comm.size == 1:
        return loader
    return DataLoader(shard_dataset(loader.dataset, comm), loader.batch_size, prefetch=loader.prefetch)


def data_parallel(trainer: Trainer, comm: Communicator | None = None, bucket_cap_mb: float = DEFAULT_BUCKET_CAP_MB,
                  overlap: bool = True) -> GradientAllReduce | None:
    """Make ``trainer`` one process of a data-parallel run over ``comm`` (default: the world).

    Broadcasts rank 0's weights and buffers; adds the bucketed gradient all-reduce to the
    trainer's gradient hooks; sums the loss, accuracy and sample counts of every epoch and
    evaluation over the ranks (so ``evaluate`` must be called on every rank, on its shard);
    shows progress bars on rank 0 only; and keeps the callbacks that write files on rank 0
    only. Batch normalisation keeps per-rank statistics (see :class:`SyncBatchNorm`). On a
    CUDA trainer each process of a machine takes its own GPU and gradients go through NCCL.
    Returns the gradient hook (None for a one-process world, where nothing changes)."""
    comm = get_world() if comm is None else comm
    if comm.size == 1:
        return None
    if trainer.device.type == "cuda" and comm.backend == "mpi":
        comm = _one_gpu_per_process(trainer, comm)
    broadcast_parameters(trainer.model, comm)
    reducer = GradientAllReduce(trainer.model.parameters(), comm, bucket_cap_mb, overlap)
    trainer.gradient_hooks.append(reducer)
    trainer.metric_reduce = comm.sum
    if comm.rank != 0:
        trainer.progress = False
        trainer.callbacks = [cb for cb in trainer.callbacks if not isinstance(cb, WRITERS)]
    return reducer


def _one_gpu_per_process(trainer: Trainer, comm: Communicator) -> Communicator:
    """On GPUs: process i of a machine takes GPU i (modulo the GPUs), and device arrays go
    through NCCL (host ones still through MPI)."""
    from ..backend import device
    from .nccl import NCCLCommunicator, import_nccl, local_rank

    cupy, _ = import_nccl()
    index = local_rank() % cupy.cuda.runtime.getDeviceCount()
    trainer.device = device(f"cuda:{index}")
    trainer.model.to(trainer.device)
    return NCCLCommunicator(comm, index)

