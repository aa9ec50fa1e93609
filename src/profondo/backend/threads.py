"""How many threads the CPU BLAS behind NumPy may use (PyTorch's ``set_num_threads``)."""

from __future__ import annotations

import contextlib
import numbers
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
# both). Inside the split the BLAS runs one thread per caller: OpenBLAS's own threads on a
# 32-row product gain little, and where another process keeps a core busy they wait for each
# other (a 64-step LSTM forward was measured 36 ms on one BLAS thread, up to 990 ms on two).
_pool = None
_split_lock = threading.Lock()  # one split at a time: another caller (or a nested one) runs serially
_blas = None  # the threadpoolctl controller of NumPy's BLAS; False when there is none


def _blas_controller():
    global _blas
    if _blas is None:
        try:
            from threadpoolctl import ThreadpoolController

            controllers = ThreadpoolController().select(user_api="blas").lib_controllers
            _blas = controllers[0] if len(controllers) == 1 else False
        except Exception:  # threadpoolctl missing, or a BLAS it cannot drive
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
    threads = blas.get_num_threads()
    blas.set_num_threads(1)
    try:
        futures = [_pool.submit(fn, p) for p in parts[1:]]
        try:
            first = fn(parts[0])  # the calling thread takes the first part
        finally:
            wait(futures)  # no part may still be writing when this returns or raises
        return [first] + [f.result() for f in futures]
    finally:
        blas.set_num_threads(threads)
