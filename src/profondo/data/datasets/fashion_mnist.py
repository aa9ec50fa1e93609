"""Fashion-MNIST: Zalando clothing pictures in MNIST's format, (1, 28, 28), 10 classes."""

from __future__ import annotations

from pathlib import Path

from profondo.data.dataset import ArrayDataset
from profondo.data.datasets.mnist import MnistFormat, load_mnist_format

DEBIAN_FOLDER = Path("/usr/share/datasets/fashion-mnist")  # apt package dataset-fashion-mnist
_MIRROR = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"


def _debian_folder() -> list[tuple[str, Path | None]]:
    return [("Debian package dataset-fashion-mnist", DEBIAN_FOLDER if DEBIAN_FOLDER.is_dir() else None)]


FASHION_MNIST = MnistFormat(
    name="fashion-mnist",
    title="Fashion-MNIST",
    classes=("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
             "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
    csv_names={"train": "fashion-mnist_train.csv", "test": "fashion-mnist_test.csv"},
    mirrors=(_MIRROR,),
    sha256={
        "train-images-idx3-ubyte.gz": "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
        "train-labels-idx1-ubyte.gz": "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
        "t10k-images-idx3-ubyte.gz": "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
        "t10k-labels-idx1-ubyte.gz": "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
    },
    installed=_debian_folder,
    remedies=(
        f"apt install dataset-fashion-mnist  (installs the IDX files in {DEBIAN_FOLDER})",
        f"download the four .gz files from {_MIRROR} (train-images-idx3-ubyte.gz, ...) into a "
        "folder and pass it as root= (--data-dir on the command line)",
        "call with download=True while online; files go to $PROFONDO_DATA (default ~/.cache/profondo)",
    ),
)


def fashion_mnist(split: str = "train", root: str | Path | None = None,
                  download: bool = True) -> ArrayDataset:
    """Fashion-MNIST as float32 images (N, 1, 28, 28) in [0, 1] and int64 labels 0-9.

    Reads IDX files (gzipped or not) or ``fashion-mnist_{split}.csv`` from ``root``; without
    ``root``, from the download folder, the Debian package's folder, or by download with a
    SHA-256 check.
    """
    return load_mnist_format(FASHION_MNIST, split, root, download)
