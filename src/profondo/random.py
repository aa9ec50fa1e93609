"""One seedable source of randomness for initialisers, dropout, shuffling and sampling."""

from __future__ import annotations

import numpy as np

_generator = np.random.default_rng()


def manual_seed(seed: int) -> None:
    """Make every later random draw of profondo repeatable (CPU, and CuPy when present)."""
    global _generator
    _generator = np.random.default_rng(seed)
    from .backend import _cupy

    if _cupy is not None:
        try:
            _cupy.random.seed(seed)
        except Exception:  # no GPU visible: nothing to seed
            pass


def generator() -> np.random.Generator:
    """The global NumPy generator (draws on the CPU; callers move results to the device)."""
    return _generator


def get_state() -> dict:
    """The generator's state, a dict that :func:`set_state` restores (checkpoints keep it)."""
    return _generator.bit_generator.state


def set_state(state: dict) -> None:
    _generator.bit_generator.state = state


class Generator:
    """A separate random stream, as ``torch.Generator``: pass it as ``generator=`` to rand,
    randn, randint, randperm, ``uniform_``/``normal_``, DataLoader and random_split.

    >>> g = profondo.Generator().manual_seed(0)
    >>> profondo.randn(3, generator=g)
    """

    def __init__(self, device: str = "cpu") -> None:
        self.device = device
        self._seed = int(np.random.SeedSequence().entropy % 2**63)
        self.numpy_generator = np.random.default_rng(self._seed)

    def manual_seed(self, seed: int) -> Generator:
        self._seed = int(seed)
        self.numpy_generator = np.random.default_rng(self._seed)
        return self

    def seed(self) -> int:
        self.manual_seed(int(np.random.SeedSequence().entropy % 2**63))
        return self._seed

    def initial_seed(self) -> int:
        return self._seed

    def get_state(self) -> dict:
        return self.numpy_generator.bit_generator.state

    def set_state(self, state: dict) -> Generator:
        self.numpy_generator.bit_generator.state = state
        return self


def numpy_generator(generator: Generator | np.random.Generator | None = None) -> np.random.Generator:
    """The NumPy generator behind ``generator`` (None: the global one)."""
    if generator is None:
        return _generator
    if isinstance(generator, Generator):
        return generator.numpy_generator
    if isinstance(generator, np.random.Generator):
        return generator
    raise TypeError(f"generator: expected a profondo.Generator, received {type(generator).__name__}")
