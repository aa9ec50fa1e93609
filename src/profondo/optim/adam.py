"""Adam and AdamW (decoupled weight decay), with optional AMSGrad."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

from ..backend import array_module
from .optimizer import Optimizer


class Adam(Optimizer):
    """PyTorch's Adam: m = b1*m + (1-b1)*g; v = b2*v + (1-b2)*g^2;
    p -= lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps). ``weight_decay`` adds wd*p to g (L2).

    >>> opt = Adam(model.parameters(), lr=1e-3)
    """

    _decoupled = False

    def __init__(self, params: Iterable, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0, amsgrad: bool = False) -> None:
        super().__init__(params, lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay, amsgrad=amsgrad)

    def _check_group(self, group: dict[str, Any]) -> None:
        super()._check_group(group)
        b1, b2 = group["betas"]
        if not (0 <= b1 < 1 and 0 <= b2 < 1) or not group["eps"] >= 0:
            raise ValueError(f"{type(self).__name__}: betas must be in [0, 1) and eps >= 0, received "
                             f"betas={group['betas']}, eps={group['eps']}")

    def step(self, closure: Callable[[], Any] | None = None):
        loss = self._call(closure)
        state, decoupled = self.state, self._decoupled
        for group, lr, params in self._active_groups():
            (b1, b2), eps, wd, amsgrad = group["betas"], group["eps"], group["weight_decay"], group["amsgrad"]
            for p in params:
                w = p.data
                xp = array_module(w)
                g = p.grad.data
                st = state.get(p)
                if st is None:
                    st = state[p] = {"step": 0, "exp_avg": xp.zeros_like(w), "exp_avg_sq": xp.zeros_like(w)}
                    if amsgrad:
                        st["max_exp_avg_sq"] = xp.zeros_like(w)
                st["step"] = t = st["step"] + 1
                if wd:
                    if decoupled:
                        w *= 1.0 - lr * wd
                    else:
                        g = self._decayed(g, w, wd)
                m, v, tmp = st["exp_avg"], st["exp_avg_sq"], self._scratch(w, 1)
                xp.multiply(g, 1.0 - b1, out=tmp)
                m *= b1
                m += tmp
                xp.multiply(g, g, out=tmp)
                tmp *= 1.0 - b2
                v *= b2
                v += tmp
                if amsgrad:
                    v = xp.maximum(st["max_exp_avg_sq"], v, out=st["max_exp_avg_sq"])
                xp.sqrt(v, out=tmp)
                tmp /= math.sqrt(1.0 - b2**t)
                tmp += eps
                xp.divide(m, tmp, out=tmp)
                tmp *= lr / (1.0 - b1**t)
                w -= tmp
        return loss


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter): p *= 1 - lr*wd before the Adam step.

    >>> opt = AdamW(model.parameters(), lr=1e-3, weight_decay=1e-2)
    """

    _decoupled = True

    def __init__(self, params: Iterable, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 1e-2, amsgrad: bool = False) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad)
