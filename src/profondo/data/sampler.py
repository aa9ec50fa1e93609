"""The order in which a DataLoader visits samples: one epoch's permutation, and the share of it
that each process of a data-parallel run reads (DistributedSampler, PyTorch's name)."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np


def epoch_order(seed: int, epoch: int, size: int, shuffle: bool = True) -> np.ndarray:
    """The indices of epoch ``epoch``: a permutation of ``range(size)`` that depends only on
    ``(seed, epoch)`` (the identity without ``shuffle``). ``DataLoader(shuffle=True, seed=s)``
    and ``DistributedSampler(seed=s)`` both visit this order, so the shards of N processes
    are the single-process epoch cut in N."""
    if not shuffle:
        return np.arange(size)
    # The first of two streams; the DataLoader's transform draws from the second.
    order_seed = np.random.SeedSequence([seed, epoch]).spawn(1)[0]
    return np.random.default_rng(order_seed).permutation(size)


class DistributedSampler:
    """The share of each epoch that process ``rank`` of ``num_replicas`` reads, as in PyTorch.

    Every process computes the same epoch order (:func:`epoch_order` of ``seed`` and the
    epoch), pads it by repeating its first indices up to a multiple of ``num_replicas`` (or,
    with ``drop_last``, drops its tail), and takes every ``num_replicas``-th index starting at
    ``rank``. So the shards are disjoint and their union is the single-process epoch whenever
    ``num_replicas`` divides the data set's length; the j-th batch of b samples on every rank
    holds the samples of the single-process batch j of ``num_replicas * b``, which is why
    averaging the ranks' gradients gives the single-process update. All ranks get
    ``len(sampler)`` indices, so they take the same number of steps.

    >>> loader = DataLoader(train, batch_size=32, sampler=DistributedSampler(train, 4, rank, seed=0))
    """

    def __init__(self, dataset, num_replicas: int | None = None, rank: int | None = None, shuffle: bool = True,
                 seed: int = 0, drop_last: bool = False) -> None:
        if num_replicas is None or rank is None:
            # PyTorch reads them from its default process group; profondo has none below distributed/.
            raise ValueError("DistributedSampler needs num_replicas and rank: pass world.size and world.rank "
                             "of profondo.distributed.get_world()")
        if not isinstance(num_replicas, (int, np.integer)) or num_replicas < 1:
            raise ValueError(f"DistributedSampler expected num_replicas >= 1, received {num_replicas!r}")
        if not isinstance(rank, (int, np.integer)) or not 0 <= rank < num_replicas:
            raise ValueError(f"DistributedSampler expected a rank in [0, {num_replicas - 1}] "
                             f"(num_replicas={num_replicas}), received {rank!r}")
        self.size = len(dataset)
        self.num_replicas, self.rank = int(num_replicas), int(rank)
        self.shuffle, self.seed, self.drop_last = shuffle, int(seed), drop_last
        self.epoch = 0
        if drop_last:
            self.num_samples = self.size // self.num_replicas
        else:
            self.num_samples = -(-self.size // self.num_replicas)
        self.total_size = self.num_samples * self.num_replicas

    def set_epoch(self, epoch: int) -> None:
        """Make the next iteration epoch ``epoch`` (the DataLoader calls this for you)."""
        self.epoch = int(epoch)

    def indices(self) -> np.ndarray:
        """This rank's indices of the current epoch, in the order they are visited."""
        order = epoch_order(self.seed, self.epoch, self.size, self.shuffle)
        if self.total_size > self.size:  # pad by repeating the first indices (PyTorch's rule)
            order = np.concatenate([order, np.resize(order, self.total_size - self.size)])
        return order[self.rank:self.total_size:self.num_replicas]

    def __iter__(self) -> Iterator[int]:
        return iter(self.indices().tolist())

    def __len__(self) -> int:
        return self.num_samples

    def __repr__(self) -> str:
        return (f"DistributedSampler({self.size} samples, rank {self.rank} of {self.num_replicas}, "
                f"{self.num_samples} per rank, shuffle={self.shuffle}, seed={self.seed})")
