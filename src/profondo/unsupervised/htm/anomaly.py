"""Anomaly likelihood (Ahmad, Lavin, Purdy and Agha 2017, "Unsupervised real-time anomaly
detection for streaming data"; NuPIC's AnomalyLikelihood): how unusual the recent anomaly
scores are, given the distribution of their moving average so far.

The raw score (the fraction of unpredicted columns) is noisy in a noisy series; the
likelihood models the moving average of the last ``averaging_window`` scores as a normal
distribution fitted to the last ``history`` averages, and reports 1 - Q(z), the probability
that the current average is not drawn from it. During the first ``learning_period`` +
``estimation_samples`` steps it is 0.5 (nothing is known yet).
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np


class AnomalyLikelihood:
    def __init__(self, learning_period: int = 288, estimation_samples: int = 100, history: int = 8640,
                 averaging_window: int = 10, reestimation_period: int = 100) -> None:
        self.learning_period, self.estimation_samples = learning_period, estimation_samples
        self.averaging_window, self.reestimation_period = averaging_window, reestimation_period
        self.recent: deque[float] = deque(maxlen=averaging_window)
        self.averages: deque[float] = deque(maxlen=history)
        self.count = 0
        self.mean, self.std = 0.0, 1.0
        self.fitted_at = -1

    def update(self, score: float) -> float:
        """Add the next raw anomaly score; returns the anomaly likelihood in [0, 1]."""
        self.recent.append(float(score))
        average = sum(self.recent) / len(self.recent)
        self.count += 1
        if self.count > self.learning_period:
            self.averages.append(average)
        if self.count <= self.learning_period + self.estimation_samples:
            return 0.5
        if self.fitted_at < 0 or self.count - self.fitted_at >= self.reestimation_period:
            values = np.asarray(self.averages)
            # NuPIC's floor on the spread: a series predicted perfectly so far still has a scale
            self.mean, self.std = float(values.mean()), max(float(values.std()), 0.03)
            self.fitted_at = self.count
        z = (average - self.mean) / self.std
        return 1.0 - 0.5 * math.erfc(z / math.sqrt(2))

    @staticmethod
    def log_likelihood(likelihood: float) -> float:
        """NuPIC's log scale for display: 0.5 -> 0.03, 0.9999 -> 0.4, 0.9999999999 -> 1."""
        return math.log(1.0000000001 - likelihood) / math.log(1.0 - 0.9999999999)
