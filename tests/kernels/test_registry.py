"""The kernel registry: kernels per device type, the portable fallback, lazy device modules,
and operators reaching a device's kernel without knowing about it."""

import sys
import types

import numpy as np
import pytest

import profondo
import profondo.functional as F
from profondo import kernels
from profondo.functional.conv import Conv2d
from profondo.functional.pooling import MaxPool2d
from profondo.kernels import cpu_conv, im2col


@pytest.fixture(autouse=True)
def private_registry(monkeypatch):
    """Each test registers into copies, so nothing it adds outlives it."""
    monkeypatch.setattr(kernels, "_registry", dict(kernels._registry))
    monkeypatch.setattr(kernels, "_module_device_types", dict(kernels._module_device_types))
    monkeypatch.setattr(kernels, "_loaded_device_types", set(kernels._loaded_device_types))
    monkeypatch.setattr(kernels, "_DEVICE_LIBRARIES", dict(kernels._DEVICE_LIBRARIES))


class FakeArrayModule(types.ModuleType):
    """An array module for a made-up device type: NumPy underneath, recognised by the registry."""

    def __init__(self) -> None:
        super().__init__("fakearrays")

    def __getattr__(self, name):
        return getattr(np, name)


def test_numpy_gets_the_cpu_convolution_and_the_portable_pooling():
    assert kernels.get("conv2d_forward", np) is cpu_conv.conv2d_forward
    assert kernels.get("conv2d_backward", "cpu") is cpu_conv.conv2d_backward
    assert kernels.get("pool2d_backward", "cpu") is im2col.pool2d_backward
    assert kernels.registered("conv2d_forward") == ["any", "cpu"]
    assert kernels.registered("pool2d_backward") == ["any"]


def test_a_device_kernel_is_preferred_and_the_portable_one_returns_when_it_goes():
    cpu_version = kernels.register("pool2d_windows", "cpu")(lambda *a: "cpu version")
    assert kernels.get("pool2d_windows", np) is cpu_version
    assert kernels.get("pool2d_windows", profondo.device("cpu")) is cpu_version
    assert kernels.registered("pool2d_windows") == ["any", "cpu"]
    kernels.unregister("pool2d_windows", "cpu")
    assert kernels.get("pool2d_windows", np) is im2col.pool2d_windows
    with pytest.raises(KeyError, match="no kernel 'pool2d_windows' registered for device type 'cpu'"):
        kernels.unregister("pool2d_windows", "cpu")


@pytest.mark.parametrize("given, expected", [
    (np, "cpu"), (types.ModuleType("cupy"), "cuda"), ("cuda:1", "cuda"), ("cpu", "cpu"),
    (profondo.device("cuda:2"), "cuda"), (FakeArrayModule(), None), (3, None),
])
def test_device_type_of(given, expected):
    if isinstance(given, int):
        with pytest.raises(TypeError, match="kernels: expected an array module .* received 3"):
            kernels.device_type_of(given)
    elif expected is None:
        with pytest.raises(TypeError, match="kernels: the array module 'fakearrays' belongs to no known device type"):
            kernels.device_type_of(given)
    else:
        assert kernels.device_type_of(given) == expected


def test_register_wants_a_device_type_without_an_index():
    with pytest.raises(ValueError, match=r"kernels.register\('conv2d_forward'\): expected a device type .* "
                                         r"received 'cuda:0'"):
        kernels.register("conv2d_forward", "cuda:0")


def test_a_fake_device_gets_its_own_kernel_and_the_portable_rest():
    fake = FakeArrayModule()
    kernels.register_array_module(fake, "fake")
    fake_conv = kernels.register("conv2d_forward", "fake")(lambda *a: "fake conv")
    assert kernels.get("conv2d_forward", fake) is fake_conv
    assert kernels.get("conv2d_forward", "fake") is fake_conv
    assert kernels.get("conv2d_forward", np) is cpu_conv.conv2d_forward
    assert kernels.get("pool2d_windows", fake) is im2col.pool2d_windows  # no fake one: the portable kernel


def test_the_error_names_the_kernel_and_the_device():
    kernels.register("fake_only", "fake")(lambda *a: None)
    with pytest.raises(kernels.KernelNotFoundError, match=r"no kernel 'fake_only' for device type 'cpu' and no portable "
                                                          r"\('any'\) one; 'fake_only' is registered for \['fake'\]"):
        kernels.get("fake_only", np)
    with pytest.raises(LookupError, match="no kernel 'winograd' for device type 'cuda'.*no device has a kernel named"):
        kernels.get("winograd", "cuda")


def test_operators_reach_a_fake_devices_kernels_unchanged():
    """Conv2d and MaxPool2d compute through the kernels of whatever device their xp belongs to."""
    fake = FakeArrayModule()
    kernels.register_array_module(fake, "fake")
    calls = []

    def spy(name):
        portable = kernels.get(name, "any")

        def kernel(xp, *args):
            calls.append((name, xp))
            return portable(np, *args)

        return kernels.register(name, "fake")(kernel)

    for name in ("conv2d_forward", "conv2d_backward", "pool2d_windows", "pool2d_backward"):
        spy(name)
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((2, 3, 5, 5)), rng.standard_normal((4, 3, 3, 3))
    conv = Conv2d((1, 1), (1, 1), (1, 1), 1)
    conv.xp, conv.saved, conv.needs_input_grad = fake, (), (True, True)
    y = conv.forward(x, w)
    gx, gw, _ = conv.backward(np.ones_like(y))
    pool = MaxPool2d((3, 3), (2, 2), (1, 1))  # not tiled: the general path's window kernels
    pool.xp, pool.saved, pool.needs_input_grad = fake, (), (True,)
    z = pool.forward(x)
    pool.backward(np.ones_like(z))
    assert calls == [("conv2d_forward", fake), ("conv2d_backward", fake), ("pool2d_windows", fake),
                     ("pool2d_backward", fake)]
    expected = F.conv2d(profondo.tensor(x), profondo.tensor(w), padding=1).numpy()
    np.testing.assert_allclose(y, expected, rtol=1e-12)
    assert gx.shape == x.shape and gw.shape == w.shape


def test_the_public_operators_reach_a_cpu_kernel():
    calls = []
    portable = im2col.conv2d_forward
    kernels.register("conv2d_forward", "cpu")(lambda *a: calls.append(a[0]) or portable(*a))
    x = profondo.randn(1, 2, 4, 4, requires_grad=True)
    F.conv2d(x, profondo.randn(3, 2, 3, 3)).sum().backward()
    assert calls == [np] and x.grad.shape == (1, 2, 4, 4)


def _kernel_folder(tmp_path, device_type):
    (tmp_path / f"{device_type}_conv.py").write_text(
        "from profondo.kernels import register\n\n"
        f"@register('conv2d_forward', '{device_type}')\n"
        "def conv2d_forward(xp, *args):\n    return 'from the device module'\n")
    return f"profondo.kernels.{device_type}_conv"


def test_device_modules_load_on_first_use_when_their_library_imports(tmp_path, monkeypatch):
    module = _kernel_folder(tmp_path, "devok")
    monkeypatch.setattr(kernels, "__path__", [*kernels.__path__, str(tmp_path)])
    monkeypatch.setitem(kernels._DEVICE_LIBRARIES, "devok", "json")  # a library that always imports
    monkeypatch.delitem(sys.modules, module, raising=False)
    assert module not in sys.modules
    assert kernels.get("conv2d_forward", "devok")(np) == "from the device module"
    assert module in sys.modules
    sys.modules.pop(module)


def test_device_modules_stay_unimported_without_their_library(tmp_path, monkeypatch):
    """As cuda_*.py on a machine without CuPy: the device gets the portable kernels."""
    module = _kernel_folder(tmp_path, "devmissing")
    monkeypatch.setattr(kernels, "__path__", [*kernels.__path__, str(tmp_path)])
    monkeypatch.setitem(kernels._DEVICE_LIBRARIES, "devmissing", "no_such_array_library_installed")
    assert kernels.get("conv2d_forward", "devmissing") is im2col.conv2d_forward
    assert module not in sys.modules


def test_importing_profondo_imports_no_cuda_kernel_module_without_cupy():
    if profondo.cuda_available():
        pytest.skip("CuPy is importable here")
    assert not [m for m in sys.modules if m.startswith("profondo.kernels.cuda_")]
