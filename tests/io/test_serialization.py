"""profondo.save / profondo.load: data only (npz + a JSON outline), nested structures, and
PyTorch's own files read without running their code."""

import zipfile

import numpy as np
import pytest

import profondo
from profondo import nn


def test_nested_structures_round_trip(tmp_path):
    obj = {"epoch": 3, "loss": 0.25, "name": "run", "none": None, "flags": [True, False],
           "pair": (1, 2.5), 7: "int key", "weights": {"w": profondo.ones(2, 3), "i": profondo.arange(4)},
           "array": np.arange(3.0), "scalar": np.float32(1.5)}
    profondo.save(obj, tmp_path / "obj.pt")
    back = profondo.load(tmp_path / "obj.pt")
    assert back["epoch"] == 3 and back["loss"] == 0.25 and back["name"] == "run" and back["none"] is None
    assert back["flags"] == [True, False] and back["pair"] == (1, 2.5) and back[7] == "int key"
    assert isinstance(back["weights"]["w"], profondo.Tensor) and back["weights"]["w"].dtype == np.float32
    assert back["weights"]["i"].dtype == np.int64 and back["weights"]["i"].tolist() == [0, 1, 2, 3]
    assert isinstance(back["array"], np.ndarray) and back["scalar"] == np.float32(1.5)


def test_a_leaf_keeps_requires_grad(tmp_path):
    profondo.save(profondo.ones(2, requires_grad=True), tmp_path / "t.pt")
    assert profondo.load(tmp_path / "t.pt").requires_grad


def test_the_file_holds_no_pickle(tmp_path):
    profondo.save(nn.Linear(2, 3).state_dict(), tmp_path / "m.pt")
    with zipfile.ZipFile(tmp_path / "m.pt") as z:
        names = z.namelist()
        assert "__tree__.npy" in names and all(n.endswith(".npy") for n in names)
    with np.load(tmp_path / "m.pt", allow_pickle=False) as npz:  # loads with pickle disabled
        assert len(npz.files) == 3


def test_objects_are_refused_with_the_way_out(tmp_path):
    with pytest.raises(TypeError, match=r"the object\['opt'\], a object"):
        profondo.save({"opt": object()}, tmp_path / "x.pt")
    with pytest.raises(TypeError, match=r"save model.state_dict\(\)"):
        profondo.save(nn.Linear(2, 2), tmp_path / "x.pt")


def test_errors_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file"):
        profondo.load(tmp_path / "missing.pt")
    np.savez(tmp_path / "plain.npz", a=np.ones(2))
    with pytest.raises(ValueError, match="a NumPy .npz archive without profondo's outline"):
        profondo.load(tmp_path / "plain.npz")


def test_state_dict_round_trip_into_a_fresh_model(tmp_path):
    profondo.manual_seed(0)
    a = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    profondo.save(a.state_dict(), tmp_path / "a.pt")
    profondo.manual_seed(1)
    b = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    b.load_state_dict(profondo.load(tmp_path / "a.pt"))
    x = profondo.randn(5, 4)
    np.testing.assert_array_equal(a(x).numpy(), b(x).numpy())
