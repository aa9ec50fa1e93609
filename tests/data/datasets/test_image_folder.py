"""Image folders (one sub-folder per class): class order, labels, shapes, the split, the errors."""

from __future__ import annotations

import numpy as np
import pytest

from profondo.data import load_dataset
from profondo.data.datasets import image_folder

Image = pytest.importorskip("PIL.Image")


def write_folder(root, counts: dict[str, int], size=(6, 5), mode="L", seed=0):
    """PNGs of random pixels (W, H = size), ``counts[name]`` of them in ``root/name``; the pixels by name."""
    rng = np.random.default_rng(seed)
    pixels = {}
    for name, n in counts.items():
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            shape = (size[1], size[0]) if mode == "L" else (size[1], size[0], 3)
            a = rng.integers(0, 256, shape, dtype=np.uint8)
            Image.fromarray(a, mode).save(root / name / f"{i:03d}.png")
            pixels[(name, i)] = a
    return pixels


def test_classes_sorted_labels_shapes_and_values(tmp_path):
    pixels = write_folder(tmp_path, {"zebra": 5, "ant": 5, "Bee": 5})
    train = image_folder(tmp_path, "train", test_fraction=0.0)
    assert train.classes == ["Bee", "ant", "zebra"]  # sorted as torchvision's ImageFolder sorts
    assert train.x.shape == (15, 1, 5, 6) and train.x.dtype == np.float32 and train.y.dtype == np.int64
    assert train.y.tolist() == [0] * 5 + [1] * 5 + [2] * 5
    np.testing.assert_array_equal(train.x[5, 0], pixels[("ant", 0)] / np.float32(255))
    assert train.x.min() >= 0 and train.x.max() <= 1


def test_colour_resize_and_grayscale_override(tmp_path):
    write_folder(tmp_path, {"a": 2, "b": 2}, size=(8, 4), mode="RGB")
    assert image_folder(tmp_path, test_fraction=0).x.shape == (4, 3, 4, 8)
    assert image_folder(tmp_path, size=(3, 5), test_fraction=0).x.shape == (4, 3, 3, 5)
    assert image_folder(tmp_path, grayscale=True, test_fraction=0).x.shape == (4, 1, 4, 8)


def test_the_split_is_stratified_disjoint_and_fixed_by_the_seed(tmp_path):
    write_folder(tmp_path, {"a": 10, "b": 5})
    train, test = image_folder(tmp_path, "train"), image_folder(tmp_path, "test")
    assert np.bincount(test.y).tolist() == [2, 1] and np.bincount(train.y).tolist() == [8, 4]
    everything = {a.tobytes() for a in image_folder(tmp_path, test_fraction=0).x}
    held, kept = {a.tobytes() for a in test.x}, {a.tobytes() for a in train.x}
    assert held | kept == everything and not held & kept
    again = image_folder(tmp_path, "test")
    np.testing.assert_array_equal(again.x, test.x)
    other = image_folder(tmp_path, "test", seed=1)
    assert not np.array_equal(other.x, test.x)


def test_train_and_test_sub_folders_are_the_splits(tmp_path):
    write_folder(tmp_path / "train", {"x": 3, "y": 2})
    write_folder(tmp_path / "test", {"y": 1}, seed=1)
    train, test = load_dataset(str(tmp_path), "train"), load_dataset(str(tmp_path), "test")
    assert len(train) == 5 and test.y.tolist() == [1] and test.classes == ["x", "y"]
    assert test.x.shape[1:] == train.x.shape[1:] == (1, 5, 6)


def test_load_dataset_takes_a_folder_path_and_names_it_in_its_error(tmp_path):
    write_folder(tmp_path, {"a": 2, "b": 2})
    assert load_dataset(str(tmp_path), "train").classes == ["a", "b"]
    with pytest.raises(ValueError, match="or the path of an image folder"):
        load_dataset(str(tmp_path / "missing"))


def test_errors_say_what_is_wrong_and_where(tmp_path):
    with pytest.raises(ValueError, match="is not a folder"):
        image_folder(tmp_path / "missing")
    with pytest.raises(ValueError, match="no class sub-folders"):
        image_folder(tmp_path)
    write_folder(tmp_path, {"a": 2})
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("not an image")
    with pytest.raises(ValueError, match="class 'empty' holds no images"):
        image_folder(tmp_path)
    (tmp_path / "empty" / "bad.png").write_bytes(b"not a png at all")
    with pytest.raises(ValueError, match=r"cannot read image .*bad\.png"):
        image_folder(tmp_path)
    with pytest.raises(ValueError, match="expected split"):
        image_folder(tmp_path, "valid")


def test_the_file_size_cap_applies(tmp_path):
    from profondo.backend.limits import ResourceLimitError, set_max_file_bytes

    write_folder(tmp_path, {"a": 2, "b": 2})
    previous = set_max_file_bytes(16)
    try:
        with pytest.raises(ResourceLimitError, match="more than the limit"):
            image_folder(tmp_path)
    finally:
        set_max_file_bytes(previous)
