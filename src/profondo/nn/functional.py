"""``torch.nn.functional``'s path (``import profondo.nn.functional as F``): the operators of
:mod:`profondo.functional`, with PyTorch's ``inplace=`` switches where it has them."""

from __future__ import annotations

from ..functional import *  # noqa: F403
from ..functional import __all__ as _operators
from ..functional import dropout as _dropout
from ..functional import elu as _elu
from ..functional import leaky_relu as _leaky_relu
from ..functional import relu as _relu
from ..functional import relu6 as _relu6


def relu(x, inplace: bool = False):
    return x.relu_() if inplace else _relu(x)


def relu6(x, inplace: bool = False):
    return x._inplace(_relu6) if inplace else _relu6(x)


def leaky_relu(x, negative_slope: float = 0.01, inplace: bool = False):
    return x._inplace(_leaky_relu, negative_slope) if inplace else _leaky_relu(x, negative_slope)


def elu(x, alpha: float = 1.0, inplace: bool = False):
    return x._inplace(_elu, alpha) if inplace else _elu(x, alpha)


def dropout(x, p: float = 0.5, training: bool = True, inplace: bool = False):
    return x._inplace(_dropout, p, training) if inplace else _dropout(x, p, training)


__all__ = list(_operators)
