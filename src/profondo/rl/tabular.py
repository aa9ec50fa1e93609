"""Tabular Q-learning: a Q-table, the Bellman update, epsilon-greedy exploration.

Works on any environment whose actions are a gymnasium ``Discrete`` space and whose observations
are ``Discrete`` or a ``Tuple`` of them (FrozenLake, Taxi, CliffWalking, Blackjack, or one written
by hand with ``reset``/``step``).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..io.checkpoint import Checkpoint, read_checkpoint, write_checkpoint
from .env import discrete_size, discrete_states
from .history import History
from .schedule import EpsilonSchedule


def q_update(q: np.ndarray, state: int, action: int, reward: float, next_state: int, terminated: bool,
             lr: float, gamma: float) -> float:
    """One Bellman update of ``q`` in place; returns the TD error.

    ``Q(s, a) += lr * (r + gamma * max_a' Q(s', a') - Q(s, a))``, with no bootstrap term when
    the episode terminated (a truncated episode still bootstraps: its next state has a value).

    >>> q = np.zeros((2, 2)); q[1] = [1.0, 3.0]
    >>> q_update(q, 0, 1, reward=1.0, next_state=1, terminated=False, lr=0.5, gamma=0.9)
    3.7
    >>> q[0, 1]
    1.85
    """
    target = reward if terminated else reward + gamma * q[next_state].max()
    td = target - q[state, action]
    q[state, action] += lr * td
    return float(td)


class QLearning:
    """An epsilon-greedy Q-learning agent over ``n_states`` x ``n_actions``.

    ``epsilon`` is indexed by the number of episodes played; ``lr_end`` (optional) makes the
    learning rate fall linearly from ``lr`` to ``lr_end`` over the same ``epsilon.decay``
    episodes, so late updates average the noise of a stochastic environment. Tuple observations
    are numbered row-major over ``state_dims`` (``state_offset`` then holds each part's start).

    >>> env = make_env("FrozenLake-v1")
    >>> agent = QLearning.for_env(env, lr=0.1, gamma=0.99, seed=0)
    >>> history = agent.fit(env, episodes=2000)
    >>> success = evaluate(env, agent.greedy, episodes=100, seed=1).mean()
    """

    def __init__(self, n_states: int, n_actions: int, lr: float = 0.1, gamma: float = 0.99,
                 epsilon: EpsilonSchedule | None = None, lr_end: float | None = None, seed: int | None = None,
                 state_offset: int | tuple[int, ...] = 0, action_offset: int = 0,
                 state_dims: tuple[int, ...] | None = None) -> None:
        if n_states < 1 or n_actions < 1:
            raise ValueError(f"QLearning: needs at least one state and one action, received {n_states} x {n_actions}")
        if not 0.0 < lr <= 1.0 or (lr_end is not None and not 0.0 < lr_end <= lr):
            raise ValueError(f"QLearning: lr must lie in (0, 1] and lr_end in (0, lr], received lr={lr}, "
                             f"lr_end={lr_end}")
        if not 0.0 <= gamma <= 1.0:
            raise ValueError(f"QLearning: gamma must lie in [0, 1], received {gamma}")
        self.q = np.zeros((n_states, n_actions))
        self.lr, self.lr_end, self.gamma = lr, lr_end, gamma
        self.epsilon = epsilon or EpsilonSchedule(1.0, 0.05, 1000)
        self.state_offset, self.action_offset = state_offset, action_offset
        self.state_dims = None if state_dims is None else tuple(state_dims)
        if self.state_dims is not None and int(np.prod(self.state_dims)) != n_states:
            raise ValueError(f"QLearning: state_dims {self.state_dims} number {int(np.prod(self.state_dims))} "
                             f"states, n_states is {n_states}")
        self.rng = np.random.default_rng(seed)
        self.episodes = self.steps = 0

    @classmethod
    def for_env(cls, env, **kwargs) -> QLearning:
        """An agent sized from ``env``'s Discrete observation and action spaces."""
        name = getattr(getattr(env, "spec", None), "id", "") or ""
        n_states, s0, dims = discrete_states(env.observation_space, name)
        n_actions, a0 = discrete_size(env.action_space, "action", name)
        return cls(n_states, n_actions, state_offset=s0, action_offset=a0, state_dims=dims, **kwargs)

    def state(self, observation) -> int:
        """The row of the Q-table for an observation (a tuple is numbered row-major)."""
        if self.state_dims is None:
            return int(observation) - self.state_offset
        return int(np.ravel_multi_index([int(o) - s for o, s in zip(observation, self.state_offset)],
                                        self.state_dims))

    def learning_rate(self, episode: int) -> float:
        if self.lr_end is None:
            return self.lr
        return self.lr_end + (self.lr - self.lr_end) * max(0.0, 1.0 - episode / self.epsilon.decay)

    def act(self, observation, epsilon: float) -> int:
        """Epsilon-greedy: a uniform random action with probability ``epsilon``; otherwise the
        best action, ties broken at random (an all-zero row must not always pick action 0)."""
        return self._act(self.state(observation), epsilon)

    def _act(self, state: int, epsilon: float) -> int:
        if self.rng.random() < epsilon:
            return int(self.rng.integers(self.q.shape[1])) + self.action_offset
        row = self.q[state]
        best = np.flatnonzero(row == row.max())
        return int(best[0] if len(best) == 1 else self.rng.choice(best)) + self.action_offset

    def greedy(self, observation) -> int:
        """The action of the greedy policy (first best action on ties: deterministic)."""
        return int(self.q[self.state(observation)].argmax()) + self.action_offset

    def fit(self, env, episodes: int, seed: int | None = None, progress=None) -> History:
        """Play and learn from ``episodes`` episodes; ``seed`` seeds the first reset.

        ``progress``: a :class:`profondo.train.progress.ProgressBar` over episodes (or None).
        """
        history = History()
        a0, q = self.action_offset, self.q
        for i in range(episodes):
            obs, _ = env.reset(seed=seed if i == 0 else None)
            state = self.state(obs)
            epsilon, lr = self.epsilon(self.episodes), self.learning_rate(self.episodes)
            total, length, done = 0.0, 0, False
            while not done:
                action = self._act(state, epsilon)
                obs, reward, terminated, truncated, _ = env.step(action)
                next_state = self.state(obs)
                q_update(q, state, action - a0, float(reward), next_state, terminated, lr, self.gamma)
                state, total, length = next_state, total + float(reward), length + 1
                done = terminated or truncated
            self.episodes += 1
            self.steps += length
            history.add_episode(total, length, self.steps)
            if progress is not None:
                progress.update(1, samples=length, step=self.steps, return100=history.mean_return(100),
                                epsilon=epsilon)
        return history

    def save(self, path: str | os.PathLike, **meta) -> Path:
        """Write the Q-table and the hyperparameters (plus ``meta``) as a checkpoint."""
        info = {"algorithm": "q-learning", "lr": self.lr, "lr_end": self.lr_end, "gamma": self.gamma,
                "epsilon": vars(self.epsilon), "episodes": self.episodes, "steps": self.steps,
                "state_offset": self.state_offset, "action_offset": self.action_offset,
                "state_dims": self.state_dims, **meta}
        return write_checkpoint(path, Checkpoint({"q": {"table": self.q}}, info))

    @classmethod
    def load(cls, path: str | os.PathLike) -> QLearning:
        """An agent with the Q-table and hyperparameters of a checkpoint written by :meth:`save`."""
        ckpt = read_checkpoint(path)
        if ckpt.meta.get("algorithm") != "q-learning" or "table" not in ckpt.group("q"):
            raise ValueError(f"{path} is not a Q-learning checkpoint (algorithm: {ckpt.meta.get('algorithm')!r})")
        m, table = ckpt.meta, ckpt.group("q")["table"]
        agent = cls(*table.shape, lr=m["lr"], gamma=m["gamma"], epsilon=EpsilonSchedule(**m["epsilon"]),
                    lr_end=m.get("lr_end"), action_offset=m.get("action_offset", 0), state_dims=m.get("state_dims"),
                    state_offset=m["state_offset"] if m.get("state_dims") is None else tuple(m["state_offset"]))
        agent.q[...] = table
        agent.episodes, agent.steps = m.get("episodes", 0), m.get("steps", 0)
        return agent
