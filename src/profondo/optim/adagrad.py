"""Adagrad: per-coordinate learning rates shrinking with the sum of squared gradients."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from ..backend import array_module
from .optimizer import Optimizer


class Adagrad(Optimizer):
    """PyTorch's Adagrad: s += g^2; p -= lr / (1 + (t-1)*lr_decay) * g / (sqrt(s) + eps).

    >>> opt = Adagrad(model.parameters(), lr=0.1)
    """

    def __init__(self, params: Iterable, lr: float = 1e-2, lr_decay: float = 0.0, weight_decay: float = 0.0,
                 initial_accumulator_value: float = 0.0, eps: float = 1e-10) -> None:
        super().__init__(params, lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                         initial_accumulator_value=initial_accumulator_value, eps=eps)

    def _check_group(self, group: dict[str, Any]) -> None:
        super()._check_group(group)
        if not (group["lr_decay"] >= 0 and group["initial_accumulator_value"] >= 0 and group["eps"] >= 0):
            raise ValueError(f"Adagrad: lr_decay, initial_accumulator_value and eps must be >= 0, received "
                             f"lr_decay={group['lr_decay']}, initial_accumulator_value="
                             f"{group['initial_accumulator_value']}, eps={group['eps']}")

    def step(self, closure: Callable[[], Any] | None = None):
        loss = self._call(closure)
        state = self.state
        for group, lr, params in self._active_groups():
            lr_decay, wd, eps = group["lr_decay"], group["weight_decay"], group["eps"]
            for p in params:
                w = p.data
                xp = array_module(w)
                g = p.grad.data
                st = state.get(p)
                if st is None:
                    st = state[p] = {"step": 0, "sum": xp.full_like(w, group["initial_accumulator_value"])}
                st["step"] = t = st["step"] + 1
                if wd:
                    g = self._decayed(g, w, wd)
                s, tmp = st["sum"], self._scratch(w, 1)
                xp.multiply(g, g, out=tmp)
                s += tmp
                xp.sqrt(s, out=tmp)
                tmp += eps
                xp.divide(g, tmp, out=tmp)
                tmp *= lr / (1.0 + (t - 1) * lr_decay)
                w -= tmp
        return loss
