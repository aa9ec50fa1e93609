"""Callbacks hook into Trainer.fit: early stopping, checkpoints, LR schedules, logs, plots.

A callback's progress (the best value so far, epochs without improvement) is in its
``state_dict()``, which every checkpoint holds and ``Trainer.resume`` puts back, so a resumed run
decides exactly as the uninterrupted one. Files are written atomically, and the logs are written
from the trainer's history, which the checkpoint holds: a run killed at any instant and resumed
leaves ``last.ckpt``, ``best.ckpt`` and the logs as the uninterrupted run does.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from pathlib import Path

from ..architecture.build import upgrade_state_dict
from ..io.checkpoint import atomic_write, remove_temporaries
from .plots import plot_history


class Callback:
    """Override any of these; ``logs`` holds the epoch's metrics (loss, accuracy, val_loss, ...).

    A callback that keeps progress across epochs returns it from ``state_dict`` (JSON-able values)
    and takes it back in ``load_state_dict``; ``Trainer.resume`` calls it after ``on_train_begin``.
    """

    trainer = None

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None: ...

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

    def state_dict(self) -> dict:
        # The best weights go into the checkpoint too ("arrays": the Trainer stores them as arrays),
        # so that a resumed run that stops restores the best epoch of the whole run.
        state = {"best": self.best, "wait": self.wait}
        if self.best_state is not None:
            state["arrays"] = self.best_state
        return state

    def load_state_dict(self, state: dict) -> None:
        self.best, self.wait = float(state["best"]), int(state["wait"])
        self.best_state = state.get("arrays") or None

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
            # best weights resumed from a checkpoint of the old naming are keyed by position ("0.weight")
            self.trainer.model.load_state_dict(upgrade_state_dict(self.trainer.model, self.best_state))


class ModelCheckpoint(Callback):
    """After every epoch write ``last.ckpt`` (to resume exactly) and, when ``monitor``
    improves, ``best.ckpt``, both atomically, into ``directory``.

    ``best.ckpt`` is written before ``last.ckpt``, and the best value so far is in both: a kill
    between the two writes resumes from the previous ``last.ckpt``, repeats the epoch and writes
    the same ``best.ckpt`` again, so the pair is always consistent. Temporary files left by a
    killed write are removed when training starts.
    """

    def __init__(self, directory: str | os.PathLike, monitor: str = "val_loss", mode: str = "auto",
                 save_best: bool = True) -> None:
        self.directory = Path(directory)
        self.monitor, self.mode, self.save_best = monitor, _mode_for(monitor, mode), save_best
        self.best = math.inf if self.mode == "min" else -math.inf

    def state_dict(self) -> dict:
        return {"best": self.best}

    def load_state_dict(self, state: dict) -> None:
        self.best = float(state["best"])

    def on_train_begin(self) -> None:
        for name in ("last.ckpt", "best.ckpt"):
            remove_temporaries(self.directory / name)

    def on_epoch_end(self, epoch: int, logs: dict) -> None:
        t = self.trainer
        value = logs.get(self.monitor)
        if self.save_best and value is not None and _improved(self.mode, value, self.best, 0.0):
            self.best = value
            t.save_checkpoint(self.directory / "best.ckpt", epoch, logs)
        t.save_checkpoint(self.directory / "last.ckpt", epoch, logs)


class LRScheduler(Callback):
    """Step a learning-rate scheduler every epoch (or every batch with ``per_batch=True``);
    ReduceLROnPlateau is stepped with ``monitor``'s value."""

    def __init__(self, scheduler, per_batch: bool = False, monitor: str = "val_loss") -> None:
        self.scheduler, self.per_batch, self.monitor = scheduler, per_batch, monitor

    def on_batch_end(self, step: int, logs: dict) -> None:
        if self.per_batch:
            self.scheduler.step()

    def on_epoch_end(self, epoch: int, logs: dict) -> None:
        # The trainer has logged the epoch's learning rate (logs["lr"]) before the callbacks run.
        if self.per_batch:
            return
        if type(self.scheduler).__name__ == "ReduceLROnPlateau":
            self.scheduler.step(logs[self.monitor] if self.monitor in logs else logs["loss"])
        else:
            self.scheduler.step()


class CSVLogger(Callback):
    """One row of epoch metrics per epoch in a CSV file, written from the trainer's history.

    The whole file is rewritten atomically at every epoch and when training starts, so after a
    resume it holds exactly the epochs the checkpoint covers, then the new ones: a kill loses no
    row and repeats none.
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)

    def on_train_begin(self) -> None:
        remove_temporaries(self.path)
        self._write()

    def on_epoch_end(self, epoch: int, logs: dict) -> None:
        self._write()

    def _write(self) -> None:
        history = self.trainer.history
        rows = len(history.get("loss", next(iter(history.values()), [])))
        if not rows:
            self.path.unlink(missing_ok=True)
            return
        text = io.StringIO(newline="")
        writer = csv.writer(text)
        writer.writerow(["epoch", *history])
        for i in range(rows):
            writer.writerow([i + 1, *(values[i] if i < len(values) else "" for values in history.values())])
        atomic_write(self.path, lambda f: f.write(text.getvalue().encode()))


class JSONLogger(Callback):
    """Rewrite a JSON file holding every epoch's metrics (the whole history), atomically."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)

    def on_train_begin(self) -> None:
        remove_temporaries(self.path)
        if self.trainer.history:  # resumed: a kill may have come between the checkpoint and this file
            self._write()

    def on_epoch_end(self, epoch: int, logs: dict) -> None:
        self._write()

    def _write(self) -> None:
        text = json.dumps(self.trainer.history, indent=1, default=float)
        atomic_write(self.path, lambda f: f.write(text.encode()))


class PlotCurves(Callback):
    """Redraw the learning curves PNG after every epoch, titled ``title`` (needs matplotlib)."""

    def __init__(self, path: str | os.PathLike, title: str = "") -> None:
        self.path, self.title = Path(path), title

    def on_train_begin(self) -> None:
        if self.trainer.history:  # resumed: draw what the checkpoint covers
            plot_history(self.trainer.history, self.path)

    def on_epoch_end(self, epoch: int, logs: dict) -> None:
        plot_history(self.trainer.history, self.path, self.title)
