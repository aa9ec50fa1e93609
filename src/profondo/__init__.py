"""profondo: a deep-learning framework written from scratch on NumPy (and CuPy on GPUs)."""

from . import functional
from .autograd import Function, enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from .backend import Device, cuda_available, device, get_num_threads, set_num_threads
from .functional import *  # noqa: F403  (torch-style top-level operators: profondo.exp, profondo.concat, ...)
from .gradcheck import GradcheckError, gradcheck, gradgradcheck
from .random import manual_seed
from .tensor import (
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
                     int32,
                     int64,
                     ones,
                     ones_like,
                     rand,
                     rand_like,
                     randn,
                     randn_like,
                     tensor,
                     uint8,
                     zeros,
                     zeros_like,
)

__version__ = "0.1.0"

from . import data, nn, optim  # noqa: E402  (after the engine they build on)
