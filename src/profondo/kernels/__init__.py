"""Per-device kernels behind the functional operators.

``register(name, device_type)`` decorates an implementation; ``get(name, xp)`` picks the
one for the array module in use and falls back to the portable ("any") version.
"""

from __future__ import annotations

import numpy as np

_registry: dict[tuple[str, str], object] = {}


def register(name: str, device_type: str = "any"):
    def decorate(fn):
        _registry[(name, device_type)] = fn
        return fn

    return decorate


def get(name: str, xp):
    device_type = "cpu" if xp is np else "cuda"
    return _registry.get((name, device_type)) or _registry[(name, "any")]


from . import im2col  # noqa: E402,F401  (registers the portable kernels)
