"""interpolate: resize the spatial axes of an (N, C, H, W) volume (nearest neighbour), as PyTorch's
``F.interpolate``. Written with differentiable shape operators, so gradients of every order come
from theirs."""

from __future__ import annotations

import math

import numpy as np


def _per_axis(value, name: str) -> tuple:
    if isinstance(value, (list, tuple)):
        if len(value) != 2:
            raise ValueError(f"interpolate: {name} expected one value or two (H, W) for a 4-D input, "
                             f"received {tuple(value)}")
        return tuple(value)
    return (value, value)


def _nearest_index(n_in: int, n_out: int, scale_factor: float | None) -> np.ndarray:
    """PyTorch's source row of each output row: floor(dst * scale) in float32, scale = 1 / scale_factor
    when one is given, else n_in / n_out (clamped to the last row)."""
    dst = np.arange(n_out, dtype=np.float32)
    scale = np.float32(1.0 / scale_factor) if scale_factor is not None else np.float32(n_in / n_out)
    return np.minimum(np.floor(dst * scale).astype(np.int64), n_in - 1)


def _repeat_axis(x, axis: int, factor: int):
    """Each slice along ``axis`` repeated ``factor`` times in place (x x y y ...): a reshape, a
    broadcast and a reshape, so no index array travels through the graph."""
    from .shape import broadcast_to, reshape

    shape = tuple(x.shape)
    spread = shape[:axis + 1] + (1,) + shape[axis + 1:]
    wide = shape[:axis + 1] + (factor,) + shape[axis + 1:]
    out = shape[:axis] + (shape[axis] * factor,) + shape[axis + 1:]
    return reshape(broadcast_to(reshape(x, spread), wide), out)


def interpolate(x, size=None, scale_factor=None, mode: str = "nearest"):
    """Resize H and W of an (N, C, H, W) input to ``size`` (int or (H, W)) or by ``scale_factor``
    (number or pair; output = floor(input x factor)), exactly one of the two given.
    ``interpolate(x, scale_factor=2)`` doubles H and W, each pixel copied into a 2 x 2 block.
    Only mode "nearest" (PyTorch's legacy nearest: source index floor(dst x scale))."""
    from .shape import index_select

    if mode != "nearest":
        raise NotImplementedError(f"interpolate: mode {mode!r} is not implemented; only 'nearest' is "
                                  "(PyTorch also has 'bilinear', 'bicubic', 'nearest-exact', 'area')")
    if x.ndim != 4:
        raise ValueError(f"interpolate: expected a 4-D input (N, C, H, W), received shape {tuple(x.shape)}")
    if (size is None) == (scale_factor is None):
        raise ValueError("interpolate: expected exactly one of size and scale_factor, received "
                         f"size={size!r}, scale_factor={scale_factor!r}")
    h, w = x.shape[2:]
    if size is not None:
        out = tuple(int(s) for s in _per_axis(size, "size"))
        factors = (None, None)
    else:
        factors = tuple(float(f) for f in _per_axis(scale_factor, "scale_factor"))
        if min(factors) <= 0:
            raise ValueError(f"interpolate: scale_factor expected positive, received {scale_factor!r}")
        out = (math.floor(h * factors[0]), math.floor(w * factors[1]))
    if min(out) < 1:
        raise ValueError(f"interpolate: output size {out} of an input of H x W = {h} x {w}: expected at least 1 x 1")
    for axis, n_in, n_out, factor in ((2, h, out[0], factors[0]), (3, w, out[1], factors[1])):
        index = _nearest_index(n_in, n_out, factor)
        if n_out == n_in and np.array_equal(index, np.arange(n_in)):
            continue
        k = n_out // n_in
        if n_out % n_in == 0 and np.array_equal(index, np.arange(n_out) // k):
            x = _repeat_axis(x, axis, k)
        else:
            x = index_select(x, axis, x.xp.asarray(index))  # on the input's device (CuPy indexes with its own)
    return x
