"""Per-device kernels behind the functional operators, registered by device type.

An operator asks for a kernel by name and by the array module it computes with::

    kernels.get("conv2d_forward", self.xp)(self.xp, x, w, ...)

``get`` turns the array module into a device type ("cpu" for NumPy, "cuda" for CuPy), returns
the kernel registered for that device type, and falls back to the portable ("any") kernel,
which is written against ``xp`` and runs on every device. A device-specific kernel joins by
registering itself, with no change to the operators::

    # kernels/cuda_conv.py
    from . import register

    @register("conv2d_forward", "cuda")
    def conv2d_forward(xp, x, w, stride, padding, dilation, groups, out_hw): ...

Modules named ``<device type>_<anything>.py`` in this folder hold one device's kernels. They
are imported the first time a kernel for that device type is asked for, and only when the
device's array library imports (``cuda_*.py`` needs CuPy), so a machine without CuPy never
imports them.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from types import ModuleType

import numpy as np

PORTABLE = "any"

# The array library each device type's kernel modules need: they are imported only when it imports.
_DEVICE_LIBRARIES: dict[str, str] = {"cuda": "cupy"}

_registry: dict[tuple[str, str], Callable] = {}
_module_device_types: dict[ModuleType, str] = {np: "cpu"}
_loaded_device_types: set[str] = {PORTABLE}


class KernelNotFoundError(LookupError):
    """No kernel of that name for the device type, and no portable one."""


def register(name: str, device_type: str = PORTABLE) -> Callable[[Callable], Callable]:
    """Decorator registering ``fn`` as kernel ``name`` for ``device_type`` ("cpu", "cuda", or
    "any" for a portable kernel written against the ``xp`` it receives)."""
    if not isinstance(device_type, str) or not device_type or ":" in device_type:
        raise ValueError(f"kernels.register({name!r}): expected a device type such as 'cpu', 'cuda' or "
                         f"'any' (no device index), received {device_type!r}")

    def decorate(fn: Callable) -> Callable:
        _registry[(name, device_type)] = fn
        return fn

    return decorate


def unregister(name: str, device_type: str = PORTABLE) -> None:
    """Remove kernel ``name`` for ``device_type`` (a KeyError names it when there is none)."""
    if _registry.pop((name, device_type), None) is None:
        raise KeyError(f"kernels.unregister: no kernel {name!r} registered for device type {device_type!r}")


def register_array_module(module: ModuleType, device_type: str) -> None:
    """Declare that arrays of ``module`` live on ``device_type``, so ``get(name, module)``
    picks that device type's kernels. NumPy is "cpu"; CuPy is recognised by name as "cuda"."""
    _module_device_types[module] = device_type


def device_type_of(xp: ModuleType | str | object) -> str:
    """The device type of an array module (numpy -> "cpu", cupy -> "cuda"), of a
    ``profondo.backend.Device`` (its ``.type``), or a device type given as a string."""
    if isinstance(xp, str):
        return xp.partition(":")[0]
    known = _module_device_types.get(xp) if isinstance(xp, ModuleType) else None
    if known is not None:
        return known
    if isinstance(xp, ModuleType):
        if xp.__name__.partition(".")[0] == "cupy":
            _module_device_types[xp] = "cuda"
            return "cuda"
        raise TypeError(f"kernels: the array module {xp.__name__!r} belongs to no known device type: expected "
                        "numpy or cupy, or a module declared with kernels.register_array_module(module, device_type)")
    device_type = getattr(xp, "type", None)
    if isinstance(device_type, str):
        return device_type
    raise TypeError(f"kernels: expected an array module (numpy, cupy), a Device or a device type string, "
                    f"received {xp!r}")


def _load_device_kernels(device_type: str) -> None:
    """Import this folder's ``<device_type>_*.py`` modules once, if the device's library imports."""
    _loaded_device_types.add(device_type)
    library = _DEVICE_LIBRARIES.get(device_type)
    if library is not None:
        try:
            importlib.import_module(library)
        except Exception:  # not installed, or its CUDA libraries fail to load: portable kernels only
            return
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith(f"{device_type}_"):
            importlib.import_module(f"{__name__}.{info.name}")


def get(name: str, xp: ModuleType | str | object) -> Callable:
    """The kernel ``name`` for the device of ``xp`` (an array module, a Device or a device type):
    the device's own kernel when one is registered, else the portable one."""
    device_type = _module_device_types.get(xp) if isinstance(xp, ModuleType) else None
    if device_type is None:
        device_type = device_type_of(xp)
    if device_type not in _loaded_device_types:
        _load_device_kernels(device_type)
    kernel = _registry.get((name, device_type)) or _registry.get((name, PORTABLE))
    if kernel is None:
        have = registered(name)
        raise KernelNotFoundError(
            f"kernels: no kernel {name!r} for device type {device_type!r} and no portable ('any') one; "
            + (f"{name!r} is registered for {have}" if have else f"no device has a kernel named {name!r}"))
    return kernel


def registered(name: str) -> list[str]:
    """The device types that have their own kernel ``name`` ("any" for the portable one)."""
    return sorted(d for n, d in _registry if n == name)


from . import im2col  # noqa: E402,F401  (registers the portable kernels)

_load_device_kernels("cpu")  # NumPy is always there: the CPU's own kernels load with the package
