"""A dependency-free progress bar: live on a terminal, a few plain lines in a log file."""

from __future__ import annotations

import sys
import time


def _clock(seconds: float) -> str:
    seconds = int(max(seconds, 0))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"


class ProgressBar:
    """``bar.update(n, loss=0.3, acc=0.9)`` redraws ``[####....] 120/469 loss 0.3000 ... ETA``.

    Samples per second are computed from ``samples`` passed to update. On a non-terminal
    stream the bar prints at most ``log_lines`` lines per run so logs stay readable.
    """

    def __init__(self, total: int, desc: str = "", width: int = 24, stream=None, enabled: bool = True,
                 log_lines: int = 4) -> None:
        self.total, self.desc, self.width = max(int(total), 1), desc, width
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.live = enabled and hasattr(self.stream, "isatty") and self.stream.isatty()
        self.log_every = max(self.total // max(log_lines, 1), 1)
        self.count = self.samples = 0
        self.start = time.perf_counter()
        self.last_draw = 0.0
        self.values: dict[str, float] = {}

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
                self.stream.write("\r" + self.line() + "\033[K")
                self.stream.flush()
        elif self.count % self.log_every == 0 and self.count < self.total:
            self.stream.write(self.line() + "\n")
            self.stream.flush()

    def line(self) -> str:
        elapsed = time.perf_counter() - self.start
        done = min(self.count / self.total, 1.0)
        filled = int(done * self.width)
        bar = "#" * filled + "." * (self.width - filled)
        parts = [f"{self.desc} [{bar}] {self.count}/{self.total}"]
        parts += [f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}" for k, v in self.values.items()]
        if self.samples and elapsed > 0:
            parts.append(f"{self.samples / elapsed:,.0f} samples/s")
        if self.count < self.total and self.count:
            parts.append(f"ETA {_clock(elapsed / self.count * (self.total - self.count))}")
        else:
            parts.append(f"{_clock(elapsed)}")
        return " ".join(parts).strip()

    def close(self, **values: float) -> None:
        self.values.update(values)
        if self.enabled:
            self.stream.write(("\r" if self.live else "") + self.line() + ("\033[K" if self.live else "") + "\n")
            self.stream.flush()
