"""How many threads the CPU BLAS behind NumPy may use (PyTorch's ``set_num_threads``)."""

from __future__ import annotations

import contextlib
import numbers
import os
import threading

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


# --- splitting a batch across threads --------------------------------------------------------
# Rows of a recurrent layer are independent, so a sequence can run as two half-batches on two
# threads, each doing its own small products and element-wise work (NumPy releases the GIL in
# both), where OpenBLAS alone would thread only the products. Inside the split the BLAS runs one
# thread per caller. Measured on 2 cores, the forward of a 64-step LSTM of 256 over a batch of
# 32: 24 ms as two halves, 36 ms whole on one or two BLAS threads; and while other processes
# kept the cores busy, up to 990 ms whole on two BLAS threads, whose threads wait for each other.
_pool = None
_split_lock = threading.Lock()  # one split at a time: another caller (or a nested one) runs serially
_blas = None  # NumPy's OpenBLAS thread setting (_OpenBLAS); False when there is none to drive


def _forget_pool_after_fork() -> None:
    """A forked child has none of its parent's threads: a pool inherited from the parent would
    take work that no thread ever runs, so the child starts its own when it first splits."""
    global _pool, _split_lock
    _pool, _split_lock = None, threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool_after_fork)


class _OpenBLAS:
    """openblas_get_num_threads / openblas_set_num_threads of the OpenBLAS NumPy links, called
    directly: threadpoolctl's own setter makes the calling thread the only one whose later
    limits count, which a layer running in some thread must not decide for the program."""

    def __init__(self, path: str) -> None:
        import ctypes

        lib = ctypes.CDLL(path)
        for prefix in ("", "scipy_"):
            for suffix in ("", "64_", "_64"):
                get = getattr(lib, f"{prefix}openblas_get_num_threads{suffix}", None)
                put = getattr(lib, f"{prefix}openblas_set_num_threads{suffix}", None)
                if get is not None and put is not None:
                    self._get, self._set = get, put
                    return
        raise OSError(f"no openblas_set_num_threads in {path}")

    def get_num_threads(self) -> int:
        return int(self._get())

    def set_num_threads(self, n: int) -> None:
        self._set(int(n))


def _blas_controller():
    """The OpenBLAS NumPy uses (the one in NumPy's folder when other libraries loaded their
    own, as PyTorch and SciPy do), or False: no threadpoolctl to find it, or another BLAS."""
    global _blas
    if _blas is None:
        try:
            import numpy as np
            from threadpoolctl import threadpool_info

            found = [i for i in threadpool_info() if i.get("internal_api") == "openblas"]
            home = os.path.dirname(os.path.dirname(os.path.realpath(np.__file__)))
            mine = [i for i in found if os.path.realpath(i["filepath"]).startswith(os.path.join(home, "numpy"))]
            chosen = mine if len(mine) == 1 else found
            _blas = _OpenBLAS(chosen[0]["filepath"]) if len(chosen) == 1 else False
        except Exception:  # threadpoolctl missing, or a library it cannot describe
            _blas = False
    return _blas


def row_split(rows: int, min_rows: int = 8) -> list[slice]:
    """Slices of ``range(rows)`` for :func:`run_split`: one per BLAS thread allowed now, each at
    least ``min_rows`` long; a single slice when threadpoolctl is missing or only one thread is."""
    blas = _blas_controller()
    workers = min(blas.get_num_threads(), rows // min_rows, 8) if blas else 1
    if workers <= 1:
        return [slice(0, rows)]
    bounds = [rows * i // workers for i in range(workers + 1)]
    return [slice(a, b) for a, b in zip(bounds[:-1], bounds[1:])]


def run_split(fn, parts: list) -> list:
    """``[fn(p) for p in parts]``, the parts on a small thread pool with the BLAS on one thread
    per caller for the duration; with one part, ``fn`` runs here and the BLAS is left alone."""
    if len(parts) == 1 or not _split_lock.acquire(blocking=False):
        return [fn(p) for p in parts]
    try:
        return _run_split(fn, parts)
    finally:
        _split_lock.release()


def _run_split(fn, parts: list) -> list:
    global _pool
    from concurrent.futures import ThreadPoolExecutor, wait

    blas = _blas_controller()
    if _pool is None:
        _pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="profondo-rows")
    threads = blas.get_num_threads() if blas else 1
    if threads > 1:
        blas.set_num_threads(1)
    try:
        futures = [_pool.submit(fn, p) for p in parts[1:]]
        try:
            first = fn(parts[0])  # the calling thread takes the first part
        finally:
            wait(futures)  # no part may still be writing when this returns or raises
        return [first] + [f.result() for f in futures]
    finally:
        if threads > 1:
            blas.set_num_threads(threads)
