"""Read PyTorch weight files (``torch.save``) without torch and without running their code.

Both layouts are read: the legacy stream (torch < 1.6, and ``_use_new_zipfile_serialization
=False``): a magic number, a protocol version, system information, the pickled object,
the list of storage keys, then each storage's element count and little-endian bytes; and
the zip archive of torch >= 1.6 (``archive/data.pkl`` plus one ``archive/data/KEY`` file
per storage). The tar layout of torch <= 0.3 is not supported.

A pickle can call any importable function, so the file goes through :class:`TorchUnpickler`,
which maps the few globals a state dict needs (``collections.OrderedDict``, torch's
tensor-rebuild functions and its storage types) to NumPy reconstructions here and refuses
everything else. Tensors come back as NumPy arrays, checked against their storage's bounds.

>>> state = load_state_dict("efficientnet-lite0-57934424.pth")
>>> state["_conv_stem.weight"].shape
(32, 3, 3, 3)
"""

from __future__ import annotations

import io
import os
import pickle
import zipfile
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np

MAGIC_NUMBER = 0x1950A86A20F9469CFC6C
PROTOCOL_VERSION = 1001

# torch storage type -> little-endian NumPy dtype (bfloat16 is widened to float32 below).
_STORAGE_DTYPES = {
    "FloatStorage": "<f4", "DoubleStorage": "<f8", "HalfStorage": "<f2", "BFloat16Storage": "<u2",
    "LongStorage": "<i8", "IntStorage": "<i4", "ShortStorage": "<i2", "CharStorage": "i1",
    "ByteStorage": "u1", "BoolStorage": "?",
}


class _StorageType:
    """Stands for ``torch.FloatStorage`` and its kin inside the pickle."""

    __slots__ = ("name", "dtype")

    def __init__(self, name: str) -> None:
        self.name, self.dtype = name, np.dtype(_STORAGE_DTYPES[name])


class _Storage:
    """A flat typed buffer; in the legacy layout its bytes arrive after the pickle, so
    ``array`` is filled in later. A view shares its root's buffer from ``offset`` on."""

    __slots__ = ("kind", "numel", "root", "offset", "array")

    def __init__(self, kind: _StorageType, numel: int, root: _Storage | None = None, offset: int = 0) -> None:
        self.kind, self.numel, self.root, self.offset, self.array = kind, numel, root, offset, None

    def values(self) -> np.ndarray:
        if self.root is not None:
            return self.root.values()[self.offset: self.offset + self.numel]
        if self.array is None:
            raise pickle.UnpicklingError("a tensor refers to a storage whose data the file never provides")
        return self.array


class _TensorRef:
    """A tensor waiting for its storage's bytes: resolved into an array after loading."""

    __slots__ = ("storage", "offset", "size", "stride")

    def __init__(self, storage: _Storage, offset: int, size: tuple[int, ...], stride: tuple[int, ...]) -> None:
        self.storage, self.offset, self.size, self.stride = storage, offset, size, stride

    def resolve(self) -> np.ndarray:
        flat, kind = self.storage.values(), self.storage.kind
        if 0 in self.size:
            return np.zeros(self.size, flat.dtype.newbyteorder("="))
        # as_strided reads raw memory: prove that every element lies inside the storage first.
        last = self.offset + sum((n - 1) * s for n, s in zip(self.size, self.stride))
        if self.offset < 0 or last >= len(flat):
            raise pickle.UnpicklingError(f"a tensor of size {self.size}, stride {self.stride} at offset "
                                         f"{self.offset} reaches past its {kind.name} of {len(flat)} elements")
        itemsize = flat.dtype.itemsize
        view = np.lib.stride_tricks.as_strided(flat[self.offset:], self.size,
                                               tuple(s * itemsize for s in self.stride), writeable=False)
        array = np.array(view, dtype=flat.dtype.newbyteorder("="), order="C")  # owned, contiguous, native
        if kind.name == "BFloat16Storage":  # the upper half of a float32
            array = (array.astype(np.uint32) << 16).view(np.float32)
        return array


def _ints(value: Any, what: str) -> tuple[int, ...]:
    if not isinstance(value, (tuple, list)) or not all(isinstance(v, int) and v >= 0 for v in value):
        raise pickle.UnpicklingError(f"expected {what} as a tuple of non-negative ints, received {value!r}")
    return tuple(value)


def _rebuild_tensor(storage, storage_offset, size, stride, *_ignored) -> _TensorRef:
    """``torch._utils._rebuild_tensor(_v2)``: (storage, offset, size, stride, requires_grad, hooks, ...)."""
    if not isinstance(storage, _Storage) or not isinstance(storage_offset, int):
        raise pickle.UnpicklingError(f"a tensor must be rebuilt from a storage and an int offset, received "
                                     f"{type(storage).__name__} and {storage_offset!r}")
    size, stride = _ints(size, "a tensor size"), _ints(stride, "a tensor stride")
    if len(size) != len(stride):
        raise pickle.UnpicklingError(f"tensor size {size} and stride {stride} differ in length")
    return _TensorRef(storage, storage_offset, size, stride)


def _rebuild_parameter(data, *_ignored):
    """``torch._utils._rebuild_parameter``: a Parameter is its tensor here."""
    return data


_GLOBALS = {
    ("collections", "OrderedDict"): OrderedDict,
    ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
    **{("torch", name): _StorageType(name) for name in _STORAGE_DTYPES},
}


class TorchUnpickler(pickle.Unpickler):
    """An Unpickler that builds only dicts, lists, numbers, strings and tensors.

    Every global the pickle names goes through :meth:`find_class`, which answers from a short
    allow-list and raises ``pickle.UnpicklingError`` for anything else (``os.system``,
    ``builtins.eval``, a model class), so loading a file cannot run code from it.
    """

    def __init__(self, file, source: str, storage_reader=None) -> None:
        super().__init__(file)
        self.source = source
        self.storage_reader = storage_reader  # zip layout: key -> bytes; legacy: None (bytes come later)
        self.storages: dict[str, _Storage] = {}

    def find_class(self, module: str, name: str) -> Any:
        try:
            return _GLOBALS[module, name]
        except KeyError:
            raise pickle.UnpicklingError(
                f"{self.source}: refusing to load the global {module}.{name}: a weight file holds only "
                "dicts, lists, numbers, strings and tensors, and unpickling anything else can run "
                "arbitrary code") from None

    def persistent_load(self, pid: Any) -> _Storage:
        if not (isinstance(pid, tuple) and pid and pid[0] in ("storage", b"storage")):
            raise pickle.UnpicklingError(f"{self.source}: unsupported persistent id {pid!r:.80}: expected "
                                         "('storage', type, key, location, numel[, view])")
        kind, key, _location, numel, *view = pid[1:]
        if not isinstance(kind, _StorageType) or not isinstance(numel, int) or numel < 0:
            raise pickle.UnpicklingError(f"{self.source}: malformed storage record {pid!r:.120}")
        key = key.decode() if isinstance(key, bytes) else str(key)
        storage = self.storages.get(key)
        if storage is None:
            storage = self.storages[key] = _Storage(kind, numel)
            if self.storage_reader is not None:
                storage.array = _frombytes(self.storage_reader(key), kind, numel, f"{self.source} storage {key}")
        if view and view[0] is not None:  # legacy view: (view_key, offset, view_numel) into the root
            view_key, offset, view_numel = view[0]
            if not (isinstance(offset, int) and isinstance(view_numel, int) and 0 <= offset
                    and offset + view_numel <= storage.numel):
                raise pickle.UnpicklingError(f"{self.source}: storage view {view[0]!r} outside its root of "
                                             f"{storage.numel} elements")
            storage = self.storages.setdefault(f"view:{view_key}", _Storage(kind, view_numel, storage, offset))
        return storage


def _frombytes(data: bytes, kind: _StorageType, numel: int, where: str) -> np.ndarray:
    if len(data) != numel * kind.dtype.itemsize:
        raise pickle.UnpicklingError(f"{where}: expected {numel} elements of {kind.dtype.itemsize} bytes "
                                     f"({kind.name}), received {len(data)} bytes")
    return np.frombuffer(data, kind.dtype)


def _resolve(obj: Any) -> Any:
    """Replace every tensor placeholder in a loaded structure by its array."""
    if isinstance(obj, _TensorRef):
        return obj.resolve()
    if isinstance(obj, dict):
        return type(obj)((k, _resolve(v)) for k, v in obj.items())
    if isinstance(obj, (list, tuple)):
        return type(obj)(_resolve(v) for v in obj)
    if isinstance(obj, (_Storage, _StorageType)):
        raise pickle.UnpicklingError("the file holds a bare storage: expected tensors")
    return obj


class _PlainUnpickler(pickle.Unpickler):
    """For the small header records of the legacy layout: no globals at all."""

    def find_class(self, module: str, name: str) -> Any:
        raise pickle.UnpicklingError(f"refusing the global {module}.{name} in a PyTorch file header")


def _load_legacy(f, source: str) -> Any:
    header = _PlainUnpickler(f)
    try:
        magic = header.load()
    except (pickle.UnpicklingError, EOFError, ValueError, IndexError):
        magic = None
    if magic != MAGIC_NUMBER:
        raise ValueError(f"{source}: not a PyTorch weight file (neither a zip archive nor a stream starting "
                         "with the legacy magic number)")
    version = header.load()
    if version != PROTOCOL_VERSION:
        raise ValueError(f"{source}: legacy PyTorch protocol version {version}, expected {PROTOCOL_VERSION}")
    info = header.load()
    if isinstance(info, dict) and not info.get("little_endian", True):
        raise ValueError(f"{source}: written on a big-endian machine, which is not supported")
    unpickler = TorchUnpickler(f, source)
    result = unpickler.load()
    keys = _PlainUnpickler(f).load()
    if not isinstance(keys, list):
        raise pickle.UnpicklingError(f"{source}: expected the list of storage keys after the object, "
                                     f"received {type(keys).__name__}")
    for key in keys:
        storage = unpickler.storages.get(str(key))
        if storage is None:
            raise pickle.UnpicklingError(f"{source}: data for storage {key!r}, which no tensor uses")
        count = f.read(8)  # the element count precedes the bytes
        if len(count) < 8:
            raise EOFError
        numel = int.from_bytes(count, "little", signed=True)
        if numel != storage.numel:
            raise pickle.UnpicklingError(f"{source}: storage {key} declares {storage.numel} elements, "
                                         f"its data {numel}")
        storage.array = _frombytes(f.read(numel * storage.kind.dtype.itemsize), storage.kind, storage.numel,
                                   f"{source} storage {key}")
    return _resolve(result)


def _load_zip(path: Path, source: str) -> Any:
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        pkl = next((n for n in names if n.endswith("/data.pkl") or n == "data.pkl"), None)
        if pkl is None:
            raise ValueError(f"{source}: a zip archive without data.pkl: not a torch.save file "
                             f"(TorchScript archives are not weight files)")
        prefix = pkl[: -len("data.pkl")]
        order = archive.read(prefix + "byteorder").decode() if prefix + "byteorder" in names else "little"
        if order != "little":
            raise ValueError(f"{source}: byte order {order!r} is not supported (expected 'little')")

        def read(key: str) -> bytes:
            try:
                return archive.read(f"{prefix}data/{key}")
            except KeyError:
                raise pickle.UnpicklingError(f"{source}: storage {key!r} is missing from the archive") from None

        return _resolve(TorchUnpickler(io.BytesIO(archive.read(pkl)), source, read).load())


def load(path: str | os.PathLike) -> Any:
    """The object a ``torch.save`` file holds, tensors as NumPy arrays, without running its code.

    >>> load("weights.pth")["fc.bias"].dtype
    dtype('float32')
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"PyTorch weight file not found: {path}")
    if zipfile.is_zipfile(path):
        return _load_zip(path, str(path))
    with open(path, "rb") as f:
        try:
            return _load_legacy(f, str(path))
        except EOFError:
            raise ValueError(f"{path}: the PyTorch weight file ends early (truncated?)") from None


def load_state_dict(path: str | os.PathLike, key: str | None = None) -> OrderedDict[str, np.ndarray]:
    """A state dict (name -> array) from a ``torch.save`` file, ready for ``Module.load_state_dict``.

    ``key`` picks an entry of a file that wraps the state dict (``{"state_dict": ..., "epoch": ...}``).

    >>> model.load_state_dict(load_state_dict("resnet18.pth"))
    """
    obj = load(path)
    if key is not None:
        if not isinstance(obj, dict) or key not in obj:
            found = sorted(obj) if isinstance(obj, dict) else type(obj).__name__
            raise KeyError(f"{path}: no entry {key!r} at the top level; found {found}")
        obj = obj[key]
    if not isinstance(obj, dict) or not all(isinstance(v, np.ndarray) for v in obj.values()):
        hint = [k for k, v in obj.items() if isinstance(v, dict)] if isinstance(obj, dict) else []
        raise ValueError(f"{path}: expected a state dict (names -> tensors), received a {type(obj).__name__}"
                         + (f"; pass key=NAME, NAME one of {hint}" if hint else ""))
    return OrderedDict((str(k), v) for k, v in obj.items())
