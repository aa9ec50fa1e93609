"""scikit-learn's bundled handwritten digits: 1797 images, (1, 8, 8), 10 classes."""

from __future__ import annotations

import numpy as np

from profondo.data.dataset import ArrayDataset
from profondo.data.datasets._sources import DatasetNotFoundError, check_split


def digits(split: str = "train", test_fraction: float = 0.25, seed: int = 0) -> ArrayDataset:
    """The 8x8 digits as float32 images (N, 1, 8, 8) in [0, 1] and int64 labels 0-9.

    The data has no official split: a permutation drawn from ``seed`` puts
    ``round(test_fraction * 1797)`` images in "test" and the rest in "train".
    Needs scikit-learn (``pip install scikit-learn``), which ships the data.
    """
    check_split(split)
    if not 0 < test_fraction < 1:
        raise ValueError(f"digits expected test_fraction in (0, 1), received {test_fraction!r}")
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise DatasetNotFoundError(
            "digits (scikit-learn's bundled 8x8 digits) needs scikit-learn, which is not "
            "installed: pip install scikit-learn"
        ) from None
    bunch = load_digits()
    images = (bunch.images / 16).astype(np.float32)[:, None]  # pixel values are 0-16
    order = np.random.default_rng(seed).permutation(len(images))
    test_size = round(test_fraction * len(images))
    picked = order[:test_size] if split == "test" else order[test_size:]
    return ArrayDataset(images[picked], bunch.target[picked].astype(np.int64),
                        classes=[str(digit) for digit in range(10)])
