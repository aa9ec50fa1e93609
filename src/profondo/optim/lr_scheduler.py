"""Learning-rate schedules that set each parameter group's ``lr`` (PyTorch's values).

Call ``scheduler.step()`` once per epoch (or per iteration, as the schedule is meant), after
``optimizer.step()``. Schedules are computed in closed form from ``last_epoch`` and each
group's ``initial_lr``, so ``state_dict()``/``load_state_dict()`` resume them exactly. The state
dicts hold only JSON-able values.

>>> sched = LinearWarmup(opt, 5, after=CosineAnnealingLR(opt, T_max=95))
>>> for epoch in range(100):
...     train_one_epoch(); sched.step()
"""

from __future__ import annotations

import math
from typing import Any

from .optimizer import Optimizer


def _check_optimizer(optimizer: Any, where: str) -> None:
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"{where}: expected an Optimizer, received {type(optimizer).__name__}")


class LRScheduler:
    """Base class: subclasses define ``lr_at(epoch)``, the learning rates of every group at ``epoch``."""

    def __init__(self, optimizer: Optimizer) -> None:
        _check_optimizer(optimizer, type(self).__name__)
        self.optimizer = optimizer
        for group in optimizer.param_groups:
            group.setdefault("initial_lr", group["lr"])
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = -1
        self.step()

    def lr_at(self, epoch: int) -> list[float]:
        raise NotImplementedError(f"{type(self).__name__} does not define lr_at()")

    def _set(self, lrs: list[float]) -> None:
        for group, lr in zip(self.optimizer.param_groups, lrs):
            group["lr"] = lr
        self._last_lr = list(lrs)

    def step(self) -> None:
        """Advance one epoch and set the groups' learning rates."""
        self.last_epoch += 1
        self._set(self.lr_at(self.last_epoch))

    def get_last_lr(self) -> list[float]:
        """The learning rates set by the last ``step()``, one per group."""
        return list(self._last_lr)

    def state_dict(self) -> dict[str, Any]:
        return {k: (list(v) if isinstance(v, list) else v) for k, v in self.__dict__.items()
                if k not in ("optimizer", "after")}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore the schedule position and set the groups' learning rates accordingly."""
        self.__dict__.update({k: v for k, v in state.items() if k != "after"})
        self._set(self._last_lr)


class StepLR(LRScheduler):
    """lr = initial_lr * gamma ** (epoch // step_size). ``StepLR(opt, step_size=30, gamma=0.1)``"""

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1) -> None:
        if int(step_size) < 1:
            raise ValueError(f"StepLR: step_size must be >= 1, received {step_size}")
        self.step_size, self.gamma = int(step_size), float(gamma)
        super().__init__(optimizer)

    def lr_at(self, epoch: int) -> list[float]:
        return [base * self.gamma ** (epoch // self.step_size) for base in self.base_lrs]


class ExponentialLR(LRScheduler):
    """lr = initial_lr * gamma ** epoch. ``ExponentialLR(opt, gamma=0.95)``"""

    def __init__(self, optimizer: Optimizer, gamma: float) -> None:
        self.gamma = float(gamma)
        super().__init__(optimizer)

    def lr_at(self, epoch: int) -> list[float]:
        return [base * self.gamma**epoch for base in self.base_lrs]


class CosineAnnealingLR(LRScheduler):
    """lr = eta_min + (initial_lr - eta_min) * (1 + cos(pi * epoch / T_max)) / 2 (SGDR without restarts).

    >>> CosineAnnealingLR(opt, T_max=100, eta_min=1e-5)
    """

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0) -> None:
        if int(T_max) < 1:
            raise ValueError(f"CosineAnnealingLR: T_max must be >= 1, received {T_max}")
        self.T_max, self.eta_min = int(T_max), float(eta_min)
        super().__init__(optimizer)

    def lr_at(self, epoch: int) -> list[float]:
        c = (1 + math.cos(math.pi * epoch / self.T_max)) / 2
        return [self.eta_min + (base - self.eta_min) * c for base in self.base_lrs]


class LinearWarmup(LRScheduler):
    """Ramp linearly to the base rate over ``warmup_steps`` steps, then hand over to ``after``.

    Step t < warmup_steps uses initial_lr * (t + 1) / warmup_steps (torch's ``LinearLR`` with
    start_factor=1/warmup_steps and total_iters=warmup_steps - 1); from step warmup_steps on,
    ``after`` (any scheduler, ReduceLROnPlateau included; None keeps the base rate) runs from its
    own step 0. ``step(metric)`` passes the metric to a ReduceLROnPlateau.

    >>> sched = LinearWarmup(opt, warmup_steps=500, after=CosineAnnealingLR(opt, T_max=9500))
    """

    def __init__(self, optimizer: Optimizer, warmup_steps: int, after: LRScheduler | ReduceLROnPlateau | None = None
                 ) -> None:
        if int(warmup_steps) < 1:
            raise ValueError(f"LinearWarmup: warmup_steps must be >= 1, received {warmup_steps}")
        if after is not None and getattr(after, "optimizer", None) is not optimizer:
            raise ValueError("LinearWarmup: `after` must schedule the same optimizer")
        self.warmup_steps, self.after = int(warmup_steps), after
        super().__init__(optimizer)

    def lr_at(self, epoch: int) -> list[float]:
        return [base * min(epoch + 1, self.warmup_steps) / self.warmup_steps for base in self.base_lrs]

    def step(self, metric: float | None = None) -> None:
        self.last_epoch += 1
        t, after = self.last_epoch, self.after
        if t < self.warmup_steps or after is None:
            self._set(self.lr_at(t))
            return
        if isinstance(after, ReduceLROnPlateau):
            if t == self.warmup_steps:
                self._set(self.base_lrs)  # the plateau logic starts from the full rate
            else:
                after.step(metric)
                self._last_lr = after.get_last_lr()
            return
        if t == self.warmup_steps:
            after.last_epoch = -1
        after.step()
        self._last_lr = after.get_last_lr()

    def state_dict(self) -> dict[str, Any]:
        state = super().state_dict()
        state["after"] = None if self.after is None else self.after.state_dict()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if (state.get("after") is None) != (self.after is None):
            raise ValueError("LinearWarmup.load_state_dict: the saved schedule and this one differ in having an "
                             "`after` scheduler")
        if self.after is not None:
            self.after.load_state_dict(state["after"])
        super().load_state_dict(state)


class ReduceLROnPlateau:
    """Multiply the rates by ``factor`` once a metric has not improved for ``patience`` steps.

    Improvement means below ``best * (1 - threshold)`` in "min" mode with the default
    threshold_mode "rel" (``best - threshold`` in "abs"); "max" mode mirrors it. After a
    reduction ``cooldown`` steps pass before counting again; rates never go below ``min_lr``.

    >>> sched = ReduceLROnPlateau(opt, patience=3)
    >>> sched.step(validation_loss)
    """

    def __init__(self, optimizer: Optimizer, mode: str = "min", factor: float = 0.1, patience: int = 10,
                 threshold: float = 1e-4, cooldown: int = 0, min_lr: float | list[float] = 0.0,
                 threshold_mode: str = "rel", eps: float = 1e-8) -> None:
        _check_optimizer(optimizer, "ReduceLROnPlateau")
        if mode not in ("min", "max") or threshold_mode not in ("rel", "abs"):
            raise ValueError(f"ReduceLROnPlateau: mode must be 'min' or 'max' and threshold_mode 'rel' or 'abs', "
                             f"received mode={mode!r}, threshold_mode={threshold_mode!r}")
        if not 0 <= factor < 1:
            raise ValueError(f"ReduceLROnPlateau: factor must be in [0, 1), received {factor}")
        n = len(optimizer.param_groups)
        min_lrs = list(min_lr) if isinstance(min_lr, (list, tuple)) else [min_lr] * n
        if len(min_lrs) != n:
            raise ValueError(f"ReduceLROnPlateau: {len(min_lrs)} min_lr values for {n} parameter groups")
        self.optimizer = optimizer
        self.mode, self.factor, self.patience, self.threshold = mode, float(factor), int(patience), float(threshold)
        self.cooldown, self.min_lrs, self.threshold_mode, self.eps = int(cooldown), min_lrs, threshold_mode, eps
        self.best = math.inf if mode == "min" else -math.inf
        self.num_bad_epochs = self.cooldown_counter = 0
        self.last_epoch = 0
        self._last_lr = [g["lr"] for g in optimizer.param_groups]

    def _is_better(self, a: float) -> bool:
        rel = self.threshold_mode == "rel"
        if self.mode == "min":
            return a < (self.best * (1 - self.threshold) if rel else self.best - self.threshold)
        return a > (self.best * (1 + self.threshold) if rel else self.best + self.threshold)

    def step(self, metric: float) -> None:
        """Record this step's metric (e.g. the validation loss) and reduce the rates if it stalled."""
        if metric is None:
            raise ValueError("ReduceLROnPlateau.step: needs the metric, e.g. sched.step(val_loss)")
        current = float(metric)
        self.last_epoch += 1
        if self._is_better(current):
            self.best, self.num_bad_epochs = current, 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        if self.num_bad_epochs > self.patience:
            for group, min_lr in zip(self.optimizer.param_groups, self.min_lrs):
                new = max(group["lr"] * self.factor, min_lr)
                if group["lr"] - new > self.eps:
                    group["lr"] = new
            self.cooldown_counter, self.num_bad_epochs = self.cooldown, 0
        self._last_lr = [g["lr"] for g in self.optimizer.param_groups]

    def get_last_lr(self) -> list[float]:
        return list(self._last_lr)

    def state_dict(self) -> dict[str, Any]:
        return {k: (list(v) if isinstance(v, list) else v) for k, v in self.__dict__.items() if k != "optimizer"}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        for group, lr in zip(self.optimizer.param_groups, self._last_lr):
            group["lr"] = lr
