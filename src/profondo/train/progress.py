"""Progress without a dependency: a bar that redraws in place on a terminal or in a notebook and
fits their width, a few plain lines in a log file, and :class:`TrainingProgress`, the callback
that the ``profondo`` command trains with (a bar per epoch, one result line per epoch on stdout,
and the time left for the whole run)."""

from __future__ import annotations

import shutil
import sys
import time
from collections.abc import Callable
from typing import TextIO

from .callbacks import Callback

NOTEBOOK_COLUMNS = 100  # a notebook's output area has no terminal size; this fits the usual one


def _clock(seconds: float) -> str:
    seconds = int(max(seconds, 0))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"


def in_notebook(stream: TextIO) -> bool:
    """True for the output stream of a Jupyter (IPython kernel) cell, which renders ``\\r``
    redraws but is not a terminal."""
    return type(stream).__module__.split(".")[0] == "ipykernel"


def _live(stream: TextIO) -> bool:
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty()) or in_notebook(stream)
    except ValueError:  # a closed stream
        return False


def _columns(stream: TextIO) -> int:
    if in_notebook(stream):
        return NOTEBOOK_COLUMNS
    return shutil.get_terminal_size((80, 24)).columns


def _value(key: str, value: object) -> str:
    return f"{key} {value:.4f}" if isinstance(value, float) else f"{key} {value}"


class ProgressBar:
    """``bar.update(n, loss=0.3, acc=0.9)`` redraws ``epoch 1/12 [####....] 120/469 loss 0.3000 ... ETA 00:12``.

    On a terminal or in a notebook the bar redraws one line, at most ten times a second, never
    wider than the terminal (the bar shrinks first, then the values are dropped from the right),
    so nothing wraps. On any other stream (a log file, a pipe) it writes at most ``log_lines``
    plain lines per bar. Samples per second come from ``samples`` passed to update;
    ``run_eta(fraction)``, when given, returns the seconds left in the whole run once this bar is
    ``fraction`` done, shown after the bar's own ETA. ``leave=False`` erases a live bar on close.
    """

    def __init__(self, total: int, desc: str = "", width: int = 24, stream: TextIO | None = None,
                 enabled: bool = True, log_lines: int = 4, run_eta: Callable[[float], float | None] | None = None,
                 leave: bool = True) -> None:
        self.total, self.desc, self.width = max(int(total), 1), desc, width
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.live = enabled and _live(self.stream)
        self.log_every = max(self.total // max(log_lines, 1), 1)
        self.count = self.samples = 0
        self.start = time.perf_counter()
        self.last_draw = 0.0
        self.values: dict[str, float] = {}
        self.run_eta, self.leave = run_eta, leave

    def update(self, steps: int = 1, samples: int = 0, **values: float) -> None:
        self.count += steps
        self.samples += samples
        self.values.update(values)
        if not self.enabled:
            return
        now = time.perf_counter()
        if self.live:
            if now - self.last_draw > 0.1 or self.count >= self.total:
                self.last_draw = now
                self._draw("\r" + self.line(_columns(self.stream) - 1) + "\033[K")
        elif self.count % self.log_every == 0 and self.count < self.total:
            self._draw(self.line() + "\n")

    def _draw(self, text: str) -> None:
        self.stream.write(text)
        self.stream.flush()

    def line(self, columns: int | None = None) -> str:
        """The bar's text; with ``columns``, shortened to at most that many characters."""
        elapsed = time.perf_counter() - self.start
        head = f"{self.desc} " if self.desc else ""
        count = f" {self.count}/{self.total}"
        values = [_value(k, v) for k, v in self.values.items()]
        rate = [f"{self.samples / elapsed:,.0f} samples/s"] if self.samples and elapsed > 0 else []
        if self.count < self.total and self.count:
            eta = f"ETA {_clock(elapsed / self.count * (self.total - self.count))}"
        else:
            eta = _clock(elapsed)
        left = self.run_eta(min(self.count / self.total, 1.0)) if self.run_eta and self.count else None
        if left is not None:
            eta += f" (run {_clock(left)})"

        def text(bar_width: int, shown: list[str]) -> str:
            filled = int(min(self.count / self.total, 1.0) * bar_width)
            bar = f"[{'#' * filled}{'.' * (bar_width - filled)}]" if bar_width else ""
            return " ".join([head + bar + count, *shown, eta]).replace("  ", " ").strip()

        full = text(self.width, values + rate)
        if columns is None or len(full) <= columns:
            return full
        spare = columns - len(text(0, values + rate)) - 2  # the bar shrinks first (to 8), ...
        if spare >= 8:
            return text(min(spare, self.width), values + rate)
        for keep in range(len(values), -1, -1):  # ... then the rate goes, then the values from the right, ...
            if len(text(8, values[:keep])) <= columns:
                return text(8, values[:keep])
        return text(0, [])[:columns]  # ... and a terminal narrower than that gets what fits

    def close(self, **values: float) -> None:
        self.values.update(values)
        if not self.enabled:
            return
        if not self.leave:  # erased on a terminal; in a log, the caller's own line follows
            if self.live:
                self._draw("\r\033[K")
        elif self.live:
            self._draw("\r" + self.line(_columns(self.stream) - 1) + "\033[K\n")
        else:
            self._draw(self.line() + "\n")


def _metric(key: str, value: object) -> str:
    if isinstance(value, float) and "acc" in key:
        return f"{key} {value:.2%}"
    if key == "lr":
        return f"lr {value:.3g}"
    if key == "time":
        return f"{value:.1f} s"
    return _value(key, value)


class TrainingProgress(Callback):
    """A live bar during each epoch (on ``stream``, erased at the epoch's end) and one line per
    epoch on ``out`` with the epoch's metrics and the time left in the run; with
    ``bars=False`` (``--quiet``) only the lines.

    ``steps`` is the number of batches per epoch, ``batch_size`` the samples per batch (for the
    rate), ``epochs`` the epoch count that ``fit`` trains to.
    """

    def __init__(self, steps: int, epochs: int, batch_size: int = 0, bars: bool = True,
                 stream: TextIO | None = None, out: TextIO | None = None) -> None:
        self.steps, self.epochs, self.batch_size, self.bars = steps, epochs, batch_size, bars
        self.stream, self.out = stream, out
        self.bar: ProgressBar | None = None

    def on_train_begin(self) -> None:
        self.started = time.perf_counter()
        self.first = self.trainer.epoch  # a resumed run counts its time from here

    def _left(self, epoch: int, fraction: float) -> float | None:
        """Seconds left in the run, from the mean time of the epochs (and part epoch) done so far."""
        done = epoch - self.first + fraction
        if done <= 0:
            return None
        return (time.perf_counter() - self.started) / done * (self.epochs - epoch - fraction)

    def on_epoch_begin(self, epoch: int) -> None:
        self.bar = ProgressBar(self.steps, f"epoch {epoch + 1}/{self.epochs}", stream=self.stream or sys.stderr,
                               enabled=self.bars, run_eta=lambda f: self._left(epoch, f), leave=False)

    def on_batch_end(self, step: int, logs: dict) -> None:
        if self.bar is not None:
            self.bar.update(1, self.batch_size, **logs)

    def on_epoch_end(self, epoch: int, logs: dict) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
        parts = [_metric(k, v) for k, v in sorted(logs.items(), key=lambda kv: kv[0] == "time")]
        left = self._left(epoch, 1.0)
        if left and epoch + 1 < self.epochs:
            parts.append(f"ETA {_clock(left)}")
        out = self.out or sys.stdout
        out.write(f"epoch {epoch + 1}/{self.epochs}: " + ", ".join(parts) + "\n")
        out.flush()
