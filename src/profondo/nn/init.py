"""Weight initialisers (PyTorch's names and formulas), drawing from profondo.random.generator().

Each writes in place into a Tensor's array, keeping its dtype and device, and returns the
tensor. Fans follow PyTorch: a weight of shape (out, in, *kernel) has
fan_in = in * prod(kernel) and fan_out = out * prod(kernel).

>>> init.kaiming_normal_(layer.weight, nonlinearity="relu")   # He: std = sqrt(2 / fan_in)
"""

from __future__ import annotations

import math

import numpy as np

from ..backend import device_of, move
from ..random import generator
from ..tensor import Tensor

_GAINS = {"linear": 1.0, "identity": 1.0, "conv1d": 1.0, "conv2d": 1.0, "conv3d": 1.0, "sigmoid": 1.0,
          "tanh": 5.0 / 3, "relu": math.sqrt(2.0), "selu": 3.0 / 4}


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The standard deviation scale that keeps activations' variance through ``nonlinearity``.

    >>> calculate_gain("relu")
    1.4142135623730951
    """
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else float(param)
        return math.sqrt(2.0 / (1 + slope**2))
    if nonlinearity not in _GAINS:
        raise ValueError(f"calculate_gain: unknown nonlinearity {nonlinearity!r}: expected one of "
                         f"{sorted([*_GAINS, 'leaky_relu'])}")
    return _GAINS[nonlinearity]


def calculate_fan_in_and_fan_out(tensor: Tensor) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight shaped (out, in, *kernel). ``calculate_fan_in_and_fan_out(w)``"""
    shape = tensor.shape
    if len(shape) < 2:
        raise ValueError(f"calculate_fan_in_and_fan_out: needs a tensor of at least 2 dimensions "
                         f"(out, in, ...), received shape {tuple(shape)}")
    receptive = math.prod(shape[2:])
    return shape[1] * receptive, shape[0] * receptive


def _fill(tensor: Tensor, draw) -> Tensor:
    """Write ``draw(shape, dtype)`` (a NumPy array) into the tensor's array in place."""
    if not isinstance(tensor, Tensor):
        raise TypeError(f"init: expected a Tensor, received {type(tensor).__name__}")
    array = tensor.data
    values = draw(array.shape, np.float64 if array.dtype == np.float64 else np.float32)
    array[...] = move(values, device_of(array)) if not isinstance(array, np.ndarray) else values
    return tensor


def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0) -> Tensor:
    """Fill with U(a, b). ``uniform_(w, -0.1, 0.1)``"""
    return _fill(tensor, lambda shape, dt: generator().random(shape, dtype=dt) * dt(b - a) + dt(a))


def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0) -> Tensor:
    """Fill with N(mean, std^2). ``normal_(w, 0.0, 0.01)``"""
    return _fill(tensor, lambda shape, dt: generator().standard_normal(shape, dtype=dt) * dt(std) + dt(mean))


def constant_(tensor: Tensor, val: float) -> Tensor:
    """Fill with ``val``. ``constant_(bias, 0.1)``"""
    tensor.data[...] = val
    return tensor


def zeros_(tensor: Tensor) -> Tensor:
    return constant_(tensor, 0)


def ones_(tensor: Tensor) -> Tensor:
    return constant_(tensor, 1)


def xavier_uniform_(tensor: Tensor, gain: float = 1.0) -> Tensor:
    """Glorot uniform: U(-a, a) with a = gain * sqrt(6 / (fan_in + fan_out))."""
    fan_in, fan_out = calculate_fan_in_and_fan_out(tensor)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(tensor, -bound, bound)


def xavier_normal_(tensor: Tensor, gain: float = 1.0) -> Tensor:
    """Glorot normal: N(0, std^2) with std = gain * sqrt(2 / (fan_in + fan_out))."""
    fan_in, fan_out = calculate_fan_in_and_fan_out(tensor)
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)))


def _kaiming_std(tensor: Tensor, a: float, mode: str, nonlinearity: str) -> float:
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"kaiming init: mode must be 'fan_in' or 'fan_out', received {mode!r}")
    fan_in, fan_out = calculate_fan_in_and_fan_out(tensor)
    return calculate_gain(nonlinearity, a) / math.sqrt(fan_in if mode == "fan_in" else fan_out)


def kaiming_uniform_(tensor: Tensor, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu") -> Tensor:
    """He uniform: U(-b, b) with b = sqrt(3) * gain / sqrt(fan); ``a`` is the leaky-ReLU slope.

    >>> kaiming_uniform_(w, nonlinearity="relu")   # b = sqrt(6 / fan_in)
    """
    bound = math.sqrt(3.0) * _kaiming_std(tensor, a, mode, nonlinearity)
    return uniform_(tensor, -bound, bound)


def kaiming_normal_(tensor: Tensor, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu") -> Tensor:
    """He normal: N(0, std^2) with std = gain / sqrt(fan). ``kaiming_normal_(w, nonlinearity="relu")``"""
    return normal_(tensor, 0.0, _kaiming_std(tensor, a, mode, nonlinearity))


# Layer-level schemes (``init=`` of Linear and Conv2d): Keras's and PyTorch's names.
SCHEMES = {
    "xavier_uniform": xavier_uniform_, "glorot_uniform": xavier_uniform_,
    "xavier_normal": xavier_normal_, "glorot_normal": xavier_normal_,
    "he_uniform": lambda w: kaiming_uniform_(w, nonlinearity="relu"),
    "kaiming_uniform": lambda w: kaiming_uniform_(w, nonlinearity="relu"),
    "he_normal": lambda w: kaiming_normal_(w, nonlinearity="relu"),
    "kaiming_normal": lambda w: kaiming_normal_(w, nonlinearity="relu"),
}


def check_scheme(scheme: str | None, where: str = "init") -> None:
    """Raise a ValueError listing the valid names when ``scheme`` is not one of them."""
    if scheme is not None and scheme not in SCHEMES:
        raise ValueError(f"{where}: unknown init {scheme!r}: expected None (PyTorch's default) or one of "
                         f"{sorted(SCHEMES)}")


def initialize_(weight: Tensor, bias: Tensor | None = None, scheme: str | None = None) -> None:
    """Initialise a layer's weight and bias by a named scheme.

    ``None`` is PyTorch's default for Linear and Conv2d: kaiming_uniform_ with a=sqrt(5) (a
    bound of 1/sqrt(fan_in)) and a bias drawn from U(-1/sqrt(fan_in), 1/sqrt(fan_in)). A
    named scheme initialises the weight and sets the bias to zero.

    >>> initialize_(layer.weight, layer.bias, "he_normal")
    """
    check_scheme(scheme)
    if scheme is None:
        kaiming_uniform_(weight, a=math.sqrt(5))
        if bias is not None:
            fan_in = calculate_fan_in_and_fan_out(weight)[0]
            bound = 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0
            uniform_(bias, -bound, bound)
        return
    SCHEMES[scheme](weight)
    if bias is not None:
        zeros_(bias)
