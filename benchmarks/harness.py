"""What every benchmark here shares: thread limits, timing, alternation, the JSON report."""

from __future__ import annotations

import json
import platform
import statistics
import time
from pathlib import Path

import numpy as np


def limit_threads(threads: int) -> list[str]:
    """Give PyTorch and the NumPy BLAS the same thread count; describe the BLAS for the report.

    Also keeps freed memory in the heap, as the ``profondo`` command does: both frameworks
    share the process, so both run with the same allocator settings.
    """
    import torch

    from profondo.backend import keep_freed_memory

    keep_freed_memory()

    torch.set_num_threads(threads)
    try:
        from threadpoolctl import threadpool_info, threadpool_limits
    except ImportError:
        return ["threadpoolctl not installed: BLAS threads unknown"]
    threadpool_limits(threads)
    return [f"{i['internal_api']} {i.get('architecture')} x{i['num_threads']}" for i in threadpool_info()]


def rate(step, seconds: float) -> float:
    """Steps per second over at least ``seconds`` (after one warm-up step)."""
    step()
    n, start = 0, time.perf_counter()
    while True:
        step()
        n += 1
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return n / elapsed


def side_by_side(ours, theirs, repeats: int, seconds: float) -> tuple[float, float, list[float], list[float]]:
    """Median rates of two step functions, alternated so that machine noise hits both alike."""
    a, b = [], []
    for _ in range(repeats):
        a.append(rate(ours, seconds))
        b.append(rate(theirs, seconds))
    return statistics.median(a), statistics.median(b), a, b


def write_report(path: str, rows: list[dict], blas: list[str], threads: int, repeats: int, seconds: float) -> None:
    import torch

    report = {"machine": platform.processor() or platform.machine(), "python": platform.python_version(),
              "numpy": np.__version__, "torch": torch.__version__, "blas": blas, "threads": threads,
              "repeats": repeats, "seconds_per_measurement": seconds, "rows": rows}
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(report, indent=1))
