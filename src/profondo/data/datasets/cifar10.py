"""CIFAR-10: 50000 train and 10000 test colour images, (3, 32, 32), 10 classes.

Read from the "python version" (pickled batches), as a folder or as the original archive.
Pickles can run code when loaded, so they go through an unpickler that only builds dicts,
lists, bytes and NumPy arrays.
"""

from __future__ import annotations

import codecs
import io
import math
import pickle
from functools import partial
from pathlib import Path

import numpy as np

from profondo.backend.limits import (
    FileFormatError,
    ResourceLimitError,
    check_allocation,
    format_bytes,
    limited_growth,
    short_repr,
)
from profondo.data.dataset import ArrayDataset
from profondo.data.datasets._sources import cached, check_split, data_home, fetch, not_found, to_dataset

try:
    from numpy._core import multiarray as _multiarray
    from numpy._core import numeric as _numeric
except ImportError:  # NumPy 1.x
    from numpy.core import multiarray as _multiarray
    from numpy.core import numeric as _numeric

URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
SHA256 = "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce"
ARCHIVE = "cifar-10-python.tar.gz"
FOLDER = "cifar-10-batches-py"  # what the archive unpacks to
CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
BATCHES = {"train": tuple(f"data_batch_{i}" for i in range(1, 6)), "test": ("test_batch",)}

MAX_BATCH_BYTES = 256 * 2**20  # a CIFAR batch is 30 MiB; the cap of backend.limits applies as well


def _reconstruct(subtype, shape, dtype):
    """``numpy.core.multiarray._reconstruct``: the empty array a pickled one starts from (shape
    (0,)); a forged shape would allocate before BUILD fills it in, so it is checked first."""
    if subtype is not np.ndarray or not isinstance(shape, tuple) or not all(type(n) is int for n in shape):
        raise FileFormatError(f"refusing _reconstruct({short_repr(subtype)}, {short_repr(shape)}, ...)")
    check_allocation(math.prod(shape) * np.dtype(dtype).itemsize, f"an array of shape {shape}", 0)
    return _multiarray._reconstruct(subtype, shape, dtype)


def _dtype(obj, align=False, copy=False):
    """``numpy.dtype``, always a new object: BUILD may set its state, which must not reach NumPy's shared ones."""
    return np.dtype(obj, bool(align), True)


def _frombuffer(buf, dtype, shape, order):
    if not isinstance(buf, (bytes, bytearray)):
        raise FileFormatError(f"refusing _frombuffer over a {type(buf).__name__}")
    return _numeric._frombuffer(buf, dtype, shape, order)


# Everything a CIFAR batch needs; NumPy moved its internals from numpy.core to numpy._core
# in 2.0, and files written by either version name their own.
_ALLOWED = {
    ("_codecs", "encode"): codecs.encode,  # protocol 2 spells bytes objects this way
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): _dtype,
    **{(f"numpy.{core}.multiarray", "_reconstruct"): _reconstruct for core in ("core", "_core")},
    **{(f"numpy.{core}.numeric", "_frombuffer"): _frombuffer for core in ("core", "_core")},
}


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickler that refuses every global except the few NumPy arrays are rebuilt with."""

    def __init__(self, file: io.BufferedIOBase, source: str) -> None:
        super().__init__(file, encoding="bytes")  # CIFAR's batches were pickled by Python 2
        self.source = source

    def find_class(self, module: str, name: str) -> object:
        try:
            return _ALLOWED[module, name]
        except KeyError:
            raise FileFormatError(
                f"refusing to load {module}.{name} from {self.source}: a CIFAR-10 batch holds "
                "only dicts, lists, bytes and NumPy arrays, and unpickling anything else can run "
                "arbitrary code"
            ) from None


def restricted_loads(data: bytes, source: str) -> object:
    """Unpickle ``data`` with :class:`RestrictedUnpickler`; a damaged or forged batch raises
    :class:`~profondo.backend.limits.FileFormatError`."""
    try:
        with limited_growth(f"{source}: its arrays"):
            return RestrictedUnpickler(io.BytesIO(data), source).load()
    except FileFormatError:
        raise
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, KeyError, IndexError, AttributeError,
            RecursionError, OverflowError, UnicodeDecodeError, LookupError) as e:
        raise FileFormatError(f"{source}: not a readable CIFAR-10 batch ({type(e).__name__}: "
                              f"{short_repr(str(e))})") from None


def _field(batch: dict, key: str, source: str) -> object:
    for candidate in (key.encode(), key):
        if candidate in batch:
            return batch[candidate]
    raise FileFormatError(f"{source}: expected a dict with key {key.encode()!r}, received keys {short_repr(list(batch))}")


def _parse(files: dict[str, bytes], split: str) -> dict[str, np.ndarray]:
    images, labels = [], []
    for name in BATCHES[split]:
        if name not in files:
            raise FileFormatError(f"expected a CIFAR-10 batch named {name}, received only {sorted(files)}")
        batch = restricted_loads(files[name], name)
        if not isinstance(batch, dict):
            raise FileFormatError(f"{name}: expected a pickled dict, received {type(batch).__name__}")
        data = np.asarray(_field(batch, "data", name))
        targets = np.asarray(_field(batch, "labels", name))
        if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
            raise FileFormatError(f"{name}: expected b'data' as uint8 of shape (N, 3072), "
                             f"received {data.dtype} {data.shape}")
        if targets.shape != (len(data),) or targets.min(initial=0) < 0 or targets.max(initial=0) > 9:
            raise FileFormatError(f"{name}: expected {len(data)} labels in 0-9, received shape "
                             f"{targets.shape} with values {targets[:10].tolist()}")
        images.append(data.reshape(-1, 3, 32, 32))  # rows are the R, G, B planes in turn
        labels.append(targets.astype(np.uint8))
    classes = CLASSES
    if "batches.meta" in files:
        meta = restricted_loads(files["batches.meta"], "batches.meta")
        classes = tuple(n.decode() if isinstance(n, bytes) else n for n in _field(meta, "label_names", "batches.meta"))
    return {"images": np.concatenate(images), "labels": np.concatenate(labels), "classes": np.array(classes)}


def _check_size(nbytes: int, what: str) -> None:
    if nbytes > MAX_BATCH_BYTES:
        raise ResourceLimitError(f"{what}: {format_bytes(nbytes)}, but a CIFAR-10 batch holds 30 MiB (at most "
                                 f"{format_bytes(MAX_BATCH_BYTES)} are read)")
    check_allocation(nbytes, what)


def _read_folder(folder: Path, names: list[str]) -> dict[str, bytes]:
    files = {}
    for name in names:
        if (folder / name).is_file():
            _check_size((folder / name).stat().st_size, f"{folder / name}")
            files[name] = (folder / name).read_bytes()
    return files


def _read_archive(archive: Path, names: list[str]) -> dict[str, bytes]:
    import tarfile

    with tarfile.open(archive, "r:gz") as tar:
        members = {Path(m.name).name: m for m in tar.getmembers() if m.isfile()}
        files = {}
        for name in names:
            if name in members:  # the size a member declares is what it decompresses to: check it first
                _check_size(members[name].size, f"{archive}: member {name}")
                files[name] = tar.extractfile(members[name]).read()
        return files


def _load_folder(folder: Path, split: str) -> ArrayDataset | None:
    """The split from pickled batches in ``folder`` (or its cifar-10-batches-py) or from the
    archive in it; None if none is there."""
    names = [*BATCHES[split], "batches.meta"]
    batches = next((f for f in (folder, folder / FOLDER) if all((f / n).is_file() for n in BATCHES[split])), None)
    if batches is not None:
        sources = [batches / name for name in names if (batches / name).is_file()]
        read = partial(_read_folder, batches, names)
    elif (folder / ARCHIVE).is_file():
        sources, read = [folder / ARCHIVE], partial(_read_archive, folder / ARCHIVE, names)
    else:
        return None
    arrays = cached(f"cifar10-{split}", sources, lambda: _parse(read(), split))
    return to_dataset(arrays["images"], arrays["labels"], arrays["classes"].tolist())


def cifar10(split: str = "train", root: str | Path | None = None, download: bool = True) -> ArrayDataset:
    """CIFAR-10 as float32 images (N, 3, 32, 32) in [0, 1] and int64 labels 0-9.

    Reads data_batch_1..5 / test_batch (and batches.meta for the class names) from ``root``,
    ``root/cifar-10-batches-py`` or ``root/cifar-10-python.tar.gz``; without ``root``, from
    the download folder under $PROFONDO_DATA, or by download with a SHA-256 check.
    """
    check_split(split)
    download_folder = data_home() / "cifar10"
    folder = Path(root) if root is not None else download_folder
    dataset = _load_folder(folder, split)
    if dataset is not None:
        return dataset
    wanted = f"{', '.join(BATCHES[split])} (directly or in {FOLDER}/) or {ARCHIVE}"
    looked = [f"{'root' if root is not None else 'download folder'} {folder}: "
              f"{'not there' if folder.is_dir() else 'no such folder'}"]
    if root is None and download:
        try:
            fetch([URL], download_folder / ARCHIVE, SHA256)
            return _load_folder(download_folder, split)
        except OSError as error:
            looked.append(f"download: failed ({error})")
    elif root is None:
        looked.append("download: not tried (download=False)")
    raise not_found("CIFAR-10", split, wanted, looked, (
        f"download {URL} (SHA-256 {SHA256}) into a folder and pass it as root= "
        "(--data-dir on the command line); unpacking it is optional",
        "call with download=True while online; files go to $PROFONDO_DATA (default ~/.cache/profondo)",
    ))
