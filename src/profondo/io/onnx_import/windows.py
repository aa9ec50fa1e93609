"""ONNX's windowed operators in every attribute form: pooling (1-D to 3-D, ``auto_pad``,
``ceil_mode``, dilations, ``count_include_pad``, MaxPool's indices), Conv and ConvTranspose
with uneven padding. The nodes whose form matches one of profondo's layers become that layer
(:mod:`.layers`); these are the general forms, on Tensors."""

from __future__ import annotations

import itertools
import math

import numpy as np

from ... import functional as F
from ...autograd import Function
from ...tensor import Tensor
from .ops import arr, exact


def _explicit_pads(attrs, spatial: list[int], kernel: list[int], strides: list[int], dil: list[int]):
    """(begin, end) padding per axis from ``pads`` or ``auto_pad``, as ONNX computes them."""
    d = len(spatial)
    auto = attrs.get("auto_pad", "NOTSET")
    if auto in ("SAME_UPPER", "SAME_LOWER"):
        total = [max((math.ceil(n / s) - 1) * s + (k - 1) * t + 1 - n, 0)
                 for n, s, k, t in zip(spatial, strides, kernel, dil)]
        small = [t // 2 for t in total]
        return [(t - m, m) if auto == "SAME_LOWER" else (m, t - m) for t, m in zip(total, small)]
    if auto == "VALID":
        return [(0, 0)] * d
    pads = list(attrs.get("pads", [0] * 2 * d))
    return list(zip(pads[:d], pads[d:]))


def _output_sizes(attrs, spatial, kernel, strides, dil, pads) -> list[int]:
    ceil = attrs.get("ceil_mode", 0) and attrs.get("auto_pad", "NOTSET") in ("NOTSET", "VALID")
    if attrs.get("auto_pad", "NOTSET") in ("SAME_UPPER", "SAME_LOWER"):
        return [math.ceil(n / s) for n, s in zip(spatial, strides)]
    out = []
    for n, k, s, t, (b, e) in zip(spatial, kernel, strides, dil, pads):
        span = n + b + e - ((k - 1) * t + 1)
        size = (math.ceil(span / s) if ceil else span // s) + 1
        if ceil and (size - 1) * s >= n + b:  # the last window must start inside the input or left padding
            size -= 1
        out.append(size)
    return out


def _windows(x, kernel, strides, dil, out):
    """The strided views of ``x`` (already padded), one per kernel offset."""
    lead = (slice(None), slice(None))
    for offset in itertools.product(*[range(k) for k in kernel]):
        yield lead + tuple(slice(o * t, o * t + s * (m - 1) + 1, s) for o, t, s, m in zip(offset, dil, strides, out))


def pool(attrs, x, kind: str):
    """MaxPool / AveragePool / LpPool in ONNX's general form; MaxPool returns (Y, Indices)."""
    spatial = list(x.shape[2:])
    d = len(spatial)
    kernel = list(attrs["kernel_shape"])
    strides = list(attrs.get("strides", [1] * d))
    dil = list(attrs.get("dilations", [1] * d))
    pads = _explicit_pads(attrs, spatial, kernel, strides, dil)
    out = _output_sizes(attrs, spatial, kernel, strides, dil, pads)
    # the ceil-mode overhang: padding past the explicit one, never counted in an average
    over = [max((m - 1) * s + (k - 1) * t + 1 - (n + b + e), 0)
            for m, s, k, t, n, (b, e) in zip(out, strides, kernel, dil, spatial, pads)]
    widths = [(0, 0), (0, 0)] + [(b, e + o) for (b, e), o in zip(pads, over)]
    if kind == "max":
        fill = -np.inf if x.dtype.kind == "f" else np.iinfo(x.dtype).min
    else:
        fill = 0.0
    if exact(x):
        padded = np.pad(arr(x), widths, constant_values=fill)
        views = [padded[w] for w in _windows(padded, kernel, strides, dil, out)]
        stacked = np.stack(views)
        y = Tensor(stacked.max(0))
    else:
        padded = F.pad(x, widths, value=fill) if any(b or e for b, e in widths) else x
        views = [F.getitem(padded, w) for w in _windows(padded, kernel, strides, dil, out)]
        stacked = F.stack(views, 0)
        if kind == "max":
            y = F.amax(stacked, 0)
        elif kind == "lp":
            p = attrs.get("p", 2)
            y = F.sum(F.abs(stacked) ** float(p), 0) ** (1.0 / p)
        else:
            total = F.sum(stacked, 0)
            include = attrs.get("count_include_pad", 0)
            counted = np.pad(np.ones(spatial, x.dtype), [(b, e) for b, e in pads], constant_values=1.0 if include
                             else 0.0)
            counted = np.pad(counted, [(0, o) for o in over])[None, None]
            divisor = sum(counted[w] for w in _windows(counted, kernel, strides, dil, out))
            y = total / Tensor(np.maximum(divisor, 1).astype(x.dtype))
    if kind != "max":
        return y
    return y, Tensor(_max_indices(arr(stacked) if not exact(x) else stacked, x.shape, kernel, strides, dil, pads,
                                  out, attrs.get("storage_order", 0)))


def _max_indices(stacked, shape, kernel, strides, dil, pads, out, storage_order) -> np.ndarray:
    """MaxPool's Indices: each maximum's flat position in the input (row-major unless storage_order=1)."""
    which = np.asarray(stacked).argmax(0)  # the first maximum in the window
    offsets = np.array(list(itertools.product(*[range(k) for k in kernel])))  # (K, d)
    n, c = shape[:2]
    spatial = shape[2:]
    coords = []
    for axis in range(len(spatial)):
        grid_shape = [1] * (2 + len(spatial))
        grid_shape[2 + axis] = out[axis]
        start = np.arange(out[axis]).reshape(grid_shape) * strides[axis] - pads[axis][0]
        coords.append(start + offsets[which, axis] * dil[axis])
    if storage_order:
        coords = coords[::-1]
        spatial = spatial[::-1]
    flat = np.zeros(which.shape, np.int64)
    for cd, size in zip(coords, spatial):
        flat = flat * size + cd
    base = (np.arange(n).reshape(-1, 1, *[1] * len(spatial)) * c + np.arange(c).reshape(1, -1, *[1] * len(spatial)))
    return (base * math.prod(spatial) + flat).astype(np.int64)


def max_pool(attrs, x):
    return pool(attrs, x, "max")


def average_pool(attrs, x):
    return pool(attrs, x, "avg")


def lp_pool(attrs, x):
    return pool(attrs, x, "lp")


def _as_2d(x, w):
    """1-D convolutions run as 2-D ones of height 1."""
    return F.unsqueeze(x, 2), F.unsqueeze(w, 2)


def conv(attrs, x, w, b=None):
    """Conv of any padding (uneven included) for 1-D and 2-D inputs."""
    d = x.ndim - 2
    if d not in (1, 2):
        raise ValueError(f"Conv: {d}-D convolutions are not supported (1-D and 2-D are)")
    kernel = list(w.shape[2:])
    strides = list(attrs.get("strides", [1] * d))
    dil = list(attrs.get("dilations", [1] * d))
    pads = _explicit_pads(attrs, list(x.shape[2:]), kernel, strides, dil)
    widths = [(0, 0), (0, 0)] + [tuple(p) for p in pads]
    x = F.pad(x, widths) if any(b_ or e for b_, e in pads) else x
    if d == 1:
        x, w = _as_2d(x, w)
        strides, dil = [1, *strides], [1, *dil]
    y = F.conv2d(x, w, b, tuple(strides), 0, tuple(dil), attrs.get("group", 1))
    return F.squeeze(y, 2) if d == 1 else y


class _Dilate(Function):
    """Insert ``s - 1`` zeros between the elements of each spatial axis (a transposed stride)."""

    def __init__(self, strides) -> None:
        self.strides = strides

    def forward(self, x):
        shape = list(x.shape[:2]) + [(n - 1) * s + 1 for n, s in zip(x.shape[2:], self.strides)]
        y = self.xp.zeros(shape, x.dtype)
        self.index = (slice(None), slice(None)) + tuple(slice(None, None, s) for s in self.strides)
        y[self.index] = x
        return y

    def backward(self, gy):
        return gy[self.index]


def conv_transpose(attrs, x, w, b=None):
    """ConvTranspose (1-D and 2-D): a convolution of the stride-dilated input with the flipped kernel."""
    d = x.ndim - 2
    if d not in (1, 2):
        raise ValueError(f"ConvTranspose: {d}-D is not supported (1-D and 2-D are)")
    group = attrs.get("group", 1)
    kernel = list(w.shape[2:])
    strides = list(attrs.get("strides", [1] * d))
    dil = list(attrs.get("dilations", [1] * d))
    out_pad = list(attrs.get("output_padding", [0] * d))
    spatial = list(x.shape[2:])
    full = [s * (n - 1) + o + (k - 1) * t + 1 for n, s, k, t, o in zip(spatial, strides, kernel, dil, out_pad)]
    if "output_shape" in attrs:
        target = list(attrs["output_shape"])[-d:]
        total = [f - t for f, t in zip(full, target)]
        auto = attrs.get("auto_pad", "NOTSET")
        pads = [((t + 1) // 2, t // 2) if auto == "SAME_LOWER" else (t // 2, t - t // 2) for t in total]
    elif attrs.get("auto_pad", "NOTSET") in ("SAME_UPPER", "SAME_LOWER"):
        total = [f - n * s for f, n, s in zip(full, spatial, strides)]
        pads = [((t + 1) // 2, t // 2) if attrs["auto_pad"] == "SAME_LOWER" else (t // 2, t - t // 2) for t in total]
    else:
        p = list(attrs.get("pads", [0] * 2 * d))
        pads = list(zip(p[:d], p[d:]))
    x = _Dilate(strides).apply(x) if any(s > 1 for s in strides) else x
    # full padding (k-1)*dil each side, less the requested pads; output_padding extends the end
    widths = [((k - 1) * t - pb, (k - 1) * t - pe + o) for k, t, (pb, pe), o in zip(kernel, dil, pads, out_pad)]
    neg = [(max(-a, 0), max(-e, 0)) for a, e in widths]
    x = F.pad(x, [(0, 0), (0, 0)] + [(max(a, 0), max(e, 0)) for a, e in widths])
    if any(a or e for a, e in neg):
        x = F.getitem(x, (slice(None), slice(None)) + tuple(slice(a, n - e) for (a, e), n in zip(neg, x.shape[2:])))
    cin, cout_g = w.shape[0], w.shape[1]
    # (Cin, Cout/g, k...) -> (Cout, Cin/g, k...), flipped
    wg = F.reshape(w, (group, cin // group, cout_g, *kernel))
    wg = F.permute(wg, (0, 2, 1, *range(3, 3 + d)))
    wf = F.reshape(wg, (group * cout_g, cin // group, *kernel))
    wf = F.getitem(wf, (slice(None), slice(None)) + (slice(None, None, -1),) * d)
    if d == 1:
        x, wf = _as_2d(x, wf)
        dil = [1, *dil]
    y = F.conv2d(x, wf, b, 1, 0, tuple(dil), group)
    return F.squeeze(y, 2) if d == 1 else y
