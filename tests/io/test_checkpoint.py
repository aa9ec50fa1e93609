import os

import numpy as np
import pytest

from profondo.io.checkpoint import Checkpoint, read_checkpoint, write_checkpoint


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
