"""What happens inside a network while it trains: gradient norms per layer, histograms of weights
and activations, and feature maps.

:class:`GradientMonitor` is a Trainer callback that reads the gradients after backward and
before the optimizer's update (a gradient hook of the :class:`~profondo.train.step.TrainStep`,
after any data-parallel averaging) and records the L2 norm of each layer's gradient; a deep
sigmoid network shows the lecture's vanishing gradient there at once (the first layer's norm a
small fraction of the last one's), a ReLU network much less::

    monitor = GradientMonitor(every=10)
    Trainer(model, optimizer, callbacks=[monitor]).fit(loader, epochs=2)
    monitor.records[-1]     # {"step": 120, "epoch": 1, "norms": {"fc1": 0.003, ..., "fc6": 0.21}}

The other functions look at a model as it is: :func:`weight_histograms`,
:func:`activation_histograms` and :func:`feature_maps` (the outputs of its layers on a batch,
through forward hooks).
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from typing import TextIO

import numpy as np

from ..autograd import no_grad
from ..tensor import Tensor
from .callbacks import Callback

__all__ = ["GradientMonitor", "PrintGradientNorms", "activation_histograms", "feature_maps", "format_norms", "layer_of",
           "weight_histograms"]


def layer_of(parameter_name: str) -> str:
    """The layer (module path) a parameter belongs to: ``conv1.weight`` -> ``conv1``,
    ``features.0.bias`` -> ``features.0``; a parameter of the root module keeps its own name."""
    layer, _, _ = parameter_name.rpartition(".")
    return layer or parameter_name


def _host(array) -> np.ndarray:
    """A NumPy copy of a device array (CuPy's ``.get()``), a view of a NumPy one."""
    return array.get() if hasattr(array, "get") and not isinstance(array, np.ndarray) else np.asarray(array)


def _layers(model) -> dict[str, list]:
    """Parameters grouped by layer, in the model's order."""
    groups: dict[str, list] = {}
    for name, p in model.named_parameters():
        groups.setdefault(layer_of(name), []).append(p)
    return groups


class GradientMonitor(Callback):
    """Record the L2 norm of each layer's gradient every ``every`` optimizer steps.

    A layer's norm is ``sqrt(sum of g**2)`` over all its parameters (weights and bias),
    computed in float64 after backward (and after data-parallel averaging) and before gradient
    clipping and the update. ``records`` holds ``{"step", "epoch", "norms": {layer: float}}``
    (``step`` counts optimizer steps from 1, ``epoch`` from 0); ``on_record(record)`` is called
    with each new one. The records are in the checkpoint (``state_dict``), so a resumed run
    keeps those of the steps before it. Parameters without a gradient (frozen layers) are left out.
    """

    def __init__(self, every: int = 1, on_record: Callable[[dict], None] | None = None) -> None:
        if not isinstance(every, int) or isinstance(every, bool) or every < 1:
            raise ValueError(f"GradientMonitor: every expected a number of steps >= 1, received {every!r}")
        self.every, self.on_record = every, on_record
        self.records: list[dict] = []
        self._groups: dict[str, list] | None = None

    def state_dict(self) -> dict:
        return {"every": self.every, "records": self.records}

    def load_state_dict(self, state: dict) -> None:
        self.records = [{"step": int(r["step"]), "epoch": int(r["epoch"]),
                         "norms": {k: float(v) for k, v in r["norms"].items()}} for r in state.get("records", [])]

    def on_train_begin(self) -> None:
        self._groups = _layers(self.trainer.model)
        if self._hook not in self.trainer.gradient_hooks:
            self.trainer.gradient_hooks.append(self._hook)

    def on_train_end(self, logs: dict) -> None:
        if self._hook in self.trainer.gradient_hooks:
            self.trainer.gradient_hooks.remove(self._hook)

    def _hook(self, parameters: list[Tensor]) -> None:
        step = self.trainer.step + 1  # the trainer counts the step once it is taken
        if step % self.every:
            return
        record = {"step": step, "epoch": self.trainer.epoch, "norms": self.norms()}
        self.records.append(record)
        if self.on_record is not None:
            self.on_record(record)

    def norms(self) -> dict[str, float]:
        """The L2 norm of each layer's gradient as the parameters hold it now."""
        groups = self._groups if self._groups is not None else _layers(self.trainer.model)
        out = {}
        for layer, params in groups.items():
            grads = [p.grad for p in params if p.grad is not None]
            if grads:
                total = sum(float((_host(g.data if isinstance(g, Tensor) else g).astype(np.float64) ** 2).sum())
                            for g in grads)
                out[layer] = math.sqrt(total)
        return out

    def epoch_means(self, epoch: int) -> dict[str, float]:
        """The mean norm of each layer over the records of one epoch ({} when it has none)."""
        rows = [r["norms"] for r in self.records if r["epoch"] == epoch]
        layers = list(dict.fromkeys(k for r in rows for k in r))
        return {k: float(np.mean([r[k] for r in rows if k in r])) for k in layers}


class PrintGradientNorms(Callback):
    """After each epoch, one line on ``out`` (standard output) with the mean gradient norm of each
    layer over the epoch's records of ``monitor``: ``  gradient norms: fc1 3.10e-04  ...  (first/last
    0.0069)``. Listed after the progress callback, it writes once that bar is closed."""

    def __init__(self, monitor: GradientMonitor, out: TextIO | None = None) -> None:
        self.monitor, self.out = monitor, out

    def on_epoch_end(self, epoch: int, logs: dict) -> None:
        out = self.out or sys.stdout
        out.write(f"  gradient norms: {format_norms(self.monitor.epoch_means(epoch))}\n")
        out.flush()


def format_norms(norms: dict[str, float]) -> str:
    """``fc1 3.1e-04  fc2 2.2e-03  fc3 4.5e-02  (first/last 0.0069)``: one compact line."""
    if not norms:
        return "no gradients"
    values = list(norms.values())
    text = "  ".join(f"{k} {v:.2e}" for k, v in norms.items())
    if len(values) > 1 and values[-1] > 0:
        text += f"  (first/last {values[0] / values[-1]:.3g})"
    return text


def _histogram(values: np.ndarray, bins: int) -> dict:
    values = values[np.isfinite(values)]
    if values.size == 0:
        return {"counts": [0] * bins, "edges": [0.0] * (bins + 1)}
    counts, edges = np.histogram(values, bins=bins)
    return {"counts": counts.astype(int).tolist(), "edges": edges.astype(float).tolist()}


def _check_bins(bins: int) -> None:
    if not isinstance(bins, int) or isinstance(bins, bool) or bins < 1:
        raise ValueError(f"bins expected a positive integer, received {bins!r}")


def weight_histograms(model, bins: int = 30) -> dict[str, dict]:
    """``{layer: {"counts": [...], "edges": [...]}}``: the histogram of each layer's parameters
    (weights and bias together), ``bins`` equal bins between the smallest and largest value
    (``len(edges) == bins + 1``, as ``np.histogram``)."""
    _check_bins(bins)
    return {layer: _histogram(np.concatenate([_host(p.data).ravel().astype(np.float64) for p in params]), bins)
            for layer, params in _layers(model).items()}


def _leaves(model) -> list[tuple[str, object]]:
    return [(name, m) for name, m in model.named_modules() if name and not any(True for _ in m.children())] or \
        [(type(model).__name__, model)]


def _outputs(model, x) -> list[tuple[str, np.ndarray]]:
    """Run ``model`` once on ``x`` (eval mode, no gradients) and catch every leaf layer's output,
    in call order (a layer called twice appears twice, ``name (call 2)``)."""
    seen: dict[str, int] = {}
    caught: list[tuple[str, np.ndarray]] = []

    def catch(name: str):
        def hook(module, args, output):
            first = output[0] if isinstance(output, tuple) else output
            if isinstance(first, Tensor):
                seen[name] = seen.get(name, 0) + 1
                caught.append((name if seen[name] == 1 else f"{name} (call {seen[name]})", _host(first.data)))
        return hook

    handles = [m.register_forward_hook(catch(name)) for name, m in _leaves(model)]
    training = model.training
    try:
        model.eval()
        with no_grad():
            model(x if isinstance(x, Tensor) else Tensor(np.asarray(x, np.float32)))
    finally:
        for h in handles:
            h.remove()
        model.train(training)
    return caught


def activation_histograms(model, x, bins: int = 30) -> dict[str, dict]:
    """``{layer: {"counts", "edges"}}``: the histogram of each layer's output on the batch ``x``
    (a NumPy array or Tensor; eval mode, no gradients), caught by forward hooks."""
    _check_bins(bins)
    return {name: _histogram(out.ravel().astype(np.float64), bins) for name, out in _outputs(model, x)}


def feature_maps(model, x) -> list[tuple[str, np.ndarray]]:
    """``[(layer, array of shape (N, C, H, W))]``: the output volumes of the layers of ``model``
    on the batch ``x``, in the order they are computed (layers whose output is not a volume, such
    as dense layers, are left out)."""
    return [(name, out) for name, out in _outputs(model, x) if out.ndim == 4]
