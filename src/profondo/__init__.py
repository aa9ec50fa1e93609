"""profondo: a deep-learning framework written from scratch on NumPy (and CuPy on GPUs)."""

import builtins

from . import functional
from .autograd import Function, enable_grad, inference_mode, is_grad_enabled, no_grad, set_grad_enabled
from .backend import Device, cuda_available, device, get_num_threads, set_num_threads
from .functional import *  # noqa: F403  (torch-style top-level operators: profondo.exp, profondo.concat, ...)
from .gradcheck import GradcheckError, gradcheck, gradgradcheck
from .random import Generator, manual_seed
from .tensor import (
    Size,
    Tensor,
    arange,
    as_tensor,
    bool_,
    empty,
    empty_like,
    eye,
    float16,
    float32,
    float64,
    from_numpy,
    full,
    full_like,
    int8,
    int16,
    int32,
    int64,
    linspace,
    ones,
    ones_like,
    rand,
    rand_like,
    randint,
    randn,
    randn_like,
    randperm,
    tensor,
    uint8,
    zeros,
    zeros_like,
)

__version__ = "0.1.0"

# PyTorch's dtype names (torch.float is float32, torch.int int32, torch.long int64)
float = float32  # noqa: A001
double = float64
half = float16
long = int64
int = int32  # noqa: A001
short = int16
bool = bool_  # noqa: A001


def is_tensor(obj) -> bool:  # noqa: D103
    return isinstance(obj, Tensor)


def numel(x: Tensor) -> int:  # noqa: D103
    return x.numel()


def allclose(a, b, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False) -> bool:
    """True when |a - b| <= atol + rtol |b| everywhere, as torch.allclose."""
    import numpy as _np

    return builtins.bool(_np.allclose(_np.asarray(a), _np.asarray(b), rtol, atol, equal_nan))


def equal(a, b) -> bool:
    """True when a and b have the same shape and elements."""
    import numpy as _np

    return builtins.bool(_np.array_equal(_np.asarray(a), _np.asarray(b)))


def save(obj, f) -> None:
    """Write a tensor, a state dict, or a dict/list of them (data only: no pickle). See profondo.io.serialization."""
    from .io.serialization import save as _save

    _save(obj, f)


def load(f, map_location=None, weights_only: builtins.bool = True):
    """Read what :func:`save` wrote (never unpickles)."""
    from .io.serialization import load as _load

    return _load(f, map_location, weights_only)


from . import (  # noqa: E402  (after the engine they build on)
    autograd,  # noqa: E402,F401  (profondo.autograd, as torch.autograd)
    cuda,
    data,
    nn,
    optim,
    utils,
)
