import numpy as np
import pytest

import profondo
from profondo.data import transforms as T


class ScriptedRng:
    """Stands in for a numpy Generator: hands out scripted draws, records requested ranges."""

    def __init__(self, integers=(), random=()):
        self._integers = [np.asarray(v) for v in integers]
        self._random = [np.asarray(v) for v in random]
        self.ranges = []

    def integers(self, low, high, size):
        self.ranges.append((low, high))
        values = self._integers.pop(0)
        assert values.shape == (size,)
        return values

    def random(self, size):
        values = self._random.pop(0)
        assert values.shape == (size,)
        return values


def image(channels=1, height=4, width=4, start=1):
    return np.arange(start, start + channels * height * width, dtype=np.float32).reshape(channels, height, width)


def test_to_float_scales_uint8_to_unit_range():
    x = np.array([[[0, 51, 255]]], dtype=np.uint8)
    y = T.ToFloat()(x)
    assert y.dtype == np.float32
    np.testing.assert_allclose(y, [[[0.0, 0.2, 1.0]]], rtol=1e-6)
    np.testing.assert_array_equal(T.ToFloat(scale=2)(x[None]), 2 * x[None].astype(np.float32))


def test_normalize_per_channel_values():
    x = np.stack([np.full((2, 2), 1.0), np.full((2, 2), 3.0)]).astype(np.float32)
    y = T.Normalize(mean=(1.0, 2.0), std=(1.0, 0.5))(x)
    assert y.dtype == np.float32
    np.testing.assert_array_equal(y[0], 0.0)
    np.testing.assert_array_equal(y[1], 2.0)
    np.testing.assert_array_equal(T.Normalize(0.5, 0.25)(np.ones((3, 1, 1), np.float32)), 2.0)


def test_normalize_errors_name_expected_and_received():
    with pytest.raises(ValueError, match=r"expected 2 channels .*received shape \(3, 2, 2\)"):
        T.Normalize((0, 0), (1, 1))(np.zeros((3, 2, 2), np.float32))
    with pytest.raises(ValueError, match="positive std"):
        T.Normalize(0, 0)
    with pytest.raises(ValueError, match="2 means and 3 stds"):
        T.Normalize((0, 0), (1, 1, 1))


def test_rejects_arrays_that_are_neither_image_nor_batch():
    with pytest.raises(ValueError, match=r"expected a CHW image .* received an array of shape \(4, 4\)"):
        T.RandomHorizontalFlip()(np.zeros((4, 4)))


def test_random_crop_takes_the_drawn_offsets_in_the_zero_padded_image():
    x = image()  # 1x4x4, values 1..16
    padded = np.pad(x, ((0, 0), (1, 1), (1, 1)))
    rng = ScriptedRng(integers=[[0], [2]])
    y = T.RandomCrop(4, padding=1)(x, rng)
    assert rng.ranges == [(0, 3), (0, 3)]  # offsets 0..2 along each axis
    np.testing.assert_array_equal(y, padded[:, 0:4, 2:6])
    assert y[0, 0, 0] == 0 and y[0, 1, 0] == x[0, 0, 1]


def test_random_crop_batch_uses_one_offset_per_image():
    batch = np.stack([image(2, start=1), image(2, start=100)])
    y = T.RandomCrop((2, 3))(batch, ScriptedRng(integers=[[0, 2], [1, 0]]))
    assert y.shape == (2, 2, 2, 3)
    np.testing.assert_array_equal(y[0], batch[0, :, 0:2, 1:4])
    np.testing.assert_array_equal(y[1], batch[1, :, 2:4, 0:3])


def test_random_crop_too_large_says_what_it_needs():
    with pytest.raises(ValueError, match=r"expected images of at least 4x4 pixels, received shape \(1, 3, 3\)"):
        T.RandomCrop(6, padding=1)(np.zeros((1, 3, 3)))


def test_random_shift_translates_with_zero_fill():
    x = np.arange(1, 10, dtype=np.float32).reshape(1, 3, 3)
    rng = ScriptedRng(integers=[[1], [-1]])  # one down, one left
    y = T.RandomShift(1)(x, rng)
    assert rng.ranges == [(-1, 2), (-1, 2)]
    np.testing.assert_array_equal(y[0], [[0, 0, 0], [2, 3, 0], [5, 6, 0]])


def test_random_horizontal_flip_per_image():
    batch = np.stack([image(), image(start=50)])
    y = T.RandomHorizontalFlip(0.5)(batch, ScriptedRng(random=[[0.2, 0.8]]))
    np.testing.assert_array_equal(y[0], batch[0, :, :, ::-1])
    np.testing.assert_array_equal(y[1], batch[1])
    np.testing.assert_array_equal(T.RandomHorizontalFlip(1.0)(image())[0, 0], [4, 3, 2, 1])
    np.testing.assert_array_equal(T.RandomHorizontalFlip(0.0)(image()), image())
    with pytest.raises(ValueError, match=r"p in \[0, 1\]"):
        T.RandomHorizontalFlip(1.5)


@pytest.mark.parametrize("transform, draws", [
    (T.RandomCrop(3, padding=2), dict(integers=[[0, 4, 2], [3, 1, 0]])),
    (T.RandomShift(2), dict(integers=[[-2, 0, 1], [2, -1, 0]])),
    (T.RandomHorizontalFlip(), dict(random=[[0.1, 0.9, 0.4]])),
])
def test_batch_agrees_with_images_one_by_one(transform, draws):
    batch = np.random.default_rng(0).random((3, 2, 5, 5)).astype(np.float32)
    together = transform(batch, ScriptedRng(**draws))
    for i in range(3):
        single = {kind: [[values[i]] for values in lists] for kind, lists in draws.items()}
        np.testing.assert_array_equal(together[i], transform(batch[i], ScriptedRng(**single)))


def test_random_crop_draws_every_offset_independently_per_image():
    batch = np.broadcast_to(image(), (400, 1, 4, 4))
    crops = T.RandomCrop(4, padding=1)(batch, np.random.default_rng(0))
    padded = np.pad(image(), ((0, 0), (1, 1), (1, 1)))
    windows = {(top, left): padded[:, top:top + 4, left:left + 4] for top in range(3) for left in range(3)}
    seen = {next(k for k, w in windows.items() if np.array_equal(w, crop)) for crop in crops}
    assert seen == set(windows)  # every one of the 9 positions, each crop a real window


def test_compose_applies_in_order_and_reads_well():
    pipeline = T.Compose([T.ToFloat(), lambda x: x + 1, T.RandomCrop(32, padding=4)])
    y = pipeline(np.zeros((3, 32, 32), np.uint8), np.random.default_rng(0))
    assert y.dtype == np.float32 and set(np.unique(y)) <= {0.0, 1.0}
    text = repr(T.Compose([T.RandomCrop(32, padding=4), T.Normalize((0.5,), (0.25,))]))
    assert text == "Compose(\n    RandomCrop(size=32, padding=4),\n    Normalize(mean=(0.5,), std=(0.25,)),\n)"
    assert repr(T.ToFloat()) == "ToFloat(scale=0.00392157)"


def test_default_generator_follows_manual_seed():
    batch = np.random.default_rng(1).random((8, 1, 6, 6))
    profondo.manual_seed(7)
    first = T.RandomShift(2)(batch)
    profondo.manual_seed(7)
    np.testing.assert_array_equal(T.RandomShift(2)(batch), first)
