"""DataLoader: batches, reproducible shuffling and background prefetching."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator

import numpy as np

from profondo import random as _random
from profondo.data.dataset import ArrayDataset, Dataset, Subset, TensorDataset
from profondo.data.sampler import epoch_order
from profondo.data.transforms import as_transform
from profondo.tensor import Tensor

Batch = tuple[Tensor, ...]


class _WorkerError:
    __slots__ = ("error",)

    def __init__(self, error: BaseException) -> None:
        self.error = error


_END = object()


def _array_source(dataset: Dataset) -> tuple[np.ndarray, np.ndarray, np.ndarray | None] | None:
    """``(x, y, index map)`` when batches can be gathered by fancy indexing whole arrays:
    an ArrayDataset without per-sample transform, possibly seen through Subsets."""
    indices = None
    while isinstance(dataset, Subset):
        indices = dataset.indices if indices is None else dataset.indices[indices]
        dataset = dataset.dataset
    if isinstance(dataset, ArrayDataset) and dataset.transform is None:
        return (dataset.x, dataset.y), indices
    if isinstance(dataset, TensorDataset):
        return tuple(t.data for t in dataset.tensors), indices
    return None


def default_collate(samples: list) -> object:
    """Stack a list of samples into a batch, as PyTorch's default_collate: tensors, arrays and
    numbers become one Tensor with a batch axis (Python ints int64, floats float64, as PyTorch);
    tuples, lists and dicts are collated field by field."""
    first = samples[0]
    if isinstance(first, Tensor):
        return Tensor(first.xp.stack([s.data for s in samples]))
    if isinstance(first, (np.ndarray, np.generic)):
        return Tensor(np.stack(samples))
    if isinstance(first, (bool, int, float)):
        return Tensor(np.asarray(samples, dtype=np.bool_ if isinstance(first, bool) else
                                 np.int64 if isinstance(first, int) else np.float64))
    if isinstance(first, dict):
        return {k: default_collate([s[k] for s in samples]) for k in first}
    if isinstance(first, (tuple, list)):
        return tuple(default_collate(list(field)) for field in zip(*samples))
    if isinstance(first, str):
        return list(samples)
    raise TypeError(f"DataLoader: cannot batch samples of type {type(first).__name__}: expected tensors, arrays, "
                    "numbers, or tuples/dicts of them (or pass collate_fn=)")


class DataLoader:
    """Iterate over ``dataset`` in batches: tuples of Tensors, such as ``(images, labels)``.

    Args:
        dataset: any object with ``__len__`` and ``__getitem__`` returning a tuple of arrays
            or tensors.
        batch_size: samples per batch (1 by default, as PyTorch).
        shuffle: visit the samples in a new random order each epoch.
        seed: seeds shuffling and ``transform``; epoch k's order depends only on
            ``(seed, k)``. None draws one from ``profondo.random`` (so ``manual_seed``
            fixes it) and keeps it in ``loader.seed``.
        drop_last: drop the final batch when it is smaller than ``batch_size``.
        transform: batch-level ``transform(images, rng)`` applied to the first array of each
            batch, in the prefetch thread.
        prefetch: batches prepared ahead in a background thread; 0 prepares them in the
            caller's thread.
        generator: a ``profondo.Generator`` that draws ``seed`` (PyTorch's way to seed shuffling).
        collate_fn: turns a list of samples into a batch (default: :func:`default_collate`).
        num_workers, pin_memory: accepted for PyTorch's sake; batches are prepared in one
            background thread (``prefetch``), and there is no pinned memory.
        sampler: the indices to visit, in order: a ``DistributedSampler`` gives each process
            of a data-parallel run its share of the epoch (its epoch follows the loader's).
            Exclusive with ``shuffle``, as in PyTorch: the sampler shuffles.

    Each ``iter(loader)`` is one epoch and advances the epoch counter; ``set_epoch(k)``
    chooses the epoch of the next iteration.
    """

    def __init__(self, dataset: Dataset, batch_size: int = 1, shuffle: bool = False,
                 seed: int | None = None, drop_last: bool = False,
                 transform: Callable | None = None, prefetch: int = 2, *, generator=None,
                 collate_fn: Callable | None = None, num_workers: int = 0, pin_memory: bool = False,
                 sampler=None) -> None:
        if not (hasattr(dataset, "__len__") and hasattr(dataset, "__getitem__")):
            raise TypeError(f"DataLoader expected a dataset with __len__ and __getitem__, "
                            f"received {type(dataset).__name__}")
        for name, value, minimum in (("batch_size", batch_size, 1), ("prefetch", prefetch, 0)):
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < minimum:
                raise ValueError(f"DataLoader expected {name} to be an integer >= {minimum}, "
                                 f"received {value!r}")
        if sampler is not None and shuffle:
            raise ValueError("DataLoader: sampler option is mutually exclusive with shuffle (the sampler "
                             "decides the order; DistributedSampler(shuffle=True) shuffles)")
        self.sampler = sampler
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        if seed is None:
            seed = int(_random.numpy_generator(generator).integers(2**63))
        self.seed = seed
        self.collate_fn = collate_fn
        self.drop_last = drop_last
        self.transform = None if transform is None else as_transform(transform)
        self.prefetch = int(prefetch)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Make the next iteration epoch ``epoch`` (its order depends only on seed and epoch)."""
        if not isinstance(epoch, (int, np.integer)) or epoch < 0:
            raise ValueError(f"set_epoch expected a non-negative integer, received {epoch!r}")
        self.epoch = int(epoch)

    def __len__(self) -> int:
        full, rest = divmod(len(self.dataset) if self.sampler is None else len(self.sampler), self.batch_size)
        return full if self.drop_last or not rest else full + 1

    def __iter__(self) -> Iterator[Batch]:
        epoch, self.epoch = self.epoch, self.epoch + 1
        batches = self._batches(epoch)
        return _prefetched(batches, self.prefetch) if self.prefetch else batches

    def _batches(self, epoch: int) -> Iterator[Batch]:
        # Separate streams, so adding a transform does not change the shuffling order.
        # Rank r of a sampler transforms with stream 1 + r (rank 0 as a single process does).
        stream = 1 + getattr(self.sampler, "rank", 0)
        rng = np.random.default_rng(np.random.SeedSequence([self.seed, epoch]).spawn(stream + 1)[stream])
        if self.sampler is None:
            order = epoch_order(self.seed, epoch, len(self.dataset), self.shuffle)
        else:
            if hasattr(self.sampler, "set_epoch"):
                self.sampler.set_epoch(epoch)
            order = np.fromiter(self.sampler, dtype=np.int64)
        source = _array_source(self.dataset)
        for start in range(0, len(self) * self.batch_size, self.batch_size):
            picked = order[start:start + self.batch_size]
            if source is not None and self.collate_fn is None:
                arrays, index_map = source
                if index_map is not None:
                    picked = index_map[picked]
                batch = tuple(a[picked] for a in arrays)
            else:
                samples = [self.dataset[int(i)] for i in picked]
                if self.collate_fn is not None:
                    yield self.collate_fn(samples)
                    continue
                batch = default_collate(samples)
                if not isinstance(batch, tuple):
                    yield batch
                    continue
                batch = tuple(b.data if isinstance(b, Tensor) else b for b in batch)
            if self.transform is not None:
                batch = (self.transform(batch[0], rng), *batch[1:])
            yield tuple(Tensor(b) if not isinstance(b, (Tensor, list, dict)) else b for b in batch)

    def __repr__(self) -> str:
        sampler = f", sampler={self.sampler!r}" if self.sampler is not None else ""
        return (f"DataLoader({self.dataset!r}, batch_size={self.batch_size}, "
                f"shuffle={self.shuffle}, drop_last={self.drop_last}, prefetch={self.prefetch}{sampler})")


def _put(buffer: queue.Queue, item: object, stop: threading.Event) -> bool:
    """Put ``item`` unless the consumer has stopped; polls so a full queue cannot hang us."""
    while not stop.is_set():
        try:
            buffer.put(item, timeout=0.05)
            return True
        except queue.Full:
            pass
    return False


def _prefetched(batches: Iterator[Batch], size: int) -> Iterator[Batch]:
    """Produce ``batches`` in a background thread, at most ``size`` ahead of the consumer.

    A worker exception is re-raised here; leaving the loop early (break, error, garbage
    collection of this generator) stops and joins the worker.
    """
    buffer: queue.Queue = queue.Queue(maxsize=size)
    stop = threading.Event()

    def produce() -> None:
        try:
            for batch in batches:
                if not _put(buffer, batch, stop):
                    return
            _put(buffer, _END, stop)
        except BaseException as error:  # handed to the consumer, which re-raises it
            _put(buffer, _WorkerError(error), stop)

    worker = threading.Thread(target=produce, name="profondo-DataLoader", daemon=True)
    worker.start()
    try:
        while (item := buffer.get()) is not _END:
            if isinstance(item, _WorkerError):
                raise item.error
            yield item
    finally:
        stop.set()
        worker.join()
