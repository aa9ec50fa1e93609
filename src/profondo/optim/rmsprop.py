"""RMSprop (Hinton's lecture rule, PyTorch's variant with momentum and centering)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from ..backend import array_module
from .optimizer import Optimizer


class RMSprop(Optimizer):
    """PyTorch's RMSprop: v = alpha*v + (1-alpha)*g^2; denominator sqrt(v) + eps (centered:
    sqrt(v - mean(g)^2) + eps); p -= lr * g / denominator, through a momentum buffer if momentum > 0.

    >>> opt = RMSprop(model.parameters(), lr=1e-3, momentum=0.9, centered=True)
    """

    def __init__(self, params: Iterable, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0.0, momentum: float = 0.0, centered: bool = False) -> None:
        super().__init__(params, lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum,
                         centered=centered)

    def _check_group(self, group: dict[str, Any]) -> None:
        super()._check_group(group)
        if not (group["alpha"] >= 0 and group["eps"] >= 0 and group["momentum"] >= 0):
            raise ValueError(f"RMSprop: alpha, eps and momentum must be >= 0, received alpha={group['alpha']}, "
                             f"eps={group['eps']}, momentum={group['momentum']}")

    def step(self, closure: Callable[[], Any] | None = None):
        loss = self._call(closure)
        state = self.state
        for group, lr, params in self._active_groups():
            alpha, eps, wd, momentum, centered = (group[k] for k in ("alpha", "eps", "weight_decay", "momentum",
                                                                     "centered"))
            for p in params:
                w = p.data
                xp = array_module(w)
                g = p.grad.data
                st = state.get(p)
                if st is None:
                    st = state[p] = {"step": 0, "square_avg": xp.zeros_like(w)}
                    if momentum > 0:
                        st["momentum_buffer"] = xp.zeros_like(w)
                    if centered:
                        st["grad_avg"] = xp.zeros_like(w)
                st["step"] += 1
                if wd:
                    g = self._decayed(g, w, wd)
                sq, tmp = st["square_avg"], self._scratch(w, 1)
                xp.multiply(g, g, out=tmp)
                tmp *= 1.0 - alpha
                sq *= alpha
                sq += tmp
                if centered:
                    ga = st["grad_avg"]
                    xp.multiply(g, 1.0 - alpha, out=tmp)
                    ga *= alpha
                    ga += tmp
                    xp.multiply(ga, ga, out=tmp)
                    xp.subtract(sq, tmp, out=tmp)
                    xp.sqrt(tmp, out=tmp)
                else:
                    xp.sqrt(sq, out=tmp)
                tmp += eps
                xp.divide(g, tmp, out=tmp)
                if momentum > 0:
                    buf = st["momentum_buffer"]
                    buf *= momentum
                    buf += tmp
                    xp.multiply(buf, lr, out=tmp)
                else:
                    tmp *= lr
                w -= tmp
        return loss
