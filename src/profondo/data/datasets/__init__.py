"""Standard data sets as ArrayDatasets of float32 channels-first images and int64 labels."""

from __future__ import annotations

from pathlib import Path

from profondo.data.dataset import ArrayDataset
from profondo.data.datasets._sources import DatasetNotFoundError
from profondo.data.datasets.cifar10 import cifar10
from profondo.data.datasets.digits import digits
from profondo.data.datasets.fashion_mnist import fashion_mnist
from profondo.data.datasets.mnist import mnist

__all__ = ["DatasetNotFoundError", "cifar10", "digits", "fashion_mnist", "load_dataset", "mnist"]

_LOADERS = {"mnist": mnist, "fashion-mnist": fashion_mnist, "cifar10": cifar10, "digits": digits}


def load_dataset(name: str, split: str = "train", root: str | Path | None = None) -> ArrayDataset:
    """Load a data set by name: "mnist", "fashion-mnist", "cifar10" or "digits".

    Case, "_" and "-" do not matter ("fashion_mnist", "CIFAR-10"). ``root`` is the folder
    holding the files (``--data-dir``); digits ships with scikit-learn and ignores it.
    """
    canonical = {key.replace("-", ""): key for key in _LOADERS}
    key = canonical.get(name.lower().replace("_", "").replace("-", ""))
    if key is None:
        raise ValueError(f"unknown dataset {name!r}: expected one of {', '.join(map(repr, _LOADERS))}")
    if key == "digits":
        return digits(split)
    return _LOADERS[key](split, root=root)
