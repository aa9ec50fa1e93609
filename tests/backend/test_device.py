"""Device parsing and placement on a machine with or without CuPy."""

import numpy as np
import pytest

import profondo
from profondo.backend import Device, array_module, device, device_of, move


@pytest.mark.parametrize("spec, expected", [
    ("cpu", ("cpu", 0)), (" CPU ", ("cpu", 0)), ("cuda", ("cuda", 0)), ("cuda:1", ("cuda", 1)), ("gpu:2", ("cuda", 2)),
    (None, ("cpu", 0)), (Device("cuda", 3), ("cuda", 3)),
])
def test_parse(spec, expected):
    d = device(spec)
    assert (d.type, d.index) == expected


@pytest.mark.parametrize("spec", ["tpu", "cuda:x", "cpu:0", "cuda:", ""])
def test_unknown_device_is_a_clear_error(spec):
    with pytest.raises(ValueError, match=rf"unknown device {spec!r}: expected 'cpu', 'cuda' or 'cuda:N'"):
        device(spec)
    with pytest.raises(ValueError, match="unknown device"):
        profondo.zeros(2, device=spec)


def test_device_must_be_a_string():
    with pytest.raises(TypeError, match="device: expected a string such as 'cpu' or 'cuda:0', received int"):
        device(0)


def test_equality_hash_repr():
    assert Device("cpu") == "cpu" and device("cuda") == Device("cuda", 0) and device("cuda:1") != "cuda:0"
    assert len({device("cuda"), device("cuda:0"), device("cpu")}) == 2
    assert repr(device("cuda:1")) == "cuda:1" and repr(device("cpu")) == "cpu"


def test_cpu_arrays():
    a = np.ones(2)
    assert array_module(a) is np and device_of(a) == "cpu" and move(a, device("cpu")) is a
    assert Device("cpu").xp is np and profondo.ones(2).device == "cpu"


@pytest.mark.skipif(profondo.backend._cupy is not None, reason="CuPy is installed")
def test_cuda_without_cupy_says_how_to_install_it():
    assert not profondo.cuda_available()
    for call in (lambda: profondo.zeros(2, device="cuda"), lambda: profondo.ones(2).to("cuda"), lambda: device("cuda").xp):
        with pytest.raises(RuntimeError, match=r"device 'cuda' needs CuPy, which is not installed: pip install 'profondo\[gpu\]'"):
            call()
