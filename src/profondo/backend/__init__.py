"""Devices: "cpu" computes with NumPy, "cuda[:N]" with CuPy when it is importable.

A tensor's device is read off its array's type, so nothing is stored twice.
"""

from __future__ import annotations

import ctypes
import os
import sys

import numpy as np

try:  # CuPy is optional: everything works on the CPU without it.
    import cupy as _cupy
except Exception:  # ImportError, or a CUDA library that fails to load
    _cupy = None


def _keep_freed_memory() -> None:
    """Keep freed arrays' memory in the process instead of returning it to the system.

    By default glibc unmaps every freed block over 128 KiB at once and trims the heap, so
    each training step page-faults its activations in again (a LeNet-5 step on 2 cores:
    12.4 ms with the defaults, 7.8 ms with these settings). Set PROFONDO_MALLOC_DEFAULTS=1
    to keep glibc's defaults; other C libraries are left alone.
    """
    if os.environ.get("PROFONDO_MALLOC_DEFAULTS") or not sys.platform.startswith("linux"):
        return
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):  # not glibc
        return
    mallopt(-3, 32 << 20)  # M_MMAP_THRESHOLD: map only blocks over 32 MiB (glibc's maximum)
    mallopt(-1, 1 << 30)  # M_TRIM_THRESHOLD: give the heap back only past 1 GiB of free space
    mallopt(-2, 64 << 20)  # M_TOP_PAD: grow the heap in 64 MiB steps


_keep_freed_memory()


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


def blas_threads(n: int | None):
    """Context manager limiting the CPU BLAS to ``n`` threads (None: leave it as it is).

    Small matrices (small networks, Q-networks) run fastest on one thread, and on cores that
    other processes keep busy two BLAS threads were measured 10x slower than one. Needs
    threadpoolctl; without it, set OPENBLAS_NUM_THREADS before starting Python.
    """
    import contextlib

    if n is None:
        return contextlib.nullcontext()
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(n, user_api="blas")
