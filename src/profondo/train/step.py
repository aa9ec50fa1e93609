"""The one training step: forward, loss, backward, gradient reduction, clipping, update.

Every training loop of profondo (the Trainer, the language-model, classifier and sequence to
sequence loops, the DQN update, logistic regression on features) calls a :class:`TrainStep`
and keeps only its own data iteration, schedules and logging::

    step = TrainStep(model, optimizer, F.cross_entropy, max_grad_norm=1.0)
    for x, y in loader:
        loss, output, _ = step(x, target=y)
        print(loss.item())

Two things build on this being the only place where an update happens:

- data-parallel training averages gradients across processes between ``backward`` and the
  update: append a hook to ``step.gradient_hooks`` (or override :meth:`TrainStep.reduce_gradients`
  in a subclass); no caller changes.
- a whole step can be captured as a CUDA graph: the step reads its inputs only through the
  arguments (so static input buffers can be passed in), never reads a value back to the host
  and never branches on one; the loss, the output and the gradient norm are returned as
  tensors that the caller turns into numbers after the step. (Clipping is the one place that
  reads a norm today, inside :func:`profondo.optim.clip_grad_norm_`; it is isolated in
  :meth:`TrainStep.clip_gradients`.)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

from .. import functional as F
from ..optim import clip_grad_norm_
from ..tensor import Tensor

GradientHook = Callable[[list[Tensor]], None]


class StepOutput(NamedTuple):
    """What one step returns, as tensors: the loss, the model's output and, when gradients are
    clipped, their global norm before clipping (else None)."""

    loss: Tensor
    output: Any
    grad_norm: Tensor | None


class TrainStep:
    """One optimizer update on one batch, in this order: ``output = model(*inputs)``,
    ``loss = loss_fn(output, target)``, ``optimizer.zero_grad()``, ``loss.backward()``,
    :meth:`reduce_gradients` (the gradient hooks), :meth:`clip_gradients` (by global norm
    ``max_grad_norm``; off when None or 0), ``optimizer.step()``.

    ``model`` is any callable from the inputs to an output (a Module, usually; a closure that
    computes the loss itself works with ``loss_fn=lambda output, target: output``).
    ``loss_fn(output, target)`` returns the scalar loss tensor: :func:`F.cross_entropy` for
    classifiers, a sequence loss that reshapes the logits, a TD loss that picks the taken
    actions' Q-values. ``parameters`` are the ones clipped and handed to the hooks (default:
    ``model.parameters()``, or the optimizer's parameters when ``model`` is not a Module),
    in that order. ``gradient_hooks`` are called as ``hook(parameters)`` after backward and
    before clipping and the update; they change ``p.grad`` in place or replace it.

    >>> step = TrainStep(model, profondo.optim.SGD(model.parameters(), 0.1))
    >>> loss, logits, _ = step(x, target=y)
    """

    __slots__ = ("model", "optimizer", "loss_fn", "max_grad_norm", "parameters", "gradient_hooks")

    def __init__(self, model: Callable, optimizer, loss_fn: Callable[[Any, Any], Tensor] = F.cross_entropy, *,
                 max_grad_norm: float | None = None, parameters: Iterable[Tensor] | None = None,
                 gradient_hooks: Iterable[GradientHook] = ()) -> None:
        if max_grad_norm is not None and max_grad_norm < 0:
            raise ValueError(f"TrainStep: max_grad_norm must be > 0 (or None/0 for no clipping), "
                             f"received {max_grad_norm!r}")
        self.model, self.optimizer, self.loss_fn = model, optimizer, loss_fn
        self.max_grad_norm = max_grad_norm or None
        if parameters is None:
            parameters = model.parameters() if hasattr(model, "parameters") else \
                (p for group in optimizer.param_groups for p in group["params"])
        self.parameters: list[Tensor] = list(parameters)
        self.gradient_hooks: list[GradientHook] = list(gradient_hooks)

    def __call__(self, *inputs, target=None) -> StepOutput:
        """Run the step on ``inputs`` (passed to the model as positional arguments) and
        ``target`` (passed to the loss); returns :class:`StepOutput` (loss, output, grad_norm)."""
        output = self.model(*inputs)
        loss = self.loss_fn(output, target)
        self.optimizer.zero_grad()
        loss.backward()
        self.reduce_gradients()
        grad_norm = self.clip_gradients()
        self.optimizer.step()
        return StepOutput(loss, output, grad_norm)

    def reduce_gradients(self) -> None:
        """Between backward and the update: run every gradient hook on :attr:`parameters`.
        Data-parallel training averages the gradients across processes here."""
        for hook in self.gradient_hooks:
            hook(self.parameters)

    def clip_gradients(self) -> Tensor | None:
        """Scale the gradients to global norm ``max_grad_norm`` at most; returns the norm
        before clipping, or None when clipping is off."""
        if self.max_grad_norm is None:
            return None
        return clip_grad_norm_(self.parameters, self.max_grad_norm)
