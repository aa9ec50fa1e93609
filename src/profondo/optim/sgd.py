"""Stochastic gradient descent with momentum, dampening, Nesterov and weight decay."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from ..backend import array_module
from .optimizer import Optimizer


class SGD(Optimizer):
    """PyTorch's SGD: d = g + wd*p; buf = momentum*buf + (1-dampening)*d (buf = d on the first
    step); d = d + momentum*buf (Nesterov) or buf; p -= lr*d.

    >>> opt = SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True)
    >>> loss.backward(); opt.step(); opt.zero_grad()
    """

    def __init__(self, params: Iterable, lr: float, momentum: float = 0.0, dampening: float = 0.0,
                 weight_decay: float = 0.0, nesterov: bool = False) -> None:
        super().__init__(params, lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                         nesterov=nesterov)

    def _check_group(self, group: dict[str, Any]) -> None:
        super()._check_group(group)
        if not group["momentum"] >= 0:
            raise ValueError(f"SGD: momentum must be >= 0, received {group['momentum']!r}")
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError("SGD: nesterov=True needs momentum > 0 and dampening = 0, received "
                             f"momentum={group['momentum']}, dampening={group['dampening']}")

    def step(self, closure: Callable[[], Any] | None = None):
        loss = self._call(closure)
        state = self.state
        for group, lr, params in self._active_groups():
            momentum, dampening, wd, nesterov = group["momentum"], group["dampening"], group["weight_decay"], group["nesterov"]
            for p in params:
                w = p.data
                xp = array_module(w)
                d, owned = p.grad.data, False  # owned: d is a scratch array, safe to scale in place
                if wd:
                    d, owned = self._decayed(d, w, wd), True
                if momentum:
                    st = state.get(p)
                    if st is None:
                        buf = d.copy()
                        state[p] = {"momentum_buffer": buf}
                    else:
                        buf = st["momentum_buffer"]
                        buf *= momentum
                        if dampening:
                            tmp = self._scratch(w, 1)
                            xp.multiply(d, 1.0 - dampening, out=tmp)
                            buf += tmp
                        else:
                            buf += d
                    if nesterov:
                        tmp = self._scratch(w, 1)
                        xp.multiply(buf, momentum, out=tmp)
                        tmp += d
                        d, owned = tmp, True
                    else:
                        d, owned = buf, False
                out = d if owned else self._scratch(w, 0)
                xp.multiply(d, lr, out=out)
                w -= out
        return loss
