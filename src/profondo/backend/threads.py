"""How many threads the CPU BLAS behind NumPy may use (PyTorch's ``set_num_threads``)."""

from __future__ import annotations

import contextlib
import numbers

_NEEDS_THREADPOOLCTL = ("needs threadpoolctl, which is not installed: pip install threadpoolctl "
                        "(or set OPENBLAS_NUM_THREADS / OMP_NUM_THREADS before starting Python)")


def _threadpoolctl(caller: str):
    try:
        import threadpoolctl
    except ImportError:
        raise RuntimeError(f"{caller} {_NEEDS_THREADPOOLCTL}") from None
    return threadpoolctl


def _check_count(caller: str, n: object) -> int:
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
        raise ValueError(f"{caller} expected a thread count, an integer >= 1, received {n!r}")
    return int(n)


def set_num_threads(n: int) -> None:
    """Limit the CPU BLAS (matrix products, convolutions) to ``n`` threads for the whole process.

    Small networks run fastest on one thread, and on cores that other processes keep busy
    extra BLAS threads wait for each other: see the README's advice on threads. Needs
    threadpoolctl (in the ``all`` extra).
    """
    n = _check_count("set_num_threads", n)
    _threadpoolctl("set_num_threads").threadpool_limits(n, user_api="blas")


def get_num_threads() -> int:
    """The number of threads the CPU BLAS may use now (the largest, if several BLAS are loaded)."""
    info = _threadpoolctl("get_num_threads").threadpool_info()
    counts = [pool["num_threads"] for pool in info if pool.get("user_api") == "blas"]
    if not counts:
        raise RuntimeError("get_num_threads found no BLAS library loaded in this process "
                           "(expected the one NumPy links, such as OpenBLAS or MKL)")
    return max(counts)


def blas_threads(n: int | None):
    """Context manager limiting the CPU BLAS to ``n`` threads (None: leave it as it is).

    The command line runs under it. Small matrices (small networks, Q-networks) run fastest
    on one thread, and on cores that other processes keep busy two BLAS threads were measured
    10x slower than one. Without threadpoolctl it changes nothing; set OPENBLAS_NUM_THREADS
    before starting Python instead.
    """
    if n is None:
        return contextlib.nullcontext()
    n = _check_count("blas_threads", n)
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(n, user_api="blas")
