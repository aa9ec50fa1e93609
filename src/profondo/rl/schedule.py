"""The exploration rate as a function of the step (DQN) or episode (tabular) count."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class EpsilonSchedule:
    """Epsilon falling from ``start`` to ``end``.

    ``linear``: reaches ``end`` after ``decay`` steps and stays there. ``exponential``:
    ``end + (start - end) * exp(-t / decay)`` (``decay`` is the e-folding time).

    >>> eps = EpsilonSchedule(1.0, 0.1, decay=100)
    >>> eps(0), eps(50), eps(1000)
    (1.0, 0.55, 0.1)
    """

    start: float = 1.0
    end: float = 0.05
    decay: int = 10_000
    kind: str = "linear"

    def __post_init__(self) -> None:
        if self.kind not in ("linear", "exponential"):
            raise ValueError(f"EpsilonSchedule: kind must be 'linear' or 'exponential', received {self.kind!r}")
        for name in ("start", "end"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"EpsilonSchedule: {name} must lie in [0, 1], received {value}")
        if self.decay <= 0:
            raise ValueError(f"EpsilonSchedule: decay must be a positive number of steps, received {self.decay}")

    def __call__(self, t: int) -> float:
        if self.kind == "linear":
            return self.end + (self.start - self.end) * max(0.0, 1.0 - t / self.decay)
        return self.end + (self.start - self.end) * math.exp(-t / self.decay)
