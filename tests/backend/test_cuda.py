"""CUDA beyond the operators: moving tensors between devices, and the kernels CuPy arrays reach.

Every operator case of tests/functional/ also runs on "cuda" when a GPU is visible (the
harness parametrises over every available device), so the operators are not listed here.
"""

import pytest

import profondo
from profondo import kernels

pytestmark = pytest.mark.skipif(not profondo.cuda_available(), reason="CUDA needs CuPy and a visible GPU")


def test_moving_between_devices_is_differentiable():
    x = profondo.ones(3, requires_grad=True)
    y = (x.to("cuda") * 2).cpu()
    assert y.device == "cpu"
    y.sum().backward()
    assert x.grad.device == "cpu" and x.grad.tolist() == [2, 2, 2]


def test_cupy_arrays_reach_the_cuda_kernels():
    import cupy

    assert kernels.device_type_of(cupy) == "cuda"
    for name in ("conv2d_forward", "conv2d_backward", "pool2d_windows", "pool2d_backward"):
        assert kernels.get(name, cupy) is kernels.get(name, "cuda") is kernels.get(name, profondo.device("cuda"))
