"""The SDR classifier (NuPIC's, after BAMI): softmax regression from the active bits of an SDR
to a class, learned online one sample at a time. With the temporal memory's active cells
as input and the next element as the class, it predicts a sequence one step ahead."""

from __future__ import annotations

import numpy as np


class SDRClassifier:
    """``input_size`` bits to ``classes`` classes; ``alpha`` is the learning rate."""

    def __init__(self, input_size: int, classes: int, alpha: float = 0.01) -> None:
        self.input_size, self.classes, self.alpha = int(input_size), int(classes), float(alpha)
        self.weight = np.zeros((self.input_size, self.classes), np.float32)

    def _active(self, active: np.ndarray) -> np.ndarray:
        active = np.asarray(active)
        if active.dtype == bool:
            if active.size != self.input_size:
                raise ValueError(f"SDRClassifier: expected an SDR of {self.input_size} bits, received {active.size}")
            return np.flatnonzero(active)
        return active.astype(np.int64)

    def infer(self, active: np.ndarray) -> np.ndarray:
        """Class probabilities for an SDR (bool vector or indices of its active bits)."""
        scores = self.weight[self._active(active)].sum(0)
        scores = np.exp(scores - scores.max())
        return scores / scores.sum()

    def learn(self, active: np.ndarray, label: int) -> np.ndarray:
        """One gradient step of the log-likelihood of ``label``; returns the probabilities before it."""
        if not 0 <= label < self.classes:
            raise ValueError(f"SDRClassifier: label must lie in [0, {self.classes}), received {label}")
        index = self._active(active)
        p = self.infer(index)
        error = -p
        error[label] += 1
        self.weight[index] += np.float32(self.alpha) * error
        return p
