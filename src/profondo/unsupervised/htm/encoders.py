"""Encoders: values to sparse distributed representations (SDRs), after BAMI's "Encoders"
chapter. Each returns a boolean vector of ``size`` bits with a fixed number of active bits;
similar values share bits, so the overlap of two codes measures their similarity."""

from __future__ import annotations

import datetime as _dt
from collections.abc import Hashable, Sequence

import numpy as np


class ScalarEncoder:
    """``active_bits`` consecutive bits of ``size``, placed by the value's position in
    [``minimum``, ``maximum``] (values outside are clipped). ``periodic`` wraps the bits around
    (hour of day, angle): ``maximum`` then meets ``minimum``.

    >>> ScalarEncoder(0, 100, size=50, active_bits=5).encode(42.0).nonzero()[0]
    array([19, 20, 21, 22, 23])
    """

    def __init__(self, minimum: float, maximum: float, size: int = 400, active_bits: int = 21,
                 periodic: bool = False) -> None:
        if not maximum > minimum:
            raise ValueError(f"ScalarEncoder: expected maximum > minimum, received {minimum} and {maximum}")
        if not 0 < active_bits < size:
            raise ValueError(f"ScalarEncoder: expected 0 < active_bits < size, received {active_bits} and {size}")
        self.minimum, self.maximum, self.size, self.active_bits = float(minimum), float(maximum), int(size), active_bits
        self.periodic = periodic
        self.buckets = size if periodic else size - active_bits + 1

    def bucket(self, value: float) -> int:
        """The index of the first active bit of ``value``."""
        if not np.isfinite(value):
            raise ValueError(f"ScalarEncoder: cannot encode {value!r}")
        fraction = (min(max(value, self.minimum), self.maximum) - self.minimum) / (self.maximum - self.minimum)
        if self.periodic:
            return int(fraction * self.buckets) % self.buckets
        return int(round(fraction * (self.buckets - 1)))

    def encode(self, value: float) -> np.ndarray:
        bits = np.zeros(self.size, bool)
        start = self.bucket(value)
        bits[np.arange(start, start + self.active_bits) % self.size] = True
        return bits


class CategoryEncoder:
    """One block of ``active_bits`` bits per category, no overlap between categories; a value
    not in ``categories`` gets the block reserved for "unknown" (the first).

    >>> enc = CategoryEncoder("abc", active_bits=3); enc.encode("b").nonzero()[0]
    array([6, 7, 8])
    """

    def __init__(self, categories: Sequence[Hashable], active_bits: int = 21) -> None:
        self.categories = list(dict.fromkeys(categories))
        if not self.categories:
            raise ValueError("CategoryEncoder: expected at least one category")
        self.index = {c: i + 1 for i, c in enumerate(self.categories)}
        self.active_bits = int(active_bits)
        self.size = (len(self.categories) + 1) * self.active_bits

    def bucket(self, value: Hashable) -> int:
        """0 for an unknown value, else 1 + the category's position."""
        return self.index.get(value, 0)

    def encode(self, value: Hashable) -> np.ndarray:
        bits = np.zeros(self.size, bool)
        start = self.bucket(value) * self.active_bits
        bits[start:start + self.active_bits] = True
        return bits


class DateEncoder:
    """A date-time as the concatenation of periodic codes of the time of day, the day of the
    week and the season (day of the year), and a weekend flag (BAMI; NuPIC's DateEncoder), each
    ``active_bits`` wide; a part set to False is left out."""

    def __init__(self, time_of_day: bool = True, day_of_week: bool = True, weekend: bool = True,
                 season: bool = False, active_bits: int = 21, size: int = 200) -> None:
        self.parts: list[tuple[str, ScalarEncoder | CategoryEncoder]] = []
        if season:
            self.parts.append(("season", ScalarEncoder(0, 366, size, active_bits, periodic=True)))
        if time_of_day:
            self.parts.append(("time_of_day", ScalarEncoder(0, 24, size, active_bits, periodic=True)))
        if day_of_week:
            self.parts.append(("day_of_week", ScalarEncoder(0, 7, size, active_bits, periodic=True)))
        if weekend:
            self.parts.append(("weekend", CategoryEncoder([False, True], active_bits)))
        if not self.parts:
            raise ValueError("DateEncoder: enable at least one of time_of_day, day_of_week, weekend, season")
        self.size = sum(e.size for _, e in self.parts)

    def encode(self, when: _dt.datetime) -> np.ndarray:
        values = {"time_of_day": when.hour + when.minute / 60 + when.second / 3600,
                  "day_of_week": when.weekday() + (when.hour + when.minute / 60) / 24,
                  "weekend": when.weekday() >= 5, "season": when.timetuple().tm_yday - 1 + when.hour / 24}
        return np.concatenate([e.encode(values[name]) for name, e in self.parts])
