"""glibc heap tuning for training loops, applied only when a program asks for it."""

from __future__ import annotations

import ctypes
import os
import sys

_applied = False  # set once the settings are in place; importing profondo never sets it


def keep_freed_memory() -> bool:
    """Keep freed arrays' memory in the process instead of returning it to the system.

    By default glibc unmaps every freed block over 128 KiB at once and trims the heap, so
    each training step page-faults its activations in again (a LeNet-5 step on 2 cores:
    12.4 ms with the defaults, 7.8 ms with these settings). This changes the whole process,
    so importing profondo does not do it: the ``profondo`` command and the benchmarks call
    it, and a script may. Calling it again changes nothing. It does nothing when
    PROFONDO_MALLOC_DEFAULTS=1 is set, off Linux, or with a C library other than glibc.

    Returns True when the settings are in place.
    """
    global _applied
    if _applied:
        return True
    if os.environ.get("PROFONDO_MALLOC_DEFAULTS") or not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):  # not glibc
        return False
    mallopt(-3, 32 << 20)  # M_MMAP_THRESHOLD: map only blocks over 32 MiB (glibc's maximum)
    mallopt(-1, 1 << 30)  # M_TRIM_THRESHOLD: give the heap back only past 1 GiB of free space
    mallopt(-2, 64 << 20)  # M_TOP_PAD: grow the heap in 64 MiB steps
    _applied = True
    return True


def freed_memory_kept() -> bool:
    """True once :func:`keep_freed_memory` has put its settings in place in this process."""
    return _applied
