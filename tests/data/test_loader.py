import threading
import time

import numpy as np
import pytest

import profondo
from profondo.data import ArrayDataset, DataLoader, Dataset, random_split
from profondo.data.transforms import RandomShift


def numbered(n=10):
    return ArrayDataset(np.arange(n, dtype=np.float32).reshape(n, 1, 1, 1), np.arange(n, dtype=np.int64))


class Listed(Dataset):
    """A plain dataset, read one sample at a time (the loader's general path)."""

    def __init__(self, n=10, fail_at=None, delay=0.0):
        self.n, self.fail_at, self.delay, self.reads = n, fail_at, delay, 0

    def __len__(self):
        return self.n

    def __getitem__(self, index):
        self.reads += 1
        time.sleep(self.delay)
        if index == self.fail_at:
            raise KeyError(f"sample {index} is corrupt")
        return np.full((1, 1, 1), index, np.float32), np.int64(index)


class NoSampleReads(ArrayDataset):
    def __getitem__(self, index):
        raise AssertionError("the fast path must not read samples one by one")


def labels_of(loader):
    return [batch[1].tolist() for batch in loader]


def loader_threads():
    return [t for t in threading.enumerate() if t.name == "profondo-DataLoader"]


def test_len_and_drop_last():
    assert len(DataLoader(numbered(), batch_size=3)) == 4
    assert len(DataLoader(numbered(), batch_size=3, drop_last=True)) == 3
    assert len(DataLoader(numbered(), batch_size=5, drop_last=True)) == 2
    assert [len(b) for b in labels_of(DataLoader(numbered(), batch_size=3))] == [3, 3, 3, 1]
    assert [len(b) for b in labels_of(DataLoader(numbered(), batch_size=3, drop_last=True, shuffle=True))] == [3, 3, 3]


def test_unshuffled_batches_keep_order_and_dtypes():
    images, labels = next(iter(DataLoader(numbered(), batch_size=4)))
    assert images.shape == (4, 1, 1, 1) and images.dtype == np.float32 and labels.dtype == np.int64
    assert labels_of(DataLoader(numbered(), batch_size=4)) == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]


@pytest.mark.parametrize("prefetch", [0, 2])
def test_every_sample_exactly_once_per_epoch(prefetch):
    loader = DataLoader(numbered(50), batch_size=8, shuffle=True, seed=0, prefetch=prefetch)
    for _ in range(3):
        seen = np.concatenate([labels for _, labels in loader])
        np.testing.assert_array_equal(np.sort(seen), np.arange(50))
        assert not np.array_equal(seen, np.arange(50))


def test_shuffling_reproducible_and_new_each_epoch():
    first, second = (DataLoader(numbered(30), batch_size=30, shuffle=True, seed=3) for _ in range(2))
    epochs = [labels_of(first) for _ in range(3)]
    assert [labels_of(second) for _ in range(3)] == epochs
    assert epochs[0] != epochs[1] != epochs[2]
    later = DataLoader(numbered(30), batch_size=30, shuffle=True, seed=3)
    later.set_epoch(2)
    assert labels_of(later) == epochs[2]  # epoch k depends only on (seed, k)
    assert labels_of(DataLoader(numbered(30), batch_size=30, shuffle=True, seed=4)) != epochs[0]


def test_unseeded_loader_follows_manual_seed():
    profondo.manual_seed(11)
    first = labels_of(DataLoader(numbered(30), batch_size=30, shuffle=True))
    profondo.manual_seed(11)
    assert labels_of(DataLoader(numbered(30), batch_size=30, shuffle=True)) == first


def test_fast_and_general_paths_give_the_same_batches():
    fast = DataLoader(NoSampleReads(numbered(23).x, numbered(23).y), batch_size=5, shuffle=True, seed=1)
    general = DataLoader(Listed(23), batch_size=5, shuffle=True, seed=1)
    for (x1, y1), (x2, y2) in zip(fast, general, strict=True):
        np.testing.assert_array_equal(x1, x2)
        np.testing.assert_array_equal(y1, y2)


def test_fast_path_through_subsets():
    train, _ = random_split(NoSampleReads(numbered(20).x, numbered(20).y), [15, 5], seed=0)
    labels = np.concatenate(labels_of(DataLoader(train, batch_size=4, shuffle=True, seed=0)))
    np.testing.assert_array_equal(np.sort(labels), np.sort(train.indices))


def test_batch_transform_runs_in_the_worker_with_a_seeded_generator():
    names = []

    def record(images, rng):
        names.append(threading.current_thread().name)
        return images + rng.random()

    batches = [b[0] for b in DataLoader(numbered(), batch_size=5, seed=0, transform=record)]
    assert names == ["profondo-DataLoader"] * 2
    again = [b[0] for b in DataLoader(numbered(), batch_size=5, seed=0, transform=record)]
    np.testing.assert_array_equal(np.concatenate(batches), np.concatenate(again))
    list(DataLoader(numbered(), batch_size=5, transform=record, prefetch=0))
    assert names[-1] == threading.current_thread().name


def test_transform_does_not_change_the_order():
    plain = labels_of(DataLoader(numbered(20), batch_size=20, shuffle=True, seed=9))
    augmented = labels_of(DataLoader(numbered(20), batch_size=20, shuffle=True, seed=9, transform=RandomShift(1)))
    assert plain == augmented


@pytest.mark.parametrize("prefetch", [0, 1, 3])
def test_worker_errors_reach_the_consumer_and_the_worker_stops(prefetch):
    loader = DataLoader(Listed(20, fail_at=7), batch_size=2, prefetch=prefetch)
    with pytest.raises(KeyError, match="sample 7 is corrupt"):
        for _ in loader:
            pass
    assert loader_threads() == []


def test_transform_errors_reach_the_consumer():
    def broken(images, rng):
        raise ValueError("bad augmentation")

    with pytest.raises(ValueError, match="bad augmentation"):
        next(iter(DataLoader(numbered(), transform=broken)))
    assert loader_threads() == []


def test_prefetch_is_bounded_and_abandoning_stops_the_worker():
    dataset = Listed(100, delay=0.001)
    for _ in DataLoader(dataset, batch_size=1, prefetch=2):
        time.sleep(0.2)  # give the worker time to run ahead
        break
    # consumed 1, at most 2 queued and 1 in hand before the worker saw the stop
    assert dataset.reads <= 4
    assert loader_threads() == []


def test_argument_errors():
    with pytest.raises(ValueError, match="expected batch_size to be an integer >= 1, received 0"):
        DataLoader(numbered(), batch_size=0)
    with pytest.raises(ValueError, match="expected prefetch to be an integer >= 0, received -1"):
        DataLoader(numbered(), prefetch=-1)
    with pytest.raises(TypeError, match="received int"):
        DataLoader(3)
    with pytest.raises(ValueError, match="non-negative integer"):
        DataLoader(numbered()).set_epoch(-1)


def test_pytorch_defaults_batch_size_1_tensors_and_tensor_dataset():
    from profondo.data import DataLoader, TensorDataset

    ds = TensorDataset(profondo.arange(5.0), profondo.arange(5), profondo.ones(5, 2))
    loader = DataLoader(ds)
    batches = list(loader)
    assert len(loader) == len(batches) == 5 and loader.batch_size == 1
    x, y, z = batches[2]
    assert all(isinstance(b, profondo.Tensor) for b in (x, y, z))
    assert (x.tolist(), y.tolist(), z.shape) == ([2.0], [2], (1, 2))
    assert [b[1].tolist() for b in DataLoader(ds, batch_size=2)] == [[0, 1], [2, 3], [4]]


def test_samples_of_numbers_and_dicts_collate_as_pytorch():
    from profondo.data import DataLoader, Dataset

    class Numbers(Dataset):
        def __len__(self):
            return 3

        def __getitem__(self, i):
            return {"i": i, "half": i / 2}

    (batch,) = list(DataLoader(Numbers(), batch_size=3))
    assert batch["i"].dtype == np.int64 and batch["half"].dtype == np.float64  # as default_collate
    assert batch["half"].tolist() == [0.0, 0.5, 1.0]
