"""A tiny environment written for the tests: a corridor of cells, the goal at the right end."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest


class Corridor:
    """Cells 0..n-1, start in cell 0; action 0 steps left, 1 steps right. Reaching cell n-1
    ends the episode with reward +1; every other step costs 0.01; episodes are truncated after
    ``limit`` steps. With ``one_hot`` the observation is the cell as a one-hot float32 vector
    (for DQN), otherwise the cell index (a Discrete space, for tabular Q-learning). With
    ``slip`` the move goes the other way with that probability (seeded by ``reset(seed)``).
    The optimal return is 1 - 0.01 * (n - 2)."""

    def __init__(self, n: int = 6, limit: int = 30, one_hot: bool = False, slip: float = 0.0) -> None:
        self.n, self.limit, self.one_hot, self.slip = n, limit, one_hot, slip
        self.action_space = SimpleNamespace(n=2, shape=(), start=0)
        self.observation_space = (SimpleNamespace(shape=(n,), dtype=np.dtype(np.float32)) if one_hot
                                  else SimpleNamespace(n=n, shape=(), start=0))
        self.rng = np.random.default_rng()

    def _obs(self):
        return np.eye(self.n, dtype=np.float32)[self.cell] if self.one_hot else self.cell

    def reset(self, seed=None):
        if seed is not None:
            self.rng = np.random.default_rng(seed)
        self.cell, self.t = 0, 0
        return self._obs(), {}

    def step(self, action):
        move = 1 if action == 1 else -1
        if self.slip and self.rng.random() < self.slip:
            move = -move
        self.cell, self.t = min(max(self.cell + move, 0), self.n - 1), self.t + 1
        terminated = self.cell == self.n - 1
        reward = 1.0 if terminated else -0.01
        return self._obs(), reward, terminated, self.t >= self.limit and not terminated, {}


@pytest.fixture
def corridor():
    return Corridor


@pytest.fixture(autouse=True)
def _one_blas_thread():
    """Q-networks' small products run fastest on one BLAS thread, much so on busy cores
    (`profondo rl dqn` does the same)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        yield
        return
    with threadpool_limits(1, user_api="blas"):
        yield
