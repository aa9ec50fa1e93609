import numpy as np
import pytest

from profondo.data import ArrayDataset, Dataset, Subset, TensorDataset, random_split


def numbered(n=10):
    return ArrayDataset(np.arange(n, dtype=np.float32)[:, None] * 10, np.arange(n))


def test_array_dataset_items_and_length():
    ds = numbered()
    assert len(ds) == 10 and TensorDataset is not ArrayDataset
    x, y = ds[3]
    np.testing.assert_array_equal(x, [30.0])
    assert y == 3
    assert repr(ds) == "ArrayDataset(10 samples, x (1,) float32, y () int64)"


def test_array_dataset_length_mismatch_message():
    with pytest.raises(ValueError, match=r"received x of shape \(3, 2\) and y of shape \(4,\)"):
        ArrayDataset(np.zeros((3, 2)), np.zeros(4))


def test_per_sample_transform_one_or_two_arguments():
    x, y = np.arange(4, dtype=np.float32)[:, None], np.arange(4)
    assert ArrayDataset(x, y, transform=lambda sample: sample + 1)[2][0][0] == 3
    draws = [ArrayDataset(x, y, transform=lambda sample, rng: sample + rng.random(), seed=5)[0][0] for _ in range(2)]
    np.testing.assert_array_equal(draws[0], draws[1])  # the dataset's generator comes from seed


def test_subset_and_its_bounds():
    subset = Subset(numbered(), [4, 0, 9])
    assert len(subset) == 3 and subset[0][1] == 4 and subset[2][1] == 9
    with pytest.raises(IndexError, match=r"expected indices in \[0, 10\).*received \[10\]"):
        Subset(numbered(), [1, 10])


def test_random_split_is_a_reproducible_partition():
    parts = random_split(numbered(), [6, 4], seed=1)
    assert [len(p) for p in parts] == [6, 4]
    labels = np.concatenate([p.indices for p in parts])
    np.testing.assert_array_equal(np.sort(labels), np.arange(10))
    again = random_split(numbered(), [6, 4], seed=1)
    np.testing.assert_array_equal(again[0].indices, parts[0].indices)
    assert not np.array_equal(random_split(numbered(), [6, 4], seed=2)[0].indices, parts[0].indices)


def test_random_split_fractions_hand_out_the_remainder():
    assert [len(p) for p in random_split(numbered(11), [0.5, 0.3, 0.2], seed=0)] == [6, 3, 2]
    with pytest.raises(ValueError, match=r"summing to 10 .* received \[5, 4\]"):
        random_split(numbered(), [5, 4])


def test_base_dataset_says_what_to_implement():
    with pytest.raises(NotImplementedError, match="__len__"):
        len(Dataset())
