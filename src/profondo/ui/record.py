"""What a job process writes into the job store while ``profondo train``'s Trainer runs.

:class:`StoreRecorder` is a Trainer callback: batch metrics (the epoch's running loss and
accuracy, about ``POINTS_PER_EPOCH`` points an epoch), epoch metrics (train and validation, the
learning rate, the epoch's time, and the ETA), and at each epoch's end the weight and activation
histograms. The per-layer gradient norms come from ``train.monitor.GradientMonitor``, whose
records the recorder stores.
"""

from __future__ import annotations

import time

import numpy as np

from ..train.callbacks import Callback
from ..train.monitor import GradientMonitor, activation_histograms, weight_histograms
from .store import JobStore

POINTS_PER_EPOCH = 100
GRADIENT_POINTS_PER_EPOCH = 50
HISTOGRAM_BINS = 30
SAMPLE_IMAGES = 32  # images whose activations are histogrammed


class StoreRecorder(Callback):
    """Write a job's measurements into ``store`` as the trainer reaches them."""

    def __init__(self, store: JobStore, job: int, epochs: int, steps_per_epoch: int,
                 sample: np.ndarray | None = None) -> None:
        self.store, self.job, self.epochs = store, job, epochs
        self.steps_per_epoch = max(int(steps_per_epoch), 1)
        self.every = max(self.steps_per_epoch // POINTS_PER_EPOCH, 1)
        self.sample = sample
        self._started = time.perf_counter()
        self._offset = 0.0  # seconds of training before a resume
        self._epoch = 0
        self._first_step = 0

    def on_train_begin(self) -> None:
        t = self.trainer
        # A resumed job continues after its checkpoint: what was measured after it is dropped.
        self.store.forget_after(self.job, t.epoch)
        self._offset = t.train_seconds
        self._first_step = t.step
        self._started = time.perf_counter()
        self.store.update(self.job, total_steps=self.steps_per_epoch * self.epochs)
        if t.epoch == 0:
            self._histograms(0)

    def _seconds(self) -> float:
        return self._offset + time.perf_counter() - self._started

    def on_epoch_begin(self, epoch: int) -> None:
        self._epoch = epoch

    def on_batch_end(self, step: int, logs: dict) -> None:
        in_epoch = step - self._epoch * self.steps_per_epoch
        if step % self.every and in_epoch != self.steps_per_epoch:
            return
        values = {k: float(v) for k, v in logs.items()}
        values["lr"] = float(self.trainer.optimizer.param_groups[0]["lr"])
        values["eta"] = self._eta(step)
        self.store.add_metrics(self.job, "batch", step, self._epoch, self._seconds(), values)

    def _eta(self, step: int) -> float | None:
        """Seconds left at this session's rate of steps (None before the first step)."""
        elapsed = time.perf_counter() - self._started
        rate = (step - self._first_step) / elapsed if elapsed > 0 else 0.0
        return (self.steps_per_epoch * self.epochs - step) / rate if rate > 0 else None

    def on_epoch_end(self, epoch: int, logs: dict) -> None:
        values = {k: float(v) for k, v in logs.items()}
        values.setdefault("lr", float(self.trainer.optimizer.param_groups[0]["lr"]))
        values["eta"] = self._eta(self.trainer.step)
        self.store.add_metrics(self.job, "epoch", epoch + 1, epoch, self._seconds(), values)
        self._histograms(epoch + 1)

    def _histograms(self, epoch: int) -> None:
        model = self.trainer.model
        was_training = model.training
        try:
            self.store.add_histograms(self.job, epoch, "weights", _plain(weight_histograms(model, HISTOGRAM_BINS)))
            if self.sample is not None:
                self.store.add_histograms(self.job, epoch, "activations",
                                          _plain(activation_histograms(model, self.sample, HISTOGRAM_BINS)))
        finally:
            model.train(was_training)

    def record_gradients(self, record: dict) -> None:
        """``GradientMonitor``'s ``on_record``: one step's per-layer gradient norms."""
        self.store.add_gradients(self.job, int(record["step"]), {str(k): float(v) for k, v in record["norms"].items()})


def recorder_callbacks(store: JobStore, job: int, epochs: int, train_loader) -> list[Callback]:
    """The callbacks a workbench job adds to ``profondo train``'s: the store recorder and the
    gradient monitor feeding it (about ``GRADIENT_POINTS_PER_EPOCH`` records an epoch)."""
    data = train_loader.dataset
    n = min(SAMPLE_IMAGES, len(data))
    sample = np.stack([np.asarray(data[i][0], np.float32) for i in range(n)]) if n else None
    recorder = StoreRecorder(store, job, epochs, len(train_loader), sample)
    callbacks: list[Callback] = [recorder]
    every = max(len(train_loader) // GRADIENT_POINTS_PER_EPOCH, 1)
    callbacks.append(GradientMonitor(every=every, on_record=recorder.record_gradients))
    return callbacks


def _plain(value):
    """Histograms as JSON-able lists and floats."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value
