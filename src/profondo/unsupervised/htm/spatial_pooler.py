"""The spatial pooler (BAMI, "Spatial Pooling Algorithm"): an input SDR to a sparse set of
active columns whose proximal synapses learn, by Hebbian increments and decrements of
their permanences, to represent the input's frequent patterns. Global inhibition, boosting
by active duty cycles, and bumping of columns that rarely overlap their input."""

from __future__ import annotations

import numpy as np


class SpatialPooler:
    """``input_size`` bits to ``columns`` columns, ``active_columns`` of them active per input.

    Each column's potential pool is a random ``potential_pct`` of the inputs; potential
    synapses start with permanences near ``connected`` (half of them connected). A column's
    overlap counts its connected synapses onto active inputs, times its boost; the
    ``active_columns`` columns with the largest overlaps (above ``stimulus_threshold``) win.
    Learning, for the winners: +``increment`` on synapses from active inputs, -``decrement`` on
    the others. Boost = exp(-``boost_strength`` (duty cycle - target density)). Deterministic
    for a ``seed`` (ties are broken by a fixed random jitter per column).
    """

    def __init__(self, input_size: int, columns: int = 2048, active_columns: int = 40, potential_pct: float = 0.85,
                 connected: float = 0.1, increment: float = 0.05, decrement: float = 0.008,
                 stimulus_threshold: int = 0, boost_strength: float = 1.0, duty_cycle_period: int = 1000,
                 min_pct_overlap_duty_cycle: float = 0.001, seed: int = 0) -> None:
        if not 0 < active_columns <= columns:
            raise ValueError(f"SpatialPooler: expected 0 < active_columns <= columns, received {active_columns} and "
                             f"{columns}")
        self.input_size, self.columns, self.active_columns = int(input_size), int(columns), int(active_columns)
        self.connected, self.increment, self.decrement = connected, increment, decrement
        self.stimulus_threshold, self.boost_strength = stimulus_threshold, boost_strength
        self.duty_cycle_period, self.min_pct = duty_cycle_period, min_pct_overlap_duty_cycle
        rng = np.random.default_rng(seed)
        self.potential = rng.random((columns, input_size)) < potential_pct
        start = connected + (rng.random((columns, input_size)) - 0.5) * 0.2  # half above the threshold
        self.permanence = np.where(self.potential, np.clip(start, 0, 1), 0).astype(np.float32)
        self.jitter = rng.random(columns) * 1e-3
        self._connected = (self.permanence >= connected).astype(np.float32)  # kept in step: overlaps by one GEMV
        self.density = active_columns / columns
        self.active_duty = np.full(columns, self.density, np.float32)
        self.overlap_duty = np.zeros(columns, np.float32)
        self.boost = np.ones(columns, np.float32)
        self.iterations = 0

    def overlaps(self, x: np.ndarray) -> np.ndarray:
        """Connected synapses onto the active inputs of the SDR ``x``, per column (before boosting)."""
        return self._connected @ np.asarray(x, np.float32)

    def load_permanence(self, permanence: np.ndarray) -> None:
        """Put back permanences (from a checkpoint), with the connections they imply."""
        self.permanence[...] = permanence
        self._connected = (self.permanence >= self.connected).astype(np.float32)

    def compute(self, x: np.ndarray, learn: bool = True) -> np.ndarray:
        """The active columns' indices (sorted) for the input SDR ``x`` (bool, ``input_size``)."""
        x = np.asarray(x, bool).reshape(-1)
        if x.size != self.input_size:
            raise ValueError(f"SpatialPooler: expected an input of {self.input_size} bits, received {x.size}")
        overlap = self.overlaps(x)
        score = overlap * (self.boost if learn else 1) + self.jitter
        score[overlap <= self.stimulus_threshold] = -1
        winners = np.argpartition(-score, self.active_columns - 1)[:self.active_columns]
        winners = np.sort(winners[score[winners] >= 0])
        if learn:
            self._learn(x, winners, overlap)
        return winners

    def _learn(self, x: np.ndarray, winners: np.ndarray, overlap: np.ndarray) -> None:
        rows = self.permanence[winners]
        delta = np.where(x, np.float32(self.increment), np.float32(-self.decrement))
        rows += delta * self.potential[winners]
        np.clip(rows, 0, 1, out=rows)
        self.permanence[winners] = rows
        self._connected[winners] = rows >= self.connected
        self.iterations += 1
        period = min(self.iterations, self.duty_cycle_period)
        active = np.zeros(self.columns, np.float32)
        active[winners] = 1
        self.active_duty += (active - self.active_duty) / period
        self.overlap_duty += ((overlap > self.stimulus_threshold) - self.overlap_duty) / period
        self.boost = np.exp(-self.boost_strength * (self.active_duty - self.density)).astype(np.float32)
        # Columns that almost never overlap their input: raise all their potential permanences.
        weak = self.overlap_duty < self.min_pct * self.overlap_duty.max()
        if weak.any():
            bumped = self.permanence[weak] + np.float32(0.1 * self.connected) * self.potential[weak]
            self.permanence[weak] = np.clip(bumped, 0, 1)
            self._connected[weak] = self.permanence[weak] >= self.connected
