"""What a file from elsewhere may make profondo allocate, and the errors for files it refuses.

Every reader (checkpoints, legacy PyTorch weight files, ONNX models, CIFAR batches,
architecture files) compares what a file declares (an array's shape, a storage's element
count, a member's size) with the bytes the file really holds and with one cap, before it
allocates anything. The cap is ``PROFONDO_MAX_FILE_BYTES`` (bytes, or with a K/M/G/T suffix,
read when first needed) or :func:`set_max_file_bytes`; the default is 16 GiB.

>>> from profondo.backend.limits import set_max_file_bytes
>>> previous = set_max_file_bytes(256 * 2**20)   # refuse any file that asks for more than 256 MiB
"""

from __future__ import annotations

import os
import reprlib

ENV_VAR = "PROFONDO_MAX_FILE_BYTES"
DEFAULT_MAX_BYTES = 16 * 2**30
_UNITS = {"": 1, "B": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}

_max_bytes: int | None = None  # None: read the environment on first use


class FileFormatError(ValueError):
    """A file that is damaged, is not what it claims to be, or holds something a reader refuses:
    the message names the file, what was refused and why."""


class ResourceLimitError(FileFormatError):
    """A file declares more than the reader allows: more bytes than the file holds, or more than
    the cap (``PROFONDO_MAX_FILE_BYTES``, :func:`set_max_file_bytes`)."""


def _parse(text: str) -> int:
    text = text.strip().upper().removesuffix("IB").removesuffix("B")
    unit = text[-1:] if text[-1:] in _UNITS else ""
    try:
        value = float(text[: len(text) - len(unit)])
    except ValueError:
        value = -1.0
    if not value > 0:
        raise ValueError(f"{ENV_VAR}: expected a positive number of bytes such as 4G or 536870912, "
                         f"received {text!r}")
    return int(value * _UNITS[unit])


def max_file_bytes() -> int:
    """The most bytes one file may make a reader allocate."""
    global _max_bytes
    if _max_bytes is None:
        env = os.environ.get(ENV_VAR)
        _max_bytes = _parse(env) if env else DEFAULT_MAX_BYTES
    return _max_bytes


def set_max_file_bytes(nbytes: int | None) -> int:
    """Set the cap (None: back to ``PROFONDO_MAX_FILE_BYTES`` or the default); returns the previous cap."""
    global _max_bytes
    previous = max_file_bytes()
    if nbytes is not None and (not isinstance(nbytes, int) or isinstance(nbytes, bool) or nbytes < 1):
        raise ValueError(f"set_max_file_bytes: expected a positive int or None, received {nbytes!r}")
    _max_bytes = nbytes
    return previous


def format_bytes(n: int | float) -> str:
    """``format_bytes(2**42) == '4 TiB'``"""
    for unit, size in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= size:
            return f"{n / size:.4g} {unit}"
    return f"{int(n)} bytes"


def check_allocation(nbytes: int, what: str, available: int | None = None) -> int:
    """Refuse ``what`` (a sentence part naming the file and the object) when it needs more than
    ``available`` bytes (what the file holds; None: not checked) or more than the cap.
    Returns ``nbytes``.

    >>> check_allocation(2**42, "model.ckpt: array 'w' of shape (2**40,) float32")
    Traceback (most recent call last):
    ResourceLimitError: model.ckpt: array 'w' of shape (2**40,) float32 needs 4 TiB, more than the limit of 16 GiB ...
    """
    if nbytes < 0:
        raise FileFormatError(f"{what}: declares a negative size ({nbytes} bytes)")
    if available is not None and nbytes > available:
        raise ResourceLimitError(f"{what} declares {format_bytes(nbytes)}, but the file holds only "
                                 f"{format_bytes(available)} for it (truncated or forged)")
    cap = max_file_bytes()
    if nbytes > cap:
        raise ResourceLimitError(f"{what} needs {format_bytes(nbytes)}, more than the limit of {format_bytes(cap)} "
                                 f"(raise it with {ENV_VAR} or profondo.backend.limits.set_max_file_bytes)")
    return nbytes


_short = reprlib.Repr()
_short.maxstring, _short.maxother, _short.maxlevel = 60, 60, 2
_short.maxlist = _short.maxtuple = _short.maxdict = _short.maxset = _short.maxfrozenset = _short.maxdeque = 6


def short_repr(value: object) -> str:
    """``repr`` cut to six items a level and two levels (a few hundred characters at most), for error messages about what a file
    holds (a file's structure may be arbitrarily large or deep)."""
    return _short.repr(value)


class _AddressSpace:
    """The context of :func:`limited_growth` (re-entrant: an inner one changes nothing)."""

    active = 0
    budget: int | None = None  # a budget below the cap that the outermost context set (None: the cap)

    def __init__(self, what: str, budget: int | None = None) -> None:
        self.what, self.previous, self.budget = what, None, budget

    def __enter__(self) -> _AddressSpace:
        if _AddressSpace.active == 0:
            _AddressSpace.budget = self.budget if self.budget is not None and self.budget < max_file_bytes() else None
        if _AddressSpace.active == 0 and _resource is not None:
            soft, hard = _resource.getrlimit(_resource.RLIMIT_AS)
            try:
                with open("/proc/self/statm") as f:
                    used = int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
            except (OSError, ValueError):
                used = None
            if used is not None:
                limit = used + (_AddressSpace.budget or max_file_bytes())
                if soft != _resource.RLIM_INFINITY:
                    limit = min(limit, soft)
                if hard != _resource.RLIM_INFINITY:
                    limit = min(limit, hard)
                try:
                    _resource.setrlimit(_resource.RLIMIT_AS, (limit, hard))
                    self.previous = (soft, hard)
                except (ValueError, OSError):
                    pass
        _AddressSpace.active += 1
        return self

    def __exit__(self, kind, error, traceback) -> bool:
        _AddressSpace.active -= 1
        budget = _AddressSpace.budget
        if _AddressSpace.active == 0:
            _AddressSpace.budget = None
        if self.previous is not None:
            _resource.setrlimit(_resource.RLIMIT_AS, self.previous)
        too_big = isinstance(error, ValueError) and any(text in str(error) for text in _TOO_BIG)
        if isinstance(error, (MemoryError, OverflowError)) or too_big:
            if budget is not None:
                raise ResourceLimitError(f"{self.what} needs more memory than the limit of {format_bytes(budget)} "
                                         "set for this work") from None
            raise ResourceLimitError(f"{self.what} needs more memory than the limit of {format_bytes(max_file_bytes())} "
                                     f"(raise it with {ENV_VAR} or profondo.backend.limits.set_max_file_bytes)"
                                     ) from None
        return False


try:
    import resource as _resource

    if not hasattr(_resource, "RLIMIT_AS") or not os.path.exists("/proc/self/statm"):
        _resource = None
except ImportError:  # Windows
    _resource = None
_TOO_BIG = ("array is too big", "Maximum allowed dimension exceeded")  # NumPy's refusals of absurd sizes


def limited_growth(what: str, budget: int | None = None) -> _AddressSpace:
    """A context in which the process may grow by at most the cap, for work whose size a file
    decides (building the layers an architecture file asks for, folding an ONNX model's
    constants): an allocation beyond it fails at once, before any memory is touched, and
    becomes :class:`ResourceLimitError` naming ``what``. On Linux the address-space limit
    (``RLIMIT_AS``) is lowered for the duration, so other threads see the same limit; elsewhere
    only NumPy's own refusals (MemoryError, "array is too big") are turned into the error.

    ``budget`` (bytes) lowers the limit further for this work alone, when it is below the cap
    (a live check of a file that need not hold gigabytes); contexts nested inside keep it.

    >>> with limited_growth("net.yaml: layer 3 (dense)"):
    ...     module = build_layer()
    """
    return _AddressSpace(what, budget)
