"""Read PyTorch weight files (``torch.save``) without torch and without running their code.

Both layouts are read: the legacy stream (torch < 1.6, and ``_use_new_zipfile_serialization
=False``): a magic number, a protocol version, system information, the pickled object,
the list of storage keys, then each storage's element count and little-endian bytes; and
the zip archive of torch >= 1.6 (``archive/data.pkl`` plus one ``archive/data/KEY`` file
per storage). The tar layout of torch <= 0.3 is not supported.

A pickle is a program: each opcode pushes, calls or rewrites something. The file goes through
:class:`TorchUnpickler`, which runs only the opcodes a tensor state dict needs (containers,
numbers, strings, the globals below, their calls, and ``BUILD`` on an ``OrderedDict``) and refuses
every other one (``INST``, ``OBJ``, ``NEWOBJ``, ``BUILD`` on anything else, ...). Its globals are
``collections.OrderedDict``, torch's tensor-rebuild functions and its storage types, mapped to
NumPy reconstructions here, fresh for every file. Every storage's element count, every tensor's
size, stride and offset is checked against the bytes the file holds and against the cap of
:mod:`profondo.backend.limits` before anything is allocated; negative strides are refused, as
``torch.load(weights_only=True)`` does. A refused file raises
:class:`~profondo.backend.limits.FileFormatError` naming what was refused.

>>> state = load_state_dict("efficientnet-lite0-57934424.pth")
>>> state["_conv_stem.weight"].shape
(32, 3, 3, 3)
"""

from __future__ import annotations

import io
import math
import os
import pickle
import zipfile
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np

from ..backend.limits import FileFormatError, ResourceLimitError, check_allocation, max_file_bytes, short_repr

MAGIC_NUMBER = 0x1950A86A20F9469CFC6C
PROTOCOL_VERSION = 1001
MAX_DIMS = 32  # NumPy's limit is 64; no weight has more than a handful
MAX_DEPTH = 100  # nesting of containers in the loaded object (a state dict has 2 or 3)

# torch storage type -> little-endian NumPy dtype (bfloat16 is widened to float32 below).
_STORAGE_DTYPES = {
    "FloatStorage": "<f4", "DoubleStorage": "<f8", "HalfStorage": "<f2", "BFloat16Storage": "<u2",
    "LongStorage": "<i8", "IntStorage": "<i4", "ShortStorage": "<i2", "CharStorage": "i1",
    "ByteStorage": "u1", "BoolStorage": "?",
}


class _StorageType:
    """Stands for ``torch.FloatStorage`` and its kin inside one file's pickle."""

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
            raise FileFormatError("a tensor refers to a storage whose data the file never provides")
        return self.array


class _TensorRef:
    """A tensor waiting for its storage's bytes: resolved into an array after loading. Its size,
    stride and offset were checked against the storage's declared element count when it was made."""

    __slots__ = ("storage", "offset", "size", "stride")

    def __init__(self, storage: _Storage, offset: int, size: tuple[int, ...], stride: tuple[int, ...]) -> None:
        self.storage, self.offset, self.size, self.stride = storage, offset, size, stride

    def resolve(self) -> np.ndarray:
        flat, kind = self.storage.values(), self.storage.kind
        if len(flat) != self.storage.numel:  # the bounds below were proved against numel
            raise FileFormatError(f"a {kind.name} declares {self.storage.numel} elements and holds {len(flat)}")
        if 0 in self.size:
            return np.zeros(self.size, flat.dtype.newbyteorder("="))
        itemsize = flat.dtype.itemsize
        view = np.lib.stride_tricks.as_strided(flat[self.offset:], self.size,
                                               tuple(s * itemsize for s in self.stride), writeable=False)
        array = np.array(view, dtype=flat.dtype.newbyteorder("="), order="C")  # owned, contiguous, native
        if kind.name == "BFloat16Storage":  # the upper half of a float32
            array = (array.astype(np.uint32) << 16).view(np.float32)
        return array


def _ints(value: Any, what: str) -> tuple[int, ...]:
    if not (isinstance(value, (tuple, list)) and len(value) <= MAX_DIMS
            and all(type(v) is int for v in value)):
        raise FileFormatError(f"expected {what} as a tuple of at most {MAX_DIMS} ints, received {short_repr(value)}")
    return tuple(value)


_OPCODES_NEEDED = {  # opcode -> pickle's own handler; the ones a state dict is written with
    op[0]: pickle._Unpickler.dispatch[op[0]] for op in (
        pickle.MARK, pickle.STOP, pickle.POP, pickle.POP_MARK, pickle.DUP, pickle.FLOAT, pickle.INT, pickle.BININT,
        pickle.BININT1, pickle.LONG, pickle.BININT2, pickle.NONE, pickle.PERSID, pickle.BINPERSID, pickle.STRING,
        pickle.BINSTRING, pickle.SHORT_BINSTRING, pickle.UNICODE, pickle.BINUNICODE, pickle.APPEND, pickle.GLOBAL,
        pickle.DICT, pickle.EMPTY_DICT, pickle.APPENDS, pickle.GET, pickle.BINGET, pickle.LIST, pickle.EMPTY_LIST,
        pickle.LONG_BINGET, pickle.PUT, pickle.BINPUT, pickle.LONG_BINPUT, pickle.SETITEM, pickle.TUPLE,
        pickle.EMPTY_TUPLE, pickle.SETITEMS, pickle.BINFLOAT, pickle.PROTO, pickle.TUPLE1, pickle.TUPLE2,
        pickle.TUPLE3, pickle.NEWTRUE, pickle.NEWFALSE, pickle.LONG1, pickle.LONG4, pickle.BINBYTES,
        pickle.SHORT_BINBYTES, pickle.SHORT_BINUNICODE, pickle.BINUNICODE8, pickle.BINBYTES8,
        pickle.STACK_GLOBAL, pickle.MEMOIZE, pickle.FRAME)
}


class _Opcodes(dict):
    """The dispatch table of :class:`TorchUnpickler`: an opcode missing from it is refused by name."""

    def __missing__(self, code: int):
        name = next((n for n in dir(pickle) if n.isupper() and getattr(pickle, n) == bytes([code])), None)
        raise FileFormatError(f"refusing the pickle opcode {name or 'unknown'} ({bytes([code])!r}): a weight file "
                              "needs only containers, numbers, strings and tensors, and this opcode builds or "
                              "rewrites other objects")


class TorchUnpickler(pickle._Unpickler):
    """An Unpickler that builds only dicts, lists, tuples, numbers, strings and tensors.

    It runs the pure-Python unpickling loop over an allow-list of opcodes: every global goes
    through :meth:`find_class`, which answers from a short list made for this file and refuses
    everything else (``os.system``, ``builtins.eval``, a model class); ``REDUCE`` calls only those
    globals; ``BUILD`` applies only to an ``OrderedDict`` (whose ``_metadata`` it drops). Storage
    sizes are checked against ``available`` (the bytes the file holds for storages) and the cap;
    tensors against their storage.
    """

    dispatch = _Opcodes(_OPCODES_NEEDED)

    def __init__(self, file, source: str, storage_reader=None, storage_size=None, available: int | None = None
                 ) -> None:
        super().__init__(file)
        self.source = source
        self.storage_reader = storage_reader  # zip layout: key -> bytes; legacy: None (bytes come later)
        self.storage_size = storage_size  # zip layout: key -> bytes stored for it
        self.available = available  # legacy layout: at most this many bytes follow the pickle
        self.storages: dict[str, _Storage] = {}
        self.allocated = 0  # bytes of storages and tensors so far: all of them together stay under the cap
        self.types = {name: _StorageType(name) for name in _STORAGE_DTYPES}  # per file: nothing shared
        self.globals = {
            ("collections", "OrderedDict"): OrderedDict,
            ("torch._utils", "_rebuild_tensor"): self._rebuild_tensor,
            ("torch._utils", "_rebuild_tensor_v2"): self._rebuild_tensor,
            ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
            ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
            **{("torch", name): kind for name, kind in self.types.items()},
        }
        self.callables = [v for v in self.globals.values() if callable(v)]

    def _refuse(self, what: str) -> FileFormatError:
        return FileFormatError(f"{self.source}: {what}")

    def _account(self, nbytes: int, what: str, available: int | None = None) -> None:
        check_allocation(nbytes, f"{self.source}: {what}", available)
        self.allocated += nbytes
        if self.allocated > max_file_bytes():
            check_allocation(self.allocated, f"{self.source}: its tensors together")

    def find_class(self, module: str, name: str) -> Any:
        try:
            return self.globals[module, name]
        except KeyError:
            raise self._refuse(f"refusing to load the global {module}.{name}: a weight file holds only dicts, lists, "
                               "numbers, strings and tensors, and unpickling anything else can run arbitrary "
                               "code") from None

    def load_reduce(self) -> None:
        args = self.stack.pop()
        func = self.stack[-1]
        if not any(func is c for c in self.callables) or not isinstance(args, tuple):
            raise self._refuse(f"refusing to call {short_repr(func)}: a weight file calls only OrderedDict and "
                               "torch's tensor-rebuild functions")
        if func is OrderedDict and not all(isinstance(a, (list, tuple, dict)) for a in args[:1]):
            raise self._refuse(f"OrderedDict called with {short_repr(args)}")
        self.stack[-1] = func(*args)

    def load_build(self) -> None:
        state = self.stack.pop()
        if type(self.stack[-1]) is not OrderedDict or not isinstance(state, (dict, tuple)):
            raise self._refuse(f"refusing BUILD on a {type(self.stack[-1]).__name__}: a weight file sets state only "
                               "on an OrderedDict (its _metadata), and BUILD elsewhere rewrites objects after "
                               "their checks")
        # The state of a state dict is its `_metadata` (per-module versions), which nothing here reads.

    dispatch[pickle.REDUCE[0]] = load_reduce
    dispatch[pickle.BUILD[0]] = load_build

    def _rebuild_tensor(self, storage, storage_offset, size, stride, *_ignored) -> _TensorRef:
        """``torch._utils._rebuild_tensor(_v2)``: (storage, offset, size, stride, requires_grad, hooks, ...),
        refused unless every element it reads lies inside the storage."""
        if not isinstance(storage, _Storage) or type(storage_offset) is not int:
            raise self._refuse(f"a tensor must be rebuilt from a storage and an int offset, received "
                               f"{type(storage).__name__} and {short_repr(storage_offset)}")
        size, stride = _ints(size, "a tensor size"), _ints(stride, "a tensor stride")
        where = f"a tensor of size {size}, stride {stride} at offset {storage_offset}"
        if len(size) != len(stride):
            raise self._refuse(f"{where}: size and stride differ in length")
        if any(n < 0 for n in size):
            raise self._refuse(f"{where}: negative size")
        if any(s < 0 for s in stride):
            raise self._refuse(f"{where}: negative strides are refused (torch refuses them too); they read "
                               "before the storage")
        if storage_offset < 0:
            raise self._refuse(f"{where}: negative offset")
        numel = math.prod(size)
        if numel:  # as_strided reads raw memory: prove that every element lies inside the storage
            last = storage_offset + sum((n - 1) * s for n, s in zip(size, stride))
            if last >= storage.numel:
                raise self._refuse(f"{where} reaches past its {storage.kind.name} of {storage.numel} elements")
        self._account(numel * storage.kind.dtype.itemsize, where)
        return _TensorRef(storage, storage_offset, size, stride)

    def persistent_load(self, pid: Any) -> _Storage:
        if not (isinstance(pid, tuple) and len(pid) in (5, 6) and pid[0] in ("storage", b"storage")):
            raise self._refuse(f"unsupported persistent id {short_repr(pid)}: expected "
                               "('storage', type, key, location, numel[, view])")
        kind, key, _location, numel, *view = pid[1:]
        if not isinstance(kind, _StorageType) or type(numel) is not int or numel < 0 \
                or not isinstance(key, (str, bytes, int)):
            raise self._refuse(f"malformed storage record {short_repr(pid)}")
        key = key.decode("utf-8", "replace") if isinstance(key, bytes) else str(key)
        storage = self.storages.get(key)
        if storage is None:
            nbytes = numel * kind.dtype.itemsize
            where = f"storage {key!r} of {numel} elements ({kind.name})"
            if self.storage_size is not None:
                stored = self.storage_size(key)
                if stored != nbytes:
                    raise self._refuse(f"{where} needs {nbytes} bytes, the archive holds {stored}")
            self._account(nbytes, where, self.available)
            storage = self.storages[key] = _Storage(kind, numel)
            if self.storage_reader is not None:
                storage.array = _frombytes(self.storage_reader(key), kind, numel, f"{self.source} storage {key}")
        elif storage.kind is not kind or storage.numel != numel:
            raise self._refuse(f"storage {key!r} declared twice, as {storage.numel} {storage.kind.name} and "
                               f"{numel} {kind.name}")
        if view and view[0] is not None:  # legacy view: (view_key, offset, view_numel) into the root
            record = view[0]
            ok = isinstance(record, tuple) and len(record) == 3 and all(type(v) is int for v in record[1:])
            if not ok or not (0 <= record[1] and 0 <= record[2] and record[1] + record[2] <= storage.numel):
                raise self._refuse(f"storage view {short_repr(record)} outside its root of {storage.numel} elements")
            view_key, offset, view_numel = record
            storage = self.storages.setdefault(f"view:{view_key}", _Storage(kind, view_numel, storage, offset))
            if storage.root is None or storage.numel != view_numel or storage.offset != offset:
                raise self._refuse(f"storage view {short_repr(record)} declared twice")
        return storage


def _rebuild_parameter(data, *_ignored):
    """``torch._utils._rebuild_parameter``: a Parameter is its tensor here."""
    if not isinstance(data, _TensorRef):
        raise FileFormatError(f"a Parameter must hold a tensor, received {type(data).__name__}")
    return data


def _frombytes(data: bytes, kind: _StorageType, numel: int, where: str) -> np.ndarray:
    if len(data) != numel * kind.dtype.itemsize:
        raise FileFormatError(f"{where}: expected {numel} elements of {kind.dtype.itemsize} bytes "
                              f"({kind.name}), received {len(data)} bytes")
    return np.frombuffer(data, kind.dtype)


def _resolve(obj: Any, seen: dict[int, Any], depth: int = 0) -> Any:
    """Replace every tensor placeholder in a loaded structure by its array. A container met twice
    (the pickle memo can share one) is resolved once; a container inside itself is refused."""
    if isinstance(obj, _TensorRef):
        return obj.resolve()
    if isinstance(obj, (_Storage, _StorageType)):
        raise FileFormatError("the file holds a bare storage: expected tensors")
    if not isinstance(obj, (dict, list, tuple)):
        return obj
    if depth > MAX_DEPTH:
        raise FileFormatError(f"containers nested more than {MAX_DEPTH} deep: not a state dict")
    key = id(obj)
    if key in seen:
        if seen[key] is None:
            raise FileFormatError("a container holds itself: not a state dict")
        return seen[key]
    seen[key] = None
    if isinstance(obj, dict):
        out: Any = type(obj)((k, _resolve(v, seen, depth + 1)) for k, v in obj.items())
    else:
        out = type(obj)(_resolve(v, seen, depth + 1) for v in obj)
    seen[key] = out
    return out


class _Bounded:
    """A file whose reads may not ask for more bytes than remain: pickle reads a string's or a frame's
    declared length in one call, and a forged length of 2**60 would allocate before failing."""

    def __init__(self, f, size: int, source: str) -> None:
        self.f, self.size, self.source = f, size, source

    def read(self, n: int = -1) -> bytes:
        left = self.size - self.f.tell()
        if n > left:
            raise FileFormatError(f"{self.source}: a record declares {n} bytes, but only {max(left, 0)} remain "
                                  "(truncated or forged)")
        return self.f.read(n)

    def readline(self) -> bytes:
        return self.f.readline(64 * 2**10)  # text records (protocol 0 numbers, GLOBAL names) are short

    def tell(self) -> int:
        return self.f.tell()


def _plain(f, source: str) -> Any:
    """A small header record of the legacy layout: no globals at all."""
    unpickler = TorchUnpickler(f, source)
    unpickler.globals, unpickler.callables = {}, []
    return unpickler.load()


def _load_legacy(f, source: str, size: int) -> Any:
    try:
        magic = _plain(f, source)
    except (FileFormatError, pickle.UnpicklingError, EOFError, ValueError, IndexError, KeyError, TypeError):
        magic = None
    if type(magic) is not int or magic != MAGIC_NUMBER:
        raise FileFormatError(f"{source}: not a PyTorch weight file (neither a zip archive nor a stream starting "
                              "with the legacy magic number)")
    version = _plain(f, source)
    if version != PROTOCOL_VERSION:
        raise FileFormatError(f"{source}: legacy PyTorch protocol version {short_repr(version)}, expected "
                              f"{PROTOCOL_VERSION}")
    info = _plain(f, source)
    if isinstance(info, dict) and not info.get("little_endian", True):
        raise FileFormatError(f"{source}: written on a big-endian machine, which is not supported")
    unpickler = TorchUnpickler(f, source, available=size - f.tell())
    result = unpickler.load()
    keys = _plain(f, source)
    if not isinstance(keys, list):
        raise FileFormatError(f"{source}: expected the list of storage keys after the object, "
                              f"received {type(keys).__name__}")
    for key in keys:
        storage = unpickler.storages.get(str(key))
        if storage is None:
            raise FileFormatError(f"{source}: data for storage {short_repr(key)}, which no tensor uses")
        if storage.array is not None:
            raise FileFormatError(f"{source}: data for storage {short_repr(key)} given twice")
        count = f.read(8)  # the element count precedes the bytes
        if len(count) < 8:
            raise EOFError
        numel = int.from_bytes(count, "little", signed=True)
        if numel != storage.numel:
            raise FileFormatError(f"{source}: storage {key} declares {storage.numel} elements, its data {numel}")
        nbytes = numel * storage.kind.dtype.itemsize
        check_allocation(nbytes, f"{source}: storage {key}", size - f.tell())  # before reading: the bytes are there
        storage.array = _frombytes(f.read(nbytes), storage.kind, storage.numel, f"{source} storage {key}")
    return _resolve(result, {})


def _load_zip(path: Path, source: str) -> Any:
    with zipfile.ZipFile(path) as archive:
        infos = {info.filename: info for info in archive.infolist()}
        pkl = next((n for n in infos if n.endswith("/data.pkl") or n == "data.pkl"), None)
        if pkl is None:
            raise FileFormatError(f"{source}: a zip archive without data.pkl: not a torch.save file "
                                  f"(TorchScript archives are not weight files)")
        prefix = pkl[: -len("data.pkl")]
        if prefix + "byteorder" in infos:
            check_allocation(infos[prefix + "byteorder"].file_size, f"{source}: byteorder", 16)
            order = archive.read(prefix + "byteorder").decode("ascii", "replace")
        else:
            order = "little"
        if order != "little":
            raise FileFormatError(f"{source}: byte order {short_repr(order)} is not supported (expected 'little')")

        def stored(key: str) -> int:
            info = infos.get(f"{prefix}data/{key}")
            if info is None:
                raise FileFormatError(f"{source}: storage {key!r} is missing from the archive")
            return info.file_size

        def read(key: str) -> bytes:
            return archive.read(f"{prefix}data/{key}")  # its size was checked by `stored` first

        check_allocation(infos[pkl].file_size, f"{source}: {pkl}")
        unpickler = TorchUnpickler(io.BytesIO(archive.read(pkl)), source, read, stored)
        return _resolve(unpickler.load(), {})


def load(path: str | os.PathLike) -> Any:
    """The object a ``torch.save`` file holds, tensors as NumPy arrays, without running its code.

    Raises :class:`~profondo.backend.limits.FileFormatError` for a file that is damaged, is not a
    weight file, or holds anything but containers, numbers, strings and tensors (naming what it
    refused), and :class:`~profondo.backend.limits.ResourceLimitError` for one that declares more
    than it holds or than the cap.

    >>> load("weights.pth")["fc.bias"].dtype
    dtype('float32')
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"PyTorch weight file not found: {path}")
    try:
        if zipfile.is_zipfile(path):
            return _load_zip(path, str(path))
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            return _load_legacy(_Bounded(f, size, str(path)), str(path), size)
    except (FileFormatError, ResourceLimitError, PermissionError, MemoryError):
        raise
    except EOFError:
        raise FileFormatError(f"{path}: the PyTorch weight file ends early (truncated?)") from None
    except Exception as e:  # pickle's, zipfile's, zlib's, struct's errors on damaged bytes
        raise FileFormatError(f"{path}: not a readable PyTorch weight file ({type(e).__name__}: "
                              f"{short_repr(str(e))})") from None


def load_state_dict(path: str | os.PathLike, key: str | None = None) -> OrderedDict[str, np.ndarray]:
    """A state dict (name -> array) from a ``torch.save`` file, ready for ``Module.load_state_dict``.

    ``key`` picks an entry of a file that wraps the state dict (``{"state_dict": ..., "epoch": ...}``).

    >>> model.load_state_dict(load_state_dict("resnet18.pth"))
    """
    obj = load(path)
    if key is not None:
        if not isinstance(obj, dict) or key not in obj:
            found = short_repr(sorted(map(str, obj))) if isinstance(obj, dict) else type(obj).__name__
            raise KeyError(f"{path}: no entry {key!r} at the top level; found {found}")
        obj = obj[key]
    if not isinstance(obj, dict) or not all(isinstance(v, np.ndarray) for v in obj.values()):
        hint = [k for k, v in obj.items() if isinstance(v, dict)] if isinstance(obj, dict) else []
        raise FileFormatError(f"{path}: expected a state dict (names -> tensors), received a {type(obj).__name__}"
                              + (f"; pass key=NAME, NAME one of {short_repr(hint)}" if hint else ""))
    return OrderedDict((str(k), v) for k, v in obj.items())
