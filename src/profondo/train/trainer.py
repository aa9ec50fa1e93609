"""Trainer: fit / evaluate / predict with a live progress bar, validation and callbacks.

Each batch of ``fit`` is one :class:`~profondo.train.step.TrainStep`; the Trainer adds the
epochs, metrics, NaN/Inf detection, progress, callbacks and checkpoints around it."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable

import numpy as np

from .. import functional as F
from ..autograd import no_grad, unwrap
from ..backend import device as parse_device
from ..backend import move
from ..tensor import Tensor
from .callbacks import Callback, LRScheduler, ModelCheckpoint
from .progress import ProgressBar
from .state import restore_training_state, save_training_state
from .step import GradientHook, TrainStep

_LOSSES = {"cross_entropy": F.cross_entropy, "mse": F.mse_loss, "nll": F.nll_loss,
           "bce_with_logits": F.binary_cross_entropy_with_logits, "huber": F.huber_loss}


class Trainer:
    """Train a classifier (or any model with a loss) on batches of NumPy arrays.

    >>> trainer = Trainer(model, profondo.optim.Adam(model.parameters(), 1e-3))
    >>> history = trainer.fit(train_loader, epochs=5, val_loader=test_loader)
    >>> trainer.evaluate(test_loader)["accuracy"]
    """

    def __init__(self, model, optimizer=None, loss: str | Callable = "cross_entropy", device=None,
                 callbacks: Iterable[Callback] = (), grad_clip: float | None | str = "auto",
                 progress: bool = True, classification: bool = True,
                 gradient_hooks: Iterable[GradientHook] = ()) -> None:
        if isinstance(loss, str) and loss not in _LOSSES:
            raise ValueError(f"unknown loss {loss!r}: expected one of {sorted(_LOSSES)} or a callable")
        self.model, self.optimizer = model, optimizer
        self.loss_fn = _LOSSES[loss] if isinstance(loss, str) else loss
        self.device = parse_device(device)
        # Schedules step before anything that saves or reads the epoch's state, and checkpoints are
        # written after every other callback has taken the epoch in (EarlyStopping's count and
        # best weights, the loggers), so that a checkpoint holds the state at the end of its epoch.
        self.callbacks = sorted(callbacks, key=lambda cb: 0 if isinstance(cb, LRScheduler)
                                else 2 if isinstance(cb, ModelCheckpoint) else 1)
        schedules = [cb.scheduler for cb in self.callbacks if isinstance(cb, LRScheduler)]
        self.scheduler = schedules[0] if schedules else None
        for cb in self.callbacks:
            cb.trainer = self
        if grad_clip == "auto":  # recurrent networks clip by norm unless told otherwise
            from ..nn import has_recurrent

            grad_clip = 1.0 if has_recurrent(model) else None
        self.grad_clip, self.progress, self.classification = grad_clip, progress, classification
        self.gradient_hooks = list(gradient_hooks)  # run between backward and the update (see TrainStep)
        # Data parallel: sums an array of per-process totals over the processes (distributed.data_parallel).
        self.metric_reduce: Callable[[list[float]], np.ndarray] | None = None
        self.history: dict[str, list[float]] = {}
        self.epoch = 0  # epochs completed
        self.step = 0  # optimizer steps taken
        self.train_seconds = 0.0  # time spent in fit's epochs, over every session of a resumed run
        self._callback_states: list | None = None  # from resume(), given to the callbacks when fit starts
        self.stop_training = False
        self.metadata: dict = {}  # stored with every checkpoint (class names, data set, ...)
        if self.device.type != "cpu":
            model.to(self.device)

    def _tensor(self, array) -> Tensor:
        array = unwrap(array)
        return Tensor(move(array, self.device) if self.device.type != "cpu" else array)

    # --- training ---------------------------------------------------------------------------
    def fit(self, train_loader, epochs: int, val_loader=None) -> dict[str, list[float]]:
        """Train until ``epochs`` epochs are completed in total (a resumed trainer continues
        from ``self.epoch``); returns the history of every metric, one value per epoch."""
        if self.optimizer is None:
            raise ValueError("Trainer.fit needs an optimizer")
        self.stop_training = False
        for cb in self.callbacks:
            cb.on_train_begin()
        if self._callback_states is not None:
            for cb, saved in zip(self.callbacks, self._callback_states):
                if saved.get("class") == type(cb).__name__:
                    cb.load_state_dict(saved["state"])
            self._callback_states = None
        logs: dict = {}
        while self.epoch < epochs and not self.stop_training:
            epoch = self.epoch
            for cb in self.callbacks:
                cb.on_epoch_begin(epoch)
            if hasattr(train_loader, "set_epoch"):
                train_loader.set_epoch(epoch)
            started = time.perf_counter()
            logs = self._train_epoch(train_loader, f"epoch {epoch + 1}/{epochs}")
            if val_loader is not None:
                logs.update({f"val_{k}": v for k, v in self.evaluate(val_loader, desc="  validate").items()})
            if self.scheduler is not None:  # the rate this epoch ended with, before the schedule steps
                logs["lr"] = self.optimizer.param_groups[0]["lr"]
            logs["time"] = time.perf_counter() - started
            self.train_seconds += logs["time"]
            self.epoch = epoch + 1
            for key, value in logs.items():
                self.history.setdefault(key, []).append(value)
            for cb in self.callbacks:
                cb.on_epoch_end(epoch, logs)
        for cb in self.callbacks:
            cb.on_train_end(logs)
        return self.history

    def train_step(self) -> TrainStep:
        """The step every batch of :meth:`fit` goes through, built from the trainer's current
        model, optimizer, loss, ``grad_clip`` and ``gradient_hooks``."""
        return TrainStep(self.model, self.optimizer, self.loss_fn, max_grad_norm=self.grad_clip,
                         gradient_hooks=self.gradient_hooks)

    def _train_epoch(self, loader, desc: str) -> dict:
        self.model.train()
        train_step = self.train_step()
        bar = ProgressBar(len(loader), desc, enabled=self.progress)
        total_loss, correct, seen = 0.0, 0, 0
        for batch in loader:
            y = unwrap(batch[1])
            loss, out, _ = train_step(self._tensor(batch[0]), target=self._tensor(y))
            self.step += 1
            n = len(y)
            value = loss.item()
            if not np.isfinite(value):
                bar.close()
                raise FloatingPointError(f"the loss became {value} at step {self.step}: lower the learning "
                                         "rate or enable gradient clipping (grad_clip)")
            total_loss += value * n
            seen += n
            values = {"loss": total_loss / seen}
            if self.classification:
                correct += int((out.data.argmax(axis=1) == move(y, self.device)).sum())
                values["acc"] = correct / seen
            bar.update(1, n, **values)
            for cb in self.callbacks:
                cb.on_batch_end(self.step, values)
        bar.close()
        total_loss, correct, seen = self._over_processes(total_loss, correct, seen)
        logs = {"loss": total_loss / max(seen, 1)}
        if self.classification:
            logs["accuracy"] = correct / max(seen, 1)
        return logs

    # --- evaluation ---------------------------------------------------------------------------
    @no_grad()
    def evaluate(self, loader, desc: str = "evaluate") -> dict:
        """Mean loss (and accuracy for classifiers) over ``loader`` in eval mode."""
        self.model.eval()
        bar = ProgressBar(len(loader), desc, enabled=self.progress)
        total_loss, correct, seen = 0.0, 0, 0
        for batch in loader:
            x, y = self._tensor(batch[0]), unwrap(batch[1])
            out = self.model(x)
            n = len(y)
            total_loss += self.loss_fn(out, self._tensor(y)).item() * n
            seen += n
            if self.classification:
                correct += int((out.data.argmax(axis=1) == move(y, self.device)).sum())
            bar.update(1, n)
        total_loss, correct, seen = self._over_processes(total_loss, correct, seen)
        bar.close(loss=total_loss / max(seen, 1), **({"acc": correct / max(seen, 1)} if self.classification else {}))
        result = {"loss": total_loss / max(seen, 1)}
        if self.classification:
            result["accuracy"] = correct / max(seen, 1)
        return result

    def _over_processes(self, *totals: float) -> tuple:
        """The totals of every process of a data-parallel run (this process's alone otherwise)."""
        return totals if self.metric_reduce is None else tuple(self.metric_reduce(list(totals)))

    @no_grad()
    def predict(self, data, batch_size: int = 256) -> np.ndarray:
        """Model outputs for an array of inputs or a loader of (x, ...) batches, as NumPy."""
        self.model.eval()
        batches = (data[i: i + batch_size] for i in range(0, len(data), batch_size)) \
            if isinstance(data, np.ndarray) else (b[0] for b in data)
        outputs = [move(self.model(self._tensor(x)).data, parse_device("cpu")) for x in batches]
        return np.concatenate(outputs) if outputs else np.zeros((0,))

    # --- checkpoints ------------------------------------------------------------------------
    def save_checkpoint(self, path: str | os.PathLike, epoch: int | None = None, metrics: dict | None = None):
        """Model, optimizer, scheduler, epoch, step, RNG state, metrics, history, training time and
        the callbacks' state, written atomically."""
        epoch = self.epoch if epoch is None else epoch + 1
        callbacks, arrays = [], {}
        for i, cb in enumerate(self.callbacks):
            state = dict(cb.state_dict())
            if "arrays" in state:  # a callback's arrays (EarlyStopping's best weights) as a group of their own
                arrays[f"callback{i}"] = {k: np.asarray(v) for k, v in state.pop("arrays").items()}
                state["arrays"] = f"callback{i}"
            callbacks.append({"class": type(cb).__name__, "state": state})
        extra = {"history": self.history, "train_seconds": self.train_seconds, "callbacks": callbacks,
                 **self.metadata}
        return save_training_state(path, self.model, self.optimizer, self.scheduler, epoch=epoch, step=self.step,
                                   metrics=metrics, extra=extra, extra_arrays=arrays)

    def resume(self, path: str | os.PathLike) -> int:
        """Put back everything a checkpoint holds; ``fit`` then continues where it stopped.
        Returns the number of completed epochs.

        The scheduler keeps the horizon it was built with (a cosine's ``T_max``) and takes its
        position from the checkpoint, so resuming with more epochs than the first run extends the
        schedule instead of training the extra epochs at its final rate."""
        ckpt = restore_training_state(path, self.model, self.optimizer, self.scheduler)
        self.epoch, self.step = int(ckpt.meta["epoch"]), int(ckpt.meta["step"])
        extra = ckpt.meta.get("extra", {})
        self.history = {k: list(v) for k, v in extra.get("history", {}).items()}
        self.train_seconds = float(extra.get("train_seconds", sum(self.history.get("time", []))))
        self._callback_states = extra.get("callbacks")
        for saved in self._callback_states or ():
            state = saved.get("state", {})
            if isinstance(state.get("arrays"), str):
                state["arrays"] = ckpt.group(state["arrays"])
        return self.epoch
