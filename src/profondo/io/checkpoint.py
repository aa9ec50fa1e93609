"""The checkpoint file: named arrays plus JSON metadata in one ``.npz``, written atomically.

Loading never unpickles, so opening a file cannot run code, and it allocates nothing a file
merely declares: each array's ``.npy`` header is read first and its size checked against the
bytes stored for it and the cap of :mod:`profondo.backend.limits`.
Array names are namespaced (``model/conv1.weight``, ``optimizer/3/exp_avg``); the
metadata (architecture, epoch, step, RNG state, metrics, optimizer hyperparameters) is
one JSON document stored as bytes under ``__meta__``.

Every file here is written by :func:`atomic_write`: a temporary file ``.NAME.XXXXXXXX.tmp`` in
the same folder, fsync, then a rename over ``NAME``, with the permissions any new file gets
(0666 less the umask). A process killed while writing leaves the temporary file, which
:func:`remove_temporaries` deletes on the next start.
"""

from __future__ import annotations

import json
import math
import os
import secrets
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np

from ..backend.limits import FileFormatError, ResourceLimitError, check_allocation, max_file_bytes, short_repr

FORMAT_VERSION = 1
MAX_META_BYTES = 64 * 2**20  # the JSON metadata: architecture, history, RNG states


@dataclass
class Checkpoint:
    """What a checkpoint holds: ``arrays`` grouped by namespace and ``meta`` (JSON)."""

    arrays: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    meta: dict = field(default_factory=dict)

    def group(self, name: str) -> dict[str, np.ndarray]:
        return self.arrays.get(name, {})


def _temporaries(path: Path) -> list[Path]:
    return sorted(path.parent.glob(f".{path.name}.*.tmp"))


def remove_temporaries(path: str | os.PathLike) -> list[Path]:
    """Delete what a killed :func:`atomic_write` of ``path`` left behind; returns the files deleted."""
    removed = []
    for tmp in _temporaries(Path(path)):
        tmp.unlink(missing_ok=True)
        removed.append(tmp)
    return removed


def atomic_write(path: str | os.PathLike, write: Callable[[BinaryIO], object]) -> Path:
    """``write(file)`` into a temporary file beside ``path``, fsync, then rename it over ``path``.

    A crash at any moment leaves either the previous file or the new one, never half of one. The
    file gets the permissions of any new file (0666 less the umask), not a temporary file's 0600.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if hasattr(os, "O_DIRECTORY"):  # the rename itself survives a power cut once the folder is synced
        try:
            dirfd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
        except OSError:
            return path
        try:
            os.fsync(dirfd)
        except OSError:
            pass
        finally:
            os.close(dirfd)
    return path


def write_checkpoint(path: str | os.PathLike, checkpoint: Checkpoint) -> Path:
    """Write atomically (see :func:`atomic_write`)."""
    flat = {}
    for group, arrays in checkpoint.arrays.items():
        for name, array in arrays.items():
            flat[f"{group}/{name}"] = np.asarray(array)
    meta = dict(checkpoint.meta, format_version=FORMAT_VERSION)
    flat["__meta__"] = np.frombuffer(json.dumps(meta, default=_json_default).encode(), dtype=np.uint8)
    return atomic_write(path, lambda f: np.savez(f, **flat))


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, source: str, budget: list[int]) -> np.ndarray:
    """One ``.npy`` member: header first, then exactly the bytes it declares, checked before allocation."""
    fmt = np.lib.format
    where = f"{source}: array {short_repr(info.filename[:-4])}"
    with archive.open(info) as f:
        version = fmt.read_magic(f)
        if version not in ((1, 0), (2, 0), (3, 0)):
            raise FileFormatError(f"{where}: .npy format version {version} is not supported")
        reader = fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0
        shape, fortran, dtype = reader(f)
        if dtype.hasobject:
            raise FileFormatError(f"{where}: holds Python objects ({dtype}), which only pickle can read; "
                                  "a checkpoint holds numbers")
        if any(type(n) is not int or n < 0 for n in shape):
            raise FileFormatError(f"{where}: malformed shape {short_repr(shape)}")
        nbytes = math.prod(shape) * dtype.itemsize
        described = f"{where} of shape {shape} {dtype}"
        check_allocation(nbytes, described, info.file_size - f.tell())
        budget[0] += nbytes
        if budget[0] > max_file_bytes():
            check_allocation(budget[0], f"{source}: its arrays together")
        buffer = bytearray(nbytes)
        if f.readinto(memoryview(buffer)) != nbytes:
            raise FileFormatError(f"{described}: the data ends early")
    array = np.frombuffer(buffer, dtype)
    return array.reshape(shape[::-1]).T if fortran else array.reshape(shape)


def read_npz(path: str | os.PathLike, what: str = "profondo checkpoint") -> dict[str, np.ndarray]:
    """The arrays of an ``.npz`` file (no pickle, nothing allocated that the file only declares).

    Raises :class:`~profondo.backend.limits.FileFormatError` (``what`` names the expected kind of
    file) or :class:`~profondo.backend.limits.ResourceLimitError` for a damaged or forged file.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{what.split()[-1]} not found: {path}")
    if path.is_dir():
        raise FileFormatError(f"{path} is a folder, not a {what} (an .npz archive)")
    try:
        with zipfile.ZipFile(path) as archive:
            arrays, budget = {}, [0]
            for info in archive.infolist():
                if not info.filename.endswith(".npy"):
                    raise FileFormatError(f"{path}: member {short_repr(info.filename)} is not an .npy array")
                arrays[info.filename[:-4]] = _read_member(archive, info, str(path), budget)
            return arrays
    except (FileFormatError, ResourceLimitError, PermissionError, MemoryError):
        raise
    except Exception as e:  # zipfile's, zlib's and NumPy's header parser's errors (even tokenize's): a damaged file
        raise FileFormatError(f"{path} is not a {what} (an .npz archive): {type(e).__name__}: "
                              f"{short_repr(str(e))}") from None


def read_checkpoint(path: str | os.PathLike) -> Checkpoint:
    """Read a checkpoint written by :func:`write_checkpoint` (no pickle: data only)."""
    path = Path(path)
    flat = read_npz(path, "profondo checkpoint")
    if "__meta__" not in flat:
        raise FileFormatError(f"{path} has no __meta__ entry: not a profondo checkpoint")
    meta = _parse_meta(path, flat.pop("__meta__"))
    arrays: dict[str, dict[str, np.ndarray]] = {}
    for key, array in flat.items():
        group, _, name = key.partition("/")
        arrays.setdefault(group, {})[name] = array
    return Checkpoint(arrays, meta)


def read_checkpoint_meta(path: str | os.PathLike) -> dict:
    """Only the metadata of a checkpoint (its arrays, a replay buffer say, are not read)."""
    path = Path(path)
    try:
        with zipfile.ZipFile(path) as archive:
            info = archive.getinfo("__meta__.npy")
            raw = _read_member(archive, info, str(path), [0])
    except KeyError:
        raise FileFormatError(f"{path} has no __meta__ entry: not a profondo checkpoint") from None
    except (FileNotFoundError, FileFormatError, ResourceLimitError, PermissionError, MemoryError):
        raise
    except Exception as e:  # as in read_npz: a damaged file
        raise FileFormatError(f"{path} is not a profondo checkpoint (an .npz archive): {type(e).__name__}: "
                              f"{short_repr(str(e))}") from None
    return _parse_meta(path, raw)


def _parse_meta(path: Path, raw: np.ndarray) -> dict:
    """The JSON object stored as the ``__meta__`` bytes of a checkpoint."""
    if raw.dtype != np.uint8 or raw.ndim != 1 or raw.size > MAX_META_BYTES:
        raise FileFormatError(f"{path}: __meta__ expected JSON bytes (uint8, at most {MAX_META_BYTES} bytes), "
                              f"received {raw.dtype} of shape {raw.shape}")
    try:
        meta = json.loads(raw.tobytes().decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise FileFormatError(f"{path}: __meta__ is not JSON text ({type(e).__name__})") from None
    if not isinstance(meta, dict):
        raise FileFormatError(f"{path}: __meta__ expected a JSON object, received {type(meta).__name__}")
    return meta


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (set, tuple)):
        return list(value)
    raise TypeError(f"checkpoint metadata: cannot store a {type(value).__name__} as JSON")
