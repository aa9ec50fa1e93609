"""``profondo.cuda``: PyTorch's ``torch.cuda`` questions, answered by the backend.

>>> device = "cuda" if profondo.cuda.is_available() else "cpu"
"""

from __future__ import annotations

from .backend import _cupy, cuda_available


def is_available() -> bool:
    """True when CuPy is installed and sees at least one GPU."""
    return cuda_available()


def device_count() -> int:
    if not cuda_available():
        return 0
    return int(_cupy.cuda.runtime.getDeviceCount())


def synchronize() -> None:
    """Wait for the GPU's queued work (nothing to wait for without one)."""
    if cuda_available():
        _cupy.cuda.Device().synchronize()


def manual_seed(seed: int) -> None:
    if cuda_available():
        _cupy.random.seed(seed)


manual_seed_all = manual_seed
