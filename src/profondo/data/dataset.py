"""Map-style datasets: ``len(dataset)`` samples, ``dataset[i]`` -> ``(x, y)`` NumPy arrays."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from profondo import random as _random
from profondo.data.transforms import as_transform


class Dataset:
    """Base class of datasets: implement ``__len__`` and ``__getitem__`` returning ``(x, y)``."""

    def __len__(self) -> int:
        raise NotImplementedError(f"{type(self).__name__} must implement __len__")

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError(f"{type(self).__name__} must implement __getitem__")


class ArrayDataset(Dataset):
    """Samples held in two arrays: ``x[i]`` and its label ``y[i]``.

    ``transform(x, rng)`` (or ``transform(x)``), if given, is applied to each sample as it is
    read, with the dataset's own generator seeded by ``seed`` (None: drawn from
    ``profondo.random``). ``classes`` names the labels.
    """

    def __init__(self, x: np.ndarray, y: np.ndarray, transform: Callable | None = None,
                 classes: Sequence[str] | None = None, seed: int | None = None) -> None:
        self.x = np.asarray(x)
        self.y = np.asarray(y)
        if self.x.ndim == 0 or self.y.ndim == 0 or len(self.x) != len(self.y):
            raise ValueError(
                f"ArrayDataset expected x and y with the same number of samples (first "
                f"dimension), received x of shape {self.x.shape} and y of shape {self.y.shape}"
            )
        self.transform = None if transform is None else as_transform(transform)
        self.classes = None if classes is None else list(classes)
        # Only a per-sample transform needs a generator; drawing one otherwise would shift the
        # global random stream and make resumed runs differ from uninterrupted ones.
        self._rng = None if self.transform is None else np.random.default_rng(
            _random.generator().integers(2**63) if seed is None else seed)

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        x = self.x[index]
        if self.transform is not None:
            x = self.transform(x, self._rng)
        return x, self.y[index]

    def __repr__(self) -> str:
        return (f"ArrayDataset({len(self)} samples, x {self.x.shape[1:]} {self.x.dtype}, "
                f"y {self.y.shape[1:]} {self.y.dtype})")


class TensorDataset(Dataset):
    """Samples held in tensors of one length, as PyTorch's: ``dataset[i]`` is the tuple
    ``(t[i] for t in tensors)``. ``TensorDataset(x, y)``, or one tensor, or three."""

    def __init__(self, *tensors) -> None:
        from profondo.tensor import Tensor

        if not tensors:
            raise ValueError("TensorDataset expected at least one tensor")
        self.tensors = tuple(t if isinstance(t, Tensor) else Tensor(np.asarray(t)) for t in tensors)
        sizes = [t.shape[0] if t.ndim else None for t in self.tensors]
        if None in sizes or len(set(sizes)) != 1:
            raise ValueError(f"TensorDataset expected tensors with the same first dimension, received shapes "
                             f"{[tuple(t.shape) for t in self.tensors]}")

    def __len__(self) -> int:
        return self.tensors[0].shape[0]

    def __getitem__(self, index: int) -> tuple:
        return tuple(t[index] for t in self.tensors)

    def __repr__(self) -> str:
        return f"TensorDataset({len(self)} samples, {', '.join(str(tuple(t.shape[1:])) for t in self.tensors)})"


class Subset(Dataset):
    """The samples of ``dataset`` at ``indices``, in that order."""

    def __init__(self, dataset: Dataset, indices: Sequence[int] | np.ndarray) -> None:
        self.dataset = dataset
        self.indices = np.asarray(indices, dtype=np.int64).reshape(-1)
        size = len(dataset)
        bad = self.indices[(self.indices < 0) | (self.indices >= size)]
        if len(bad):
            raise IndexError(
                f"Subset expected indices in [0, {size}) (the dataset's length), "
                f"received {bad[:5].tolist()}"
            )
        self.classes = getattr(dataset, "classes", None)

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        return self.dataset[int(self.indices[index])]

    def __repr__(self) -> str:
        return f"Subset({len(self)} of {self.dataset!r})"


def random_split(dataset: Dataset, lengths: Sequence[int | float],
                 generator=None, seed: int | None = None) -> list[Subset]:
    """Split ``dataset`` into disjoint random subsets of the given ``lengths``.

    ``lengths`` are sample counts summing to ``len(dataset)``, or fractions summing to 1
    (counts are floored, then the remainder is handed out one by one from the first subset).
    The split depends only on ``seed`` (None: drawn from ``profondo.random``).
    """
    size = len(dataset)
    if all(isinstance(n, (int, np.integer)) and n >= 0 for n in lengths) and sum(lengths) == size:
        counts = [int(n) for n in lengths]
    elif all(0 <= n <= 1 for n in lengths) and abs(sum(lengths) - 1) < 1e-6:
        counts = [int(np.floor(size * f)) for f in lengths]
        for i in range(size - sum(counts)):
            counts[i % len(counts)] += 1
    else:
        raise ValueError(
            f"random_split expected lengths summing to {size} (the dataset's length) or "
            f"fractions summing to 1, received {list(lengths)}"
        )
    rng = _random.numpy_generator(generator) if seed is None else np.random.default_rng(seed)
    order = rng.permutation(size)
    bounds = np.cumsum([0, *counts])
    return [Subset(dataset, order[start:stop]) for start, stop in zip(bounds[:-1], bounds[1:])]
