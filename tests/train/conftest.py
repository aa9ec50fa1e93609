import numpy as np
import pytest


@pytest.fixture(scope="session")
def mnist_slice():
    """2,048 training and 1,000 test images of real MNIST (skips when it is not installed)."""
    from profondo.data import DatasetNotFoundError, load_dataset

    try:
        train, test = load_dataset("mnist", "train"), load_dataset("mnist", "test")
    except DatasetNotFoundError as e:
        pytest.skip(f"MNIST not installed: {e}")
    return (train.x[:2048], train.y[:2048]), (test.x[:1000], test.y[:1000])


@pytest.fixture
def blobs():
    """Three well-separated Gaussian blobs in 8-D: a problem any working trainer solves."""
    rng = np.random.default_rng(0)
    centers = rng.standard_normal((3, 8)) * 3
    y = rng.integers(0, 3, 600)
    x = (centers[y] + rng.standard_normal((600, 8))).astype(np.float32)
    return x, y.astype(np.int64)
