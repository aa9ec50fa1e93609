"""``torch.nn.utils``'s gradient clipping: by global norm or by value (out of place: gradients
may be shared). ``profondo.optim.clip_grad_norm_`` is the same function."""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from ..backend import array_module
from ..tensor import Tensor


def _grads(parameters: Tensor | Iterable[Tensor]) -> list[Tensor]:
    params = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    return [p.grad for p in params if p.grad is not None]


def clip_grad_norm_(parameters: Tensor | Iterable[Tensor], max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False) -> Tensor:
    """Scale all gradients together so that their joint ``norm_type`` norm is at most ``max_norm``.

    Returns the norm before clipping (a 0-d tensor). Each clipped gradient gets a new array.

    >>> loss.backward(); clip_grad_norm_(model.parameters(), 1.0); opt.step()
    """
    grads = _grads(parameters)
    if not grads:
        return Tensor(np.zeros((), np.float32))
    norm_type = float(norm_type)
    xp = array_module(grads[0].data)
    if math.isinf(norm_type):
        norms = [xp.abs(g.data).max() if g.data.size else xp.zeros((), g.data.dtype) for g in grads]
        total = xp.max(xp.stack(norms))
    else:
        norms = [(xp.abs(g.data) ** norm_type).sum() for g in grads]
        total = xp.sum(xp.stack(norms)) ** (1.0 / norm_type)
    total_value = float(total)
    if error_if_nonfinite and not math.isfinite(total_value):
        raise RuntimeError(f"clip_grad_norm_: the total {norm_type:g}-norm of the gradients is {total_value}; "
                           "pass error_if_nonfinite=False to clip anyway")
    coef = max_norm / (total_value + 1e-6)
    if coef < 1.0:
        for g in grads:
            g.data = g.data * g.data.dtype.type(coef)
    return Tensor(xp.asarray(total, dtype=grads[0].data.dtype))


def clip_grad_value_(parameters: Tensor | Iterable[Tensor], clip_value: float) -> None:
    """Clamp every gradient element into [-clip_value, clip_value] (new arrays).

    >>> clip_grad_value_(model.parameters(), 0.5)
    """
    if not clip_value >= 0:
        raise ValueError(f"clip_grad_value_: clip_value must be >= 0, received {clip_value}")
    for g in _grads(parameters):
        g.data = array_module(g.data).clip(g.data, -clip_value, clip_value)
