"""How much a piece of code makes the process's resident memory grow, for tests of hostile files.

tracemalloc is no use here: NumPy reports an allocation to it even when the allocation fails,
so a refused 4 TiB array shows as a 4 TiB peak. This reads the peak resident set size (VmHWM)
after resetting it (Linux's /proc/self/clear_refs); elsewhere it measures nothing (None).
"""

from __future__ import annotations

import contextlib
import re
from pathlib import Path

_STATUS, _CLEAR = Path("/proc/self/status"), Path("/proc/self/clear_refs")


def _kib(field: str) -> int:
    return int(re.search(rf"^{field}:\s+(\d+) kB", _STATUS.read_text(), re.M).group(1))


@contextlib.contextmanager
def peak_growth():
    """``with peak_growth() as grown: ...`` then ``grown()`` is the growth of peak RSS in bytes (or None)."""
    try:
        _CLEAR.write_text("5")  # peak RSS := current RSS
        before = _kib("VmRSS")
    except OSError:
        before = None
    result: list[int | None] = [None]
    try:
        yield lambda: result[0]
    finally:
        if before is not None:
            result[0] = (_kib("VmHWM") - before) * 1024
