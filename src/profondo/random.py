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
