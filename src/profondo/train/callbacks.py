"""Callbacks hook into Trainer.fit: early stopping, checkpoints, LR schedules, logs, plots."""

from __future__ import annotations

import csv
import json
import math
import os
from pathlib import Path

from .plots import plot_history


class Callback:
    """Override any of these; ``logs`` holds the epoch's metrics (loss, accuracy, val_loss, ...)."""

    trainer = None

    def on_train_begin(self) -> None: ...

    def on_epoch_begin(self, epoch: int) -> None: ...

    def on_batch_end(self, step: int, logs: dict) -> None: ...

    def on_epoch_end(self, epoch: int, logs: dict) -> None: ...

    def on_train_end(self, logs: dict) -> None: ...


def _improved(mode: str, value: float, best: float, min_delta: float) -> bool:
    return value < best - min_delta if mode == "min" else value > best + min_delta


def _mode_for(monitor: str, mode: str) -> str:
    if mode == "auto":
        return "max" if "acc" in monitor else "min"
    if mode not in ("min", "max"):
        raise ValueError(f"mode must be 'min', 'max' or 'auto', received {mode!r}")
    return mode


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved by ``min_delta`` for ``patience`` epochs;
    optionally put back the best weights at the end."""

    def __init__(self, monitor: str = "val_loss", patience: int = 5, min_delta: float = 0.0, mode: str = "auto",
                 restore_best: bool = True) -> None:
        self.monitor, self.patience, self.min_delta = monitor, patience, min_delta
        self.mode = _mode_for(monitor, mode)
        self.restore_best = restore_best

    def on_train_begin(self) -> None:
        self.best = math.inf if self.mode == "min" else -math.inf
        self.wait, self.best_state, self.stopped_epoch = 0, None, None

    def on_epoch_end(self, epoch: int, logs: dict) -> None:
        if self.monitor not in logs:
            raise KeyError(f"EarlyStopping monitors {self.monitor!r}, but the epoch logs have {sorted(logs)}")
        value = logs[self.monitor]
        if _improved(self.mode, value, self.best, self.min_delta):
            self.best, self.wait = value, 0
            if self.restore_best:
                self.best_state = self.trainer.model.state_arrays()
        else:
            self.wait += 1
            if self.wait >= self.patience:
                self.stopped_epoch = epoch
                self.trainer.stop_training = True

    def on_train_end(self, logs: dict) -> None:
        if self.stopped_epoch is not None and self.restore_best and self.best_state is not None:
            self.trainer.model.load_state_dict(self.best_state)


class ModelCheckpoint(Callback):
    """After every epoch write ``last.ckpt`` (to resume exactly) and, when ``monitor``
    improves, ``best.ckpt``, both atomically, into ``directory``."""

    def __init__(self, directory: str | os.PathLike, monitor: str = "val_loss", mode: str = "auto",
                 save_best: bool = True) -> None:
        self.directory = Path(directory)
        self.monitor, self.mode, self.save_best = monitor, _mode_for(monitor, mode), save_best
        self.best = math.inf if self.mode == "min" else -math.inf

    def on_epoch_end(self, epoch: int, logs: dict) -> None:
        t = self.trainer
        t.save_checkpoint(self.directory / "last.ckpt", epoch, logs)
        value = logs.get(self.monitor)
        if self.save_best and value is not None and _improved(self.mode, value, self.best, 0.0):
            self.best = value
            t.save_checkpoint(self.directory / "best.ckpt", epoch, logs)


class LRScheduler(Callback):
    """Step a learning-rate scheduler every epoch (or every batch with ``per_batch=True``);
    ReduceLROnPlateau is stepped with ``monitor``'s value."""

    def __init__(self, scheduler, per_batch: bool = False, monitor: str = "val_loss") -> None:
        self.scheduler, self.per_batch, self.monitor = scheduler, per_batch, monitor

    def on_batch_end(self, step: int, logs: dict) -> None:
        if self.per_batch:
            self.scheduler.step()

    def on_epoch_end(self, epoch: int, logs: dict) -> None:
        logs["lr"] = self.scheduler.optimizer.param_groups[0]["lr"]
        if self.per_batch:
            return
        if type(self.scheduler).__name__ == "ReduceLROnPlateau":
            self.scheduler.step(logs[self.monitor] if self.monitor in logs else logs["loss"])
        else:
            self.scheduler.step()


class CSVLogger(Callback):
    """Append one row of epoch metrics per epoch to a CSV file (header written once)."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)

    def on_epoch_end(self, epoch: int, logs: dict) -> None:
        row = {"epoch": epoch + 1, **logs}
        new = not self.path.exists()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(row))
            if new:
                writer.writeheader()
            writer.writerow(row)


class JSONLogger(Callback):
    """Rewrite a JSON file holding every epoch's metrics (the whole history)."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)

    def on_epoch_end(self, epoch: int, logs: dict) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        history = self.trainer.history
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(history, indent=1, default=float))
        os.replace(tmp, self.path)


class PlotCurves(Callback):
    """Redraw the learning curves PNG after every epoch, titled ``title`` (needs matplotlib)."""

    def __init__(self, path: str | os.PathLike, title: str = "") -> None:
        self.path, self.title = Path(path), title

    def on_epoch_end(self, epoch: int, logs: dict) -> None:
        plot_history(self.trainer.history, self.path, self.title)
