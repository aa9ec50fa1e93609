"""Devices: "cpu" computes with NumPy, "cuda[:N]" with CuPy when it is importable.

A tensor's device is read off its array's type, so nothing is stored twice. CPU threads
(:func:`set_num_threads`), the heap tuning for training (:func:`keep_freed_memory`) and the
CPU convolution's algorithm switch (``conv``, see ``convolution.py``) live here too;
importing the package changes none of them.
"""

from __future__ import annotations

import numpy as np

from .convolution import conv
from .memory import freed_memory_kept, keep_freed_memory
from .threads import blas_threads, get_num_threads, set_num_threads

try:  # CuPy is optional: everything works on the CPU without it.
    import cupy as _cupy
except Exception:  # ImportError, or a CUDA library that fails to load
    _cupy = None


class Device:
    """A place where arrays live: ``Device("cpu")`` or ``Device("cuda", 0)``."""

    __slots__ = ("type", "index")

    def __init__(self, type: str, index: int = 0) -> None:
        self.type = type
        self.index = index

    @property
    def xp(self):
        """The array module for this device (numpy or cupy)."""
        return np if self.type == "cpu" else _require_cupy()

    def __eq__(self, other: object) -> bool:
        if isinstance(other, str):
            other = device(other)
        return isinstance(other, Device) and (self.type, self.index) == (other.type, other.index)

    def __hash__(self) -> int:
        return hash((self.type, self.index))

    def __repr__(self) -> str:
        return "cpu" if self.type == "cpu" else f"cuda:{self.index}"


CPU = Device("cpu")


def cuda_available() -> bool:
    """True when CuPy imports and sees at least one GPU."""
    if _cupy is None:
        return False
    try:
        return _cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:
        return False


def _require_cupy():
    if _cupy is None:
        raise RuntimeError(
            "device 'cuda' needs CuPy, which is not installed: pip install 'profondo[gpu]'"
        )
    return _cupy


def device(spec: str | Device | None) -> Device:
    """Parse ``"cpu"``, ``"cuda"`` or ``"cuda:N"`` into a :class:`Device`."""
    if spec is None:
        return CPU
    if isinstance(spec, Device):
        return spec
    if not isinstance(spec, str):
        raise TypeError(f"device: expected a string such as 'cpu' or 'cuda:0', received {type(spec).__name__}")
    name, colon, index = spec.strip().lower().partition(":")
    if name == "cpu" and not colon:
        return CPU
    if name in ("cuda", "gpu") and (not colon or index.isdigit()):  # "cuda:" is a typo, not cuda:0
        return Device("cuda", int(index or 0))
    raise ValueError(f"unknown device {spec!r}: expected 'cpu', 'cuda' or 'cuda:N'")


def array_module(array):
    """numpy or cupy, whichever owns ``array``."""
    if _cupy is not None and isinstance(array, _cupy.ndarray):
        return _cupy
    return np


def device_of(array) -> Device:
    if _cupy is not None and isinstance(array, _cupy.ndarray):
        return Device("cuda", array.device.id)
    return CPU


def move(array, target: Device):
    """Copy ``array`` to ``target`` (no copy when it is already there)."""
    if target.type == "cpu":
        return array.get() if _cupy is not None and isinstance(array, _cupy.ndarray) else array
    cp = _require_cupy()
    with cp.cuda.Device(target.index):
        return cp.asarray(array)
