import os

import numpy as np
import pytest
from tests.memory import peak_growth

from profondo.backend.limits import FileFormatError, ResourceLimitError, set_max_file_bytes
from profondo.io.checkpoint import (
    Checkpoint,
    read_checkpoint,
    read_checkpoint_meta,
    remove_temporaries,
    write_checkpoint,
)


def test_round_trip_keeps_arrays_dtypes_and_metadata(tmp_path):
    rng = np.random.default_rng(0)
    arrays = {"model": {"conv1.weight": rng.standard_normal((6, 1, 5, 5)).astype(np.float32),
                        "bn.num_batches_tracked": np.array(7, dtype=np.int64)},
              "optimizer": {"0/momentum_buffer": rng.standard_normal(4).astype(np.float32)}}
    meta = {"epoch": 3, "rng": {"state": {"state": 2**100 + 1}}, "metrics": {"val_accuracy": 0.98}}
    path = write_checkpoint(tmp_path / "a.ckpt", Checkpoint(arrays, meta))
    back = read_checkpoint(path)
    assert back.meta["epoch"] == 3 and back.meta["rng"]["state"]["state"] == 2**100 + 1
    assert back.meta["metrics"] == {"val_accuracy": 0.98}
    for group, entries in arrays.items():
        for name, array in entries.items():
            assert back.arrays[group][name].dtype == array.dtype
            np.testing.assert_array_equal(back.arrays[group][name], array)


def test_write_is_atomic_a_failed_write_keeps_the_previous_file(tmp_path, monkeypatch):
    path = tmp_path / "last.ckpt"
    write_checkpoint(path, Checkpoint({"model": {"w": np.ones(3, np.float32)}}, {"epoch": 1}))

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", crash)
    with pytest.raises(OSError, match="disk full"):
        write_checkpoint(path, Checkpoint({"model": {"w": np.zeros(3, np.float32)}}, {"epoch": 2}))
    back = read_checkpoint(path)
    assert back.meta["epoch"] == 1
    np.testing.assert_array_equal(back.arrays["model"]["w"], np.ones(3))
    assert [p.name for p in tmp_path.iterdir()] == ["last.ckpt"]  # no temporary file left behind


def test_reading_refuses_pickled_objects_and_foreign_files(tmp_path):
    pickled = tmp_path / "evil.npz"
    np.savez(pickled, __meta__=np.frombuffer(b"{}", np.uint8), obj=np.array([{"a": 1}], dtype=object))
    with pytest.raises(ValueError):
        read_checkpoint(pickled)
    junk = tmp_path / "junk.ckpt"
    junk.write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="not a profondo checkpoint"):
        read_checkpoint(junk)
    with pytest.raises(FileNotFoundError, match="missing.ckpt"):
        read_checkpoint(tmp_path / "missing.ckpt")
    assert os.path.exists(pickled)


def test_the_metadata_alone_is_read_without_the_arrays(tmp_path):
    path = write_checkpoint(tmp_path / "a.ckpt", Checkpoint({"replay": {"obs": np.zeros(4, np.uint8)}}, {"steps": 7}))
    assert read_checkpoint_meta(path) == read_checkpoint(path).meta and read_checkpoint_meta(path)["steps"] == 7
    _npz_with_header(tmp_path / "b.ckpt", (2**40,))  # an array that could not be allocated is not read
    assert read_checkpoint_meta(tmp_path / "b.ckpt") == {}
    np.savez(tmp_path / "c.npz", w=np.zeros(2))
    with pytest.raises(FileFormatError, match="no __meta__ entry"):
        read_checkpoint_meta(tmp_path / "c.npz")
    (tmp_path / "junk.ckpt").write_bytes(b"not a zip")
    with pytest.raises(FileFormatError, match="not a profondo checkpoint"):
        read_checkpoint_meta(tmp_path / "junk.ckpt")
    with pytest.raises(FileNotFoundError):
        read_checkpoint_meta(tmp_path / "missing.ckpt")


def _npz_with_header(path, shape, dtype="<f4", data=b"\0" * 16):
    """An .npz whose single member's .npy header declares ``shape`` but holds only ``data``."""
    import io
    import zipfile

    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": dtype, "fortran_order": False, "shape": shape})
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("__meta__.npy", _npy(np.frombuffer(b"{}", np.uint8)))
        z.writestr("model/w.npy", header.getvalue() + data)


def _npy(array) -> bytes:
    import io

    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def test_a_header_declaring_4_tib_is_refused_before_allocation(tmp_path):
    path = tmp_path / "bomb.ckpt"
    _npz_with_header(path, (2**40,))
    assert path.stat().st_size < 1000
    with peak_growth() as grown:
        with pytest.raises(ResourceLimitError, match=r"array 'model/w' of shape \(1099511627776,\) float32 "
                                                     r"declares 4 TiB, but the file holds only 16 bytes"):
            read_checkpoint(path)
    assert (grown() or 0) < 2**20


def test_the_cap_is_applied_to_honest_files_too(tmp_path):
    path = write_checkpoint(tmp_path / "a.ckpt", Checkpoint({"model": {"w": np.zeros(2**18, np.float32)}}, {}))
    previous = set_max_file_bytes(2**20 - 1)  # the array needs exactly 1 MiB
    try:
        with pytest.raises(ResourceLimitError, match="needs 1 MiB, more than the limit of 1024 KiB"):
            read_checkpoint(path)
    finally:
        set_max_file_bytes(previous)
    assert read_checkpoint(path).arrays["model"]["w"].shape == (2**18,)


@pytest.mark.parametrize("forge", ["object", "not-npy", "meta-not-json", "meta-list", "bad-shape"])
def test_forged_members_are_refused_with_profondo_errors(tmp_path, forge):
    import zipfile

    path = tmp_path / "forged.ckpt"
    members = {"__meta__.npy": _npy(np.frombuffer(b'{"epoch": 1}', np.uint8)),
               "model/w.npy": _npy(np.ones(3, np.float32))}
    if forge == "object":
        members["model/w.npy"] = (_header({"descr": "|O", "fortran_order": False,
                                                                       "shape": (1,)}) + b"\0" * 8)
    elif forge == "not-npy":
        members["payload.pkl"] = b"cos\nsystem\n."
    elif forge == "meta-not-json":
        members["__meta__.npy"] = _npy(np.frombuffer(b"\xff\xfe[[[", np.uint8))
    elif forge == "meta-list":
        members["__meta__.npy"] = _npy(np.frombuffer(b"[1, 2]", np.uint8))
    else:
        members["model/w.npy"] = _header({"descr": "<f4", "fortran_order": False,
                                                                      "shape": (-1, 4)})
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    with pytest.raises(FileFormatError):
        read_checkpoint(path)


def _header(d) -> bytes:
    import io

    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, d)
    return buffer.getvalue()


def test_fortran_order_and_empty_arrays_come_back(tmp_path):
    f = np.asfortranarray(np.arange(12, dtype=np.float64).reshape(3, 4))
    path = write_checkpoint(tmp_path / "f.ckpt", Checkpoint({"g": {"f": f, "e": np.zeros((0, 3), np.int8)}}, {}))
    back = read_checkpoint(path).arrays["g"]
    np.testing.assert_array_equal(back["f"], f)
    assert back["e"].shape == (0, 3) and back["e"].dtype == np.int8 and back["f"].flags.writeable


def test_files_get_the_permissions_of_any_new_file(tmp_path):
    old = os.umask(0o022)
    try:
        path = write_checkpoint(tmp_path / "p.ckpt", Checkpoint({"model": {"w": np.ones(1)}}, {}))
        plain = tmp_path / "plain.txt"
        plain.write_text("x")
    finally:
        os.umask(old)
    assert (path.stat().st_mode & 0o777) == (plain.stat().st_mode & 0o777) == 0o644


def test_temporaries_of_a_killed_write_are_removed(tmp_path):
    path = write_checkpoint(tmp_path / "last.ckpt", Checkpoint({"model": {"w": np.ones(1)}}, {}))
    left = tmp_path / ".last.ckpt.0123abcd.tmp"
    left.write_bytes(b"half a zip")
    other = tmp_path / ".best.ckpt.0123abcd.tmp"
    other.write_bytes(b"another file's")
    assert remove_temporaries(path) == [left]
    assert sorted(p.name for p in tmp_path.iterdir()) == [".best.ckpt.0123abcd.tmp", "last.ckpt"]
