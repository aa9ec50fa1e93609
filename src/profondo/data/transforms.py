"""Image transforms on channels-first arrays: one CHW image or a whole NCHW batch.

Every transform is called as ``transform(x, rng)`` with a NumPy ``Generator`` for its
randomness (None: ``profondo.random``'s); a batch is transformed in one vectorised pass with
independent draws per image.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from profondo import random as _random

TransformFn = Callable[[np.ndarray, np.random.Generator], np.ndarray]


class _ShapeError(ValueError):
    """Raised by ``Transform.apply``; ``__call__`` words it with the shape the user passed."""


def _pair(value: int | Sequence[int], name: str, minimum: int) -> tuple[int, int]:
    pair = (value, value) if isinstance(value, (int, np.integer)) else tuple(value)
    if len(pair) != 2 or not all(isinstance(v, (int, np.integer)) and v >= minimum for v in pair):
        raise ValueError(
            f"expected {name} to be an integer >= {minimum} or a (height, width) pair of them, "
            f"received {value!r}"
        )
    return int(pair[0]), int(pair[1])


def _format(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else repr(value)


class Transform:
    """Base class: maps a CHW image or an NCHW batch to an array of the same kind.

    Subclasses implement ``apply(batch, rng)`` on an NCHW batch only; single images are
    passed through as a batch of one.
    """

    def __init__(self, **arguments: Any) -> None:
        self._arguments = arguments  # as the user wrote them, for the repr

    def __call__(self, x: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
        x = np.asarray(x)
        if x.ndim not in (3, 4):
            raise ValueError(
                f"{self!r} expected a CHW image (3 dims) or an NCHW batch (4 dims), "
                f"received an array of shape {x.shape}"
            )
        rng = _random.generator() if rng is None else rng
        try:
            return self.apply(x, rng) if x.ndim == 4 else self.apply(x[None], rng)[0]
        except _ShapeError as error:
            raise ValueError(f"{self!r} expected {error}, received shape {x.shape}") from None

    def apply(self, batch: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Transform an NCHW batch."""
        raise NotImplementedError(f"{type(self).__name__} must implement apply(batch, rng)")

    def __repr__(self) -> str:
        fields = ", ".join(f"{key}={_format(value)}" for key, value in self._arguments.items())
        return f"{type(self).__name__}({fields})"


def as_transform(function: Callable[..., np.ndarray]) -> TransformFn:
    """Return ``function`` as a ``(x, rng)`` callable; one-argument callables ignore ``rng``."""
    if isinstance(function, Transform):
        return function
    if not callable(function):
        raise TypeError(f"expected a transform (a callable), received {function!r}")
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):  # builtins without a signature: assume the (x, rng) form
        return function
    positional = [p for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    takes_rng = len(positional) >= 2 or any(p.kind == p.VAR_POSITIONAL for p in parameters)
    return function if takes_rng else lambda x, rng: function(x)


class Compose(Transform):
    """Apply transforms in order, sharing one generator."""

    def __init__(self, transforms: Sequence[Callable[..., np.ndarray]]) -> None:
        super().__init__()
        self.transforms = [as_transform(t) for t in transforms]

    def __call__(self, x: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
        rng = _random.generator() if rng is None else rng
        for transform in self.transforms:
            x = transform(x, rng)
        return x

    def __repr__(self) -> str:
        lines = "".join(f"    {t!r},\n" for t in self.transforms)
        return f"Compose(\n{lines})" if lines else "Compose()"


class ToFloat(Transform):
    """Convert to float32 and multiply by ``scale`` (default 1/255: uint8 pixels to [0, 1])."""

    def __init__(self, scale: float = 1 / 255) -> None:
        super().__init__(scale=float(scale))
        self.scale = np.float32(scale)

    def apply(self, batch: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return batch.astype(np.float32) * self.scale


class Normalize(Transform):
    """``(x - mean[c]) / std[c]`` per channel; a scalar mean/std applies to every channel."""

    def __init__(self, mean: float | Sequence[float], std: float | Sequence[float]) -> None:
        super().__init__(mean=mean, std=std)
        self.mean = np.asarray(mean, dtype=np.float32).reshape(-1)
        self.std = np.asarray(std, dtype=np.float32).reshape(-1)
        if len(self.mean) != len(self.std) and 1 not in (len(self.mean), len(self.std)):
            raise ValueError(
                f"Normalize expected one mean and one std per channel, received "
                f"{len(self.mean)} means and {len(self.std)} stds"
            )
        if np.any(self.std <= 0):
            raise ValueError(f"Normalize expected positive std, received {std!r}")

    def apply(self, batch: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        channels = max(len(self.mean), len(self.std))
        if channels != 1 and batch.shape[1] != channels:
            raise _ShapeError(f"{channels} channels (one mean and std each)")
        return (batch - self.mean[:, None, None]) / self.std[:, None, None]


def _crop(batch: np.ndarray, padding: tuple[int, int], top: np.ndarray, left: np.ndarray,
          size: tuple[int, int]) -> np.ndarray:
    """Crop image i of the zero-padded batch at (top[i], left[i]), all images in one gather."""
    pad_h, pad_w = padding
    if pad_h or pad_w:
        batch = np.pad(batch, ((0, 0), (0, 0), (pad_h, pad_h), (pad_w, pad_w)))
    windows = sliding_window_view(batch, size, axis=(2, 3))  # (N, C, Y, X, h, w), a view
    # The advanced indices around the ':' go first in the result: (N, C, h, w).
    return windows[np.arange(len(batch)), :, top, left]


class RandomCrop(Transform):
    """Zero-pad each side by ``padding``, then cut a ``size`` window at a random position."""

    def __init__(self, size: int | Sequence[int], padding: int | Sequence[int] = 0) -> None:
        super().__init__(size=size, padding=padding)
        self.size = _pair(size, "size", 1)
        self.padding = _pair(padding, "padding", 0)

    def apply(self, batch: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        n, _, height, width = batch.shape
        room_h = height + 2 * self.padding[0] - self.size[0]
        room_w = width + 2 * self.padding[1] - self.size[1]
        if room_h < 0 or room_w < 0:
            raise _ShapeError(
                f"images of at least {self.size[0] - 2 * self.padding[0]}x"
                f"{self.size[1] - 2 * self.padding[1]} pixels"
            )
        top = rng.integers(0, room_h + 1, size=n)
        left = rng.integers(0, room_w + 1, size=n)
        return _crop(batch, self.padding, top, left, self.size)


class RandomShift(Transform):
    """Translate each image by a random whole number of pixels in
    ``[-max_shift, max_shift]`` along each axis, filling the uncovered border with zeros."""

    def __init__(self, max_shift: int | Sequence[int]) -> None:
        super().__init__(max_shift=max_shift)
        self.max_shift = _pair(max_shift, "max_shift", 0)

    def apply(self, batch: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        n, _, height, width = batch.shape
        max_h, max_w = self.max_shift
        shift_down = rng.integers(-max_h, max_h + 1, size=n)
        shift_right = rng.integers(-max_w, max_w + 1, size=n)
        # out[y, x] = in[y - dy, x - dx]: a same-size crop of the padded image at (m - dy, m - dx).
        return _crop(batch, self.max_shift, max_h - shift_down, max_w - shift_right, (height, width))


class RandomHorizontalFlip(Transform):
    """Mirror each image left-right with probability ``p``."""

    def __init__(self, p: float = 0.5) -> None:
        super().__init__(p=float(p))
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"RandomHorizontalFlip expected p in [0, 1], received {p!r}")
        self.p = float(p)

    def apply(self, batch: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        flip = rng.random(len(batch)) < self.p
        return np.where(flip[:, None, None, None], batch[..., ::-1], batch)
