"""Standard data sets as ArrayDatasets of float32 channels-first images and int64 labels."""

from __future__ import annotations

from pathlib import Path

from profondo.data.dataset import ArrayDataset
from profondo.data.datasets._sources import DatasetNotFoundError
from profondo.data.datasets.cifar10 import cifar10
from profondo.data.datasets.digits import digits
from profondo.data.datasets.fashion_mnist import fashion_mnist
from profondo.data.datasets.image_folder import image_folder
from profondo.data.datasets.mnist import mnist

__all__ = ["DatasetNotFoundError", "cifar10", "digits", "fashion_mnist", "image_folder", "load_dataset", "mnist"]

_LOADERS = {"mnist": mnist, "fashion-mnist": fashion_mnist, "cifar10": cifar10, "digits": digits}


def load_dataset(name: str, split: str = "train", root: str | Path | None = None) -> ArrayDataset:
    """Load a data set by name: "mnist", "fashion-mnist", "cifar10" or "digits", or the path of
    an image folder (one sub-folder per class, see :func:`image_folder`).

    Case, "_" and "-" do not matter ("fashion_mnist", "CIFAR-10"). ``root`` is the folder
    holding the files (``--data-dir``); digits ships with scikit-learn and an image folder is
    its own path, so both ignore it. A name is a name first: give a folder called "mnist" as
    "./mnist".
    """
    canonical = {key.replace("-", ""): key for key in _LOADERS}
    key = canonical.get(name.lower().replace("_", "").replace("-", ""))
    if key is None:
        if Path(name).is_dir():
            return image_folder(name, split)
        raise ValueError(f"unknown dataset {name!r}: expected one of {', '.join(map(repr, _LOADERS))} "
                         "or the path of an image folder (one sub-folder per class)")
    if key == "digits":
        return digits(split)
    return _LOADERS[key](split, root=root)
