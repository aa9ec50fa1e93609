"""Experience replay: a ring buffer of transitions held in preallocated arrays."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


class Batch(NamedTuple):
    """A sampled mini-batch; ``terminated`` is 1.0 where the next state is terminal (no bootstrap);
    ``horizons``: the environment steps each transition spans (``rewards`` are their discounted
    sum, and ``next_obs`` the observation that many steps on; 1 for plain transitions)."""

    obs: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    next_obs: np.ndarray
    terminated: np.ndarray
    horizons: np.ndarray


class ReplayBuffer:
    """The last ``capacity`` transitions, oldest overwritten first.

    One array per field is allocated up front (``obs`` and ``next_obs`` keep the observation
    dtype, so uint8 frames stay 1 byte a pixel); ``add`` writes one row, ``sample`` gathers
    uniformly drawn rows with one fancy index per field.

    >>> buf = ReplayBuffer(1000, obs_shape=(4,))
    >>> buf.add(np.zeros(4), 1, 1.0, np.ones(4), False)
    >>> batch = buf.sample(32, np.random.default_rng(0))
    >>> batch.obs.shape, batch.actions.shape
    ((32, 4), (32,))
    """

    _FIELDS = ("obs", "actions", "rewards", "next_obs", "terminated", "horizons")

    def __init__(self, capacity: int, obs_shape: tuple[int, ...], obs_dtype=np.float32) -> None:
        if capacity < 1:
            raise ValueError(f"ReplayBuffer: capacity must be at least 1, received {capacity}")
        self.capacity, self.obs_shape = int(capacity), tuple(int(s) for s in obs_shape)
        self.obs = np.zeros((self.capacity, *self.obs_shape), obs_dtype)
        self.next_obs = np.zeros_like(self.obs)
        self.actions = np.zeros(self.capacity, np.int64)
        self.rewards = np.zeros(self.capacity, np.float32)
        self.terminated = np.zeros(self.capacity, np.float32)
        self.horizons = np.ones(self.capacity, np.int32)
        self.pos = self.size = 0

    def __len__(self) -> int:
        return self.size

    def add(self, obs, action: int, reward: float, next_obs, terminated: bool, horizon: int = 1) -> None:
        """Store one transition at the write position, overwriting the oldest when full
        (``horizon`` > 1: an n-step transition, see :class:`Batch`)."""
        i = self.pos
        if np.shape(obs) != self.obs_shape:
            raise ValueError(f"ReplayBuffer.add: observation of shape {np.shape(obs)}, the buffer holds "
                             f"{self.obs_shape}")
        self.obs[i] = obs
        self.next_obs[i] = next_obs
        self.actions[i], self.rewards[i], self.terminated[i], self.horizons[i] = action, reward, terminated, horizon
        self.pos = (i + 1) % self.capacity
        self.size = min(self.size + 1, self.capacity)

    def sample(self, batch_size: int, rng: np.random.Generator) -> Batch:
        """``batch_size`` transitions drawn uniformly with replacement."""
        if self.size == 0:
            raise ValueError("ReplayBuffer.sample: the buffer is empty; add transitions first")
        idx = rng.integers(0, self.size, batch_size)
        return Batch(*(getattr(self, name)[idx] for name in self._FIELDS))

    def state_dict(self) -> dict[str, np.ndarray]:
        """The filled rows of every field plus ``pos`` (checkpoints store this to resume)."""
        state = {name: getattr(self, name)[: self.size] for name in self._FIELDS}
        state["pos"] = np.array(self.pos)
        return state

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        size = len(state["actions"])
        if size > self.capacity or tuple(state["obs"].shape[1:]) != self.obs_shape:
            raise ValueError(f"ReplayBuffer.load_state_dict: the file holds {size} transitions of shape "
                             f"{tuple(state['obs'].shape[1:])}, the buffer {self.capacity} of shape {self.obs_shape}")
        for name in self._FIELDS:  # files from before n-step returns hold 1-step transitions
            getattr(self, name)[:size] = state.get(name, 1) if name == "horizons" else state[name]
        self.size, self.pos = size, int(state["pos"]) % self.capacity
