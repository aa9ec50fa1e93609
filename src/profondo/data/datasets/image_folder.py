"""An image folder in DIGITS' layout: one sub-folder per class, its PNG/JPEG images inside.

Classes are the sub-folders' names sorted, label ``i`` the ``i``-th of them (torchvision's
``ImageFolder`` numbers them the same way). A folder holding both ``train/`` and ``test/``
sub-folders is read as its two splits; otherwise a deterministic stratified split by ``seed``
holds ``test_fraction`` of each class out as the test set.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from profondo.backend.limits import check_allocation
from profondo.data.dataset import ArrayDataset
from profondo.data.datasets._sources import check_split

__all__ = ["IMAGE_SUFFIXES", "image_folder"]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


def _pillow():
    try:
        from PIL import Image, UnidentifiedImageError
    except ImportError:
        raise ImportError("reading an image folder needs Pillow: pip install pillow "
                          "(or pip install -e '.[ui]')") from None
    return Image, UnidentifiedImageError


def _classes(root: Path) -> list[tuple[str, list[Path]]]:
    subs = sorted((p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")), key=lambda p: p.name)
    if not subs:
        raise ValueError(f"image folder {root}: no class sub-folders (expected one folder per class, "
                         f"{', '.join(IMAGE_SUFFIXES)} images inside)")
    out = []
    for sub in subs:
        files = sorted(p for p in sub.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise ValueError(f"image folder {root}: class {sub.name!r} holds no images "
                             f"(expected {', '.join(IMAGE_SUFFIXES)} files in {sub})")
        out.append((sub.name, files))
    return out


_GREY = ("1", "L", "LA", "I", "I;16", "F")


def _header(files: list[Path]) -> tuple[tuple[int, int], bool]:
    """The first file's (W, H), and whether every file is grey, from their headers alone."""
    Image, Unidentified = _pillow()
    first, grey = None, True
    for path in files:
        try:
            with Image.open(path) as im:
                first = first or im.size
                grey = grey and im.mode in _GREY
        except (Unidentified, OSError) as e:
            raise ValueError(f"image folder: cannot read image {path}: {e}") from None
    return first, grey


def _read(files: list[Path], size: tuple[int, int] | None, grayscale: bool | None) -> np.ndarray:
    """The files as uint8 (N, C, H, W), resized to ``size`` (W, H; None: the first image's)."""
    Image, Unidentified = _pillow()
    images = []
    for path in files:
        check_allocation(path.stat().st_size, f"image {path}")  # the same file-size cap as other readers
        try:
            with Image.open(path) as im:
                im.load()
                images.append(im.copy())
        except (Unidentified, OSError) as e:
            raise ValueError(f"image folder: cannot read image {path}: {e}") from None
    if grayscale is None:  # grey only when every image is: a single colour image makes the set RGB
        grayscale = all(im.mode in _GREY for im in images)
    size = size or images[0].size
    check_allocation(len(images) * size[0] * size[1] * (1 if grayscale else 3) * 4,
                     f"image folder: {len(images)} images of {size[0]}x{size[1]}")
    mode = "L" if grayscale else "RGB"
    arrays = []
    for im in images:
        im = im.convert(mode)
        if im.size != size:
            im = im.resize(size, Image.BILINEAR)
        a = np.asarray(im, np.uint8)
        arrays.append(a[None] if grayscale else a.transpose(2, 0, 1))
    return np.stack(arrays)


def _split(counts: list[int], test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Stratified: from each class, ``round(n * test_fraction)`` images (at least one when a class
    has two or more) are held out, chosen by a generator seeded by ``seed``."""
    rng = np.random.default_rng(seed)
    train, test, start = [], [], 0
    for n in counts:
        k = int(round(n * test_fraction))
        if test_fraction > 0 and n >= 2:
            k = min(max(k, 1), n - 1)
        order = start + rng.permutation(n)
        test.append(np.sort(order[:k]))
        train.append(np.sort(order[k:]))
        start += n
    return np.concatenate(train), np.concatenate(test)


def image_folder(root: str | Path, split: str = "train", *, size: tuple[int, int] | None = None,
                 grayscale: bool | None = None, test_fraction: float = 0.2, seed: int = 0) -> ArrayDataset:
    """The images under ``root/<class>/`` as float32 (N, C, H, W) in [0, 1] and int64 labels.

    ``size`` is (height, width) of every image (default: the first image's); ``grayscale`` makes
    one channel (default: when every image is grey). ``classes`` names the labels.
    """
    check_split(split)
    root = Path(root)
    if not root.is_dir():
        raise ValueError(f"image folder: {root} is not a folder")
    if not 0 <= test_fraction < 1:
        raise ValueError(f"image folder: test_fraction must be in [0, 1), received {test_fraction!r}")
    if size is not None and (len(size) != 2 or min(size) < 1):
        raise ValueError(f"image folder: size must be (height, width) of positive ints, received {size!r}")
    wh = None if size is None else (int(size[1]), int(size[0]))
    if (root / "train").is_dir() and (root / "test").is_dir():
        # The two splits share the classes of train/ and the size of its first image.
        train = _classes(root / "train")
        names = [name for name, _ in train]
        if split == "train":
            x = _read([f for _, files in train for f in files], wh, grayscale)
            y = np.repeat(np.arange(len(names)), [len(files) for _, files in train])
        else:
            test = _classes(root / "test")
            unknown = [name for name, _ in test if name not in names]
            if unknown:
                raise ValueError(f"image folder {root}: test classes {unknown} are not among train's {names}")
            train_files = [f for _, files in train for f in files]
            x = _read([f for _, files in test for f in files], wh or _header(train_files[:1])[0],
                      _header(train_files)[1] if grayscale is None else grayscale)
            y = np.concatenate([np.full(len(files), names.index(name)) for name, files in test])
        return _dataset(x, y, names)
    classes = _classes(root)
    files = [f for _, fs in classes for f in fs]
    x = _read(files, wh, grayscale)
    y = np.repeat(np.arange(len(classes)), [len(fs) for _, fs in classes])
    train_idx, test_idx = _split([len(fs) for _, fs in classes], test_fraction, seed)
    pick = train_idx if split == "train" else test_idx
    return _dataset(x[pick], y[pick], [name for name, _ in classes])


def _dataset(x: np.ndarray, y: np.ndarray, classes: list[str]) -> ArrayDataset:
    images = x.astype(np.float32)
    images /= np.float32(255)
    return ArrayDataset(images, y.astype(np.int64), classes=classes)
