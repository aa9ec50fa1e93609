"""Deep Q-learning: a Q-network, experience replay, a target network, Huber loss, Double DQN, n-step returns.

Per environment step the agent runs at most one batched forward for the greedy action (none
when it explores) and, every ``train_every`` steps, ``gradient_steps`` updates, each a forward
of the target network under ``no_grad`` and one forward/backward of the online network on a
batch, through :class:`~profondo.train.step.TrainStep`.
"""

from __future__ import annotations

import copy
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from .. import functional as F
from ..autograd import no_grad
from ..io.checkpoint import Checkpoint, read_checkpoint, write_checkpoint
from ..optim import Adam
from ..tensor import Tensor
from ..train.step import TrainStep
from .env import evaluate
from .history import History
from .replay import ReplayBuffer
from .schedule import EpsilonSchedule

EVAL_SEED_OFFSET = 1_000_000  # evaluations during training replay the same seeded episodes
# DQNConfig fields added after checkpoints were first written, with the value that reproduces
# how those earlier runs trained (before lr_hold, the learning rate fell from the first step;
# before n_step, transitions spanned one step)
CONFIG_BEFORE_FIELD = {"lr_hold": 0.0, "n_step": 1}


@dataclass
class DQNConfig:
    """Hyperparameters of :class:`DQN`.

    The target network moves towards the online one every ``target_update`` environment
    steps by ``target <- tau * online + (1 - tau) * target``: ``tau=1`` is the classic hard
    copy every N steps, a small ``tau`` with ``target_update=1`` a soft (Polyak) update.
    With ``n_step`` > 1 every stored transition spans n steps: the discounted sum of their
    rewards, bootstrapped from the observation n steps on (fewer at an episode's end).
    ``epsilon`` is indexed by environment steps; ``max_grad_norm`` is read once, when the agent
    is built. With ``lr_end`` the learning rate falls linearly from ``lr`` to ``lr_end`` over
    ``lr_decay`` environment steps (None: over the ``total_steps`` of :meth:`DQN.fit`, so a
    resumed run must be given the same total), then stays there; ``lr_hold`` is the fraction of
    that span spent at ``lr`` before the fall begins (0: it falls from the first step).

    The defaults are those of ``profondo rl dqn``, chosen by measurement on CartPole-v1 (the
    README's ablations, each chosen on seeds 3-7 and checked on 0-2): the rl-baselines3-zoo recipe
    (``gradient_steps=128`` updates every ``train_every=256`` steps against a target copied every
    10 steps, lr 2.3e-3, epsilon 1 -> 0.04 over 8,000 steps) with two changes. The learning rate
    is held for the first half of the run, then decays linearly to 0 (a constant rate collapses
    at the end of some runs, a decay from the first step is slow to reach 475). Transitions span
    2 steps (``n_step=2``): reward reaches the early states in half the updates (median steps to
    475 on seeds 3-7: 17,500 against 27,500 with 1-step Double DQN targets). Double DQN targets
    gained nothing once the returns span 2 steps and cost a forward pass per update
    (``double=False``).
    """

    lr: float = 2.3e-3
    lr_end: float | None = 0.0
    lr_decay: int | None = None
    lr_hold: float = 0.5
    gamma: float = 0.99
    n_step: int = 2
    batch_size: int = 64
    buffer_size: int = 100_000
    learning_starts: int = 1_000
    train_every: int = 256
    gradient_steps: int = 128
    target_update: int = 10
    tau: float = 1.0
    double: bool = False
    huber_delta: float = 1.0
    max_grad_norm: float | None = 10.0
    epsilon: EpsilonSchedule = field(default_factory=lambda: EpsilonSchedule(1.0, 0.04, 8_000))

    def __post_init__(self) -> None:
        if isinstance(self.epsilon, dict):
            self.epsilon = EpsilonSchedule(**self.epsilon)
        checks = {"lr": self.lr > 0, "lr_end": self.lr_end is None or self.lr_end >= 0,
                  "lr_decay": self.lr_decay is None or self.lr_decay >= 1,
                  "lr_hold": 0 <= self.lr_hold < 1, "gamma": 0 <= self.gamma <= 1, "n_step": self.n_step >= 1, "batch_size": self.batch_size >= 1,
                  "buffer_size": self.buffer_size >= self.batch_size, "learning_starts": self.learning_starts >= 0,
                  "train_every": self.train_every >= 1,
                  "gradient_steps": self.gradient_steps >= 1, "target_update": self.target_update >= 1,
                  "tau": 0 < self.tau <= 1, "huber_delta": self.huber_delta > 0,
                  "max_grad_norm": self.max_grad_norm is None or self.max_grad_norm > 0}
        expected = {"lr": "> 0", "lr_end": ">= 0 or None", "lr_decay": ">= 1 or None", "lr_hold": "in [0, 1)", "gamma": "in [0, 1]", "n_step": ">= 1", "batch_size": ">= 1", "buffer_size": ">= batch_size",
                    "learning_starts": ">= 0", "train_every": ">= 1", "gradient_steps": ">= 1",
                    "target_update": ">= 1", "tau": "in (0, 1]",
                    "huber_delta": "> 0", "max_grad_norm": "> 0 or None"}
        for name, ok in checks.items():
            if not ok:
                raise ValueError(f"DQNConfig: {name} must be {expected[name]}, received {getattr(self, name)!r}")

    def to_dict(self) -> dict:
        return asdict(self)


class DQN:
    """A deep Q-learning agent around ``network`` (observations -> one Q-value per action).

    >>> net = profondo.architecture.load("src/profondo/rl/networks/cartpole.yaml")
    >>> agent = DQN(net, n_actions=2, obs_shape=(4,), config=DQNConfig(), seed=0)
    >>> history = agent.fit(make_env("CartPole-v1"), total_steps=50_000, seed=0)
    >>> returns = evaluate(make_env("CartPole-v1"), agent.greedy, episodes=100, seed=1)
    """

    def __init__(self, network, n_actions: int, obs_shape: tuple[int, ...], obs_dtype=np.float32,
                 config: DQNConfig | None = None, seed: int | None = None, architecture: dict | None = None) -> None:
        self.config = config = config or DQNConfig()
        self.online, self.n_actions = network, int(n_actions)
        self.architecture = architecture
        self.target = copy.deepcopy(network)
        self.target.requires_grad_(False)
        self.optimizer = Adam(network.parameters(), lr=config.lr)
        self.buffer = ReplayBuffer(config.buffer_size, obs_shape, obs_dtype)
        # uint8 frames are stored as such and scaled to [0, 1] only for the network
        self.scale = np.float32(1 / 255) if np.dtype(obs_dtype) == np.uint8 else None
        self.rng = np.random.default_rng(seed)
        self.steps = self.updates = self.episodes = 0
        self.window: list[tuple] = []  # the episode's last (obs, action, reward) not yet stored
        self.best_state = None  # the online weights of the best evaluation during fit
        self.run_info: dict = {}  # stored in every checkpoint's metadata (environment id, ...)
        self._rows = np.arange(config.batch_size)
        # the update: the TD loss of the online network, clipped to config.max_grad_norm
        self.gradient_step = TrainStep(network, self.optimizer, self.td_loss, max_grad_norm=config.max_grad_norm)
        self._check_output(obs_shape)

    def _check_output(self, obs_shape) -> None:
        with no_grad():
            out = self.online(Tensor(self._input(np.zeros((1, *obs_shape), self.buffer.obs.dtype))))
        if out.shape != (1, self.n_actions):
            raise ValueError(f"DQN: the Q-network maps an observation of shape {tuple(obs_shape)} to "
                             f"{tuple(out.shape[1:])}; expected ({self.n_actions},): one Q-value per action "
                             f"(set the last layer's units to {self.n_actions})")

    def _input(self, obs: np.ndarray) -> np.ndarray:
        return obs * self.scale if self.scale is not None else np.asarray(obs, np.float32)

    # --- acting -------------------------------------------------------------------------------
    def q_values(self, obs: np.ndarray) -> np.ndarray:
        """Q-values of a batch of observations, (N, n_actions), without recording a graph."""
        with no_grad():
            return self.online(Tensor(self._input(np.asarray(obs)))).data

    def greedy(self, observation) -> int:
        """The action with the highest Q-value for one observation."""
        return int(self.q_values(np.asarray(observation)[None])[0].argmax())

    def act(self, observation, epsilon: float) -> int:
        """Epsilon-greedy; the network runs only when the agent does not explore."""
        if self.rng.random() < epsilon:
            return int(self.rng.integers(self.n_actions))
        return self.greedy(observation)

    # --- learning -------------------------------------------------------------------------------
    def observe(self, obs, action: int, reward: float, next_obs, terminated: bool,
                truncated: bool = False) -> float | None:
        """Store a transition, count the step, train and move the target network when due.

        Every ``train_every`` steps ``gradient_steps`` updates run in a row (the target network
        stays put meanwhile). With ``n_step`` > 1 a step is stored once it starts a span of n
        steps (the n - 1 after it observed too), or at the episode's end (``terminated`` or
        ``truncated``). Returns the last update's loss when one ran, else None.
        """
        c = self.config
        self._store_n_step(obs, action, reward, next_obs, terminated, terminated or truncated)
        self.steps += 1
        loss = None
        if self.steps >= c.learning_starts and len(self.buffer) >= c.batch_size and self.steps % c.train_every == 0:
            for _ in range(c.gradient_steps):
                loss = self.train_step()
        if self.steps % c.target_update == 0:
            self.update_target()
        return loss

    def _store_n_step(self, obs, action: int, reward: float, next_obs, terminated: bool, ended: bool) -> None:
        """Add the window's oldest step as an n-step transition once the window holds n steps; at
        an episode's end, every step left, each bootstrapped from the last observation (with
        ``n_step=1`` every step is stored at once, as it came)."""
        self.window.append((obs, action, reward))
        gamma = self.config.gamma
        while len(self.window) == self.config.n_step or (ended and self.window):
            ret = sum(r * gamma ** k for k, (_, _, r) in enumerate(self.window))
            first_obs, first_action, _ = self.window.pop(0)
            self.buffer.add(first_obs, first_action, ret, next_obs, terminated, horizon=len(self.window) + 1)

    def learning_rate(self, step: int, total_steps: int | None = None) -> float:
        """The learning rate at environment step ``step`` (see :class:`DQNConfig`)."""
        c = self.config
        span = c.lr_decay or total_steps
        if c.lr_end is None or not span:
            return c.lr
        hold = c.lr_hold * span
        return c.lr_end + (c.lr - c.lr_end) * min(1.0, max(0.0, 1.0 - (step - hold) / (span - hold)))

    def td_targets(self, rewards: np.ndarray, next_obs: np.ndarray, terminated: np.ndarray,
                   horizons: np.ndarray | None = None) -> np.ndarray:
        """``r + gamma ** h * (1 - terminated) * Q_target(s', a*)`` with ``a* = argmax_a Q_target(s', a)``,
        or ``argmax_a Q_online(s', a)`` for Double DQN; ``h``: the transitions' horizons (1 if None)."""
        with no_grad():
            next_in = Tensor(self._input(next_obs))
            q_next = self.target(next_in).data
            if self.config.double:
                best = self.online(next_in).data.argmax(axis=1)
                q_best = q_next[np.arange(len(best)), best]
            else:
                q_best = q_next.max(axis=1)
        gamma = np.float32(self.config.gamma)
        discount = gamma if horizons is None else gamma ** horizons.astype(np.float32)
        return (rewards + discount * (1.0 - terminated) * q_best).astype(np.float32)

    def train_step(self) -> float:
        """One gradient step on a sampled batch (Huber loss on the taken actions' Q-values),
        through :attr:`gradient_step`, a :class:`~profondo.train.step.TrainStep`."""
        c = self.config
        batch = self.buffer.sample(c.batch_size, self.rng)
        targets = self.td_targets(batch.rewards, batch.next_obs, batch.terminated, batch.horizons)
        loss = self.gradient_step(Tensor(self._input(batch.obs)), target=(batch.actions, targets)).loss
        self.updates += 1
        return float(loss.data)

    def td_loss(self, q_values: Tensor, target: tuple[np.ndarray, np.ndarray]) -> Tensor:
        """Huber loss between the Q-values of the taken actions and their TD targets;
        ``target`` is ``(actions, td_targets)``."""
        actions, td_targets = target
        q = q_values[self._rows, actions]
        return F.huber_loss(q, Tensor(td_targets), delta=self.config.huber_delta)

    def update_target(self) -> None:
        """``target <- tau * online + (1 - tau) * target`` in place (a copy when tau == 1)."""
        tau = self.config.tau
        pairs = zip((*self.target.parameters(), *self.target.buffers()),
                    (*self.online.parameters(), *self.online.buffers()))
        for t, o in pairs:
            if tau == 1.0 or t.data.dtype.kind != "f":
                t.data[...] = o.data
            else:
                t.data *= 1.0 - tau
                t.data += tau * o.data

    def fit(self, env, total_steps: int, seed: int | None = None, progress=None, eval_env=None,
            eval_every: int = 0, eval_episodes: int = 10, stop_return: float | None = None,
            checkpoint: str | os.PathLike | None = None, checkpoint_every: int = 10_000,
            history: History | None = None) -> History:
        """Play until ``self.steps`` reaches ``total_steps`` (so a resumed agent continues).

        Every ``eval_every`` steps (0: never) the greedy policy plays ``eval_episodes`` episodes
        on ``eval_env``; the best weights so far are kept in :attr:`best_state` and, with
        ``checkpoint``, in ``best.ckpt`` beside it. Training stops early once an evaluation
        reaches ``stop_return``. With ``checkpoint`` the full training state is written there
        at the first episode end after every ``checkpoint_every`` steps and at the end.
        ``progress``: a :class:`~profondo.train.progress.ProgressBar` over steps (or None).
        """
        if eval_every and eval_env is None:
            raise ValueError(f"DQN.fit: eval_every={eval_every} needs an eval_env to play the evaluations on")
        history = history if history is not None else History()
        best = max((e[1] for e in history.evaluations), default=-np.inf)
        next_eval = (self.steps // eval_every + 1) * eval_every if eval_every else None
        next_save = self.steps + checkpoint_every
        # every episode is seeded (seed + its index), so a resumed run replays the same episodes
        obs, _ = env.reset(seed=None if seed is None else seed + self.episodes)
        self.window.clear()  # a new episode (a run cut inside one resumes with a new one)
        episode_return, length, mean100, stop = 0.0, 0, history.mean_return(100), False
        while self.steps < total_steps and not stop:
            epsilon = self.config.epsilon(self.steps)
            if self.config.lr_end is not None:
                for group in self.optimizer.param_groups:
                    group["lr"] = self.learning_rate(self.steps, total_steps)
            action = self.act(obs, epsilon)
            next_obs, reward, terminated, truncated, _ = env.step(action)
            self.observe(obs, action, float(reward), next_obs, terminated, truncated)
            obs, episode_return, length = next_obs, episode_return + float(reward), length + 1
            ended = terminated or truncated
            if ended:
                self.episodes += 1
                history.add_episode(episode_return, length, self.steps)
                episode_return, length, mean100 = 0.0, 0, history.mean_return(100)
                obs, _ = env.reset(seed=None if seed is None else seed + self.episodes)
            if next_eval is not None and self.steps >= next_eval:
                next_eval += eval_every
                eval_seed = None if seed is None else seed + EVAL_SEED_OFFSET
                returns = evaluate(eval_env, self.greedy, eval_episodes, seed=eval_seed)
                history.evaluations.append((self.steps, float(returns.mean()), float(returns.std())))
                if returns.mean() >= best:
                    best, self.best_state = returns.mean(), self.online.state_arrays()
                    if checkpoint is not None:
                        self.save(Path(checkpoint).with_name("best.ckpt"), history, replay=False)
                stop = stop_return is not None and returns.mean() >= stop_return
            if ended and checkpoint is not None and self.steps >= next_save:
                self.save(checkpoint, history)
                next_save = self.steps + checkpoint_every
            if progress is not None:
                progress.update(1, samples=1, episode=self.episodes, return100=mean100, epsilon=epsilon)
        if checkpoint is not None:
            # a run cut inside an episode resumes with a new episode
            self.save(checkpoint, history)
        return history

    # --- checkpoints ----------------------------------------------------------------------------
    def save(self, path: str | os.PathLike, history: History | None = None, replay: bool = True, **meta) -> Path:
        """Everything needed to resume: both networks, Adam's state, the replay buffer (unless
        ``replay=False``), the counters, the RNG state and the history (atomic write)."""
        opt = self.optimizer.state_dict()
        opt_arrays = {f"{i}/{k}": v for i, st in opt["state"].items() for k, v in st.items() if hasattr(v, "shape")}
        opt_steps = {str(i): st["step"] for i, st in opt["state"].items()}
        arrays = {"model": dict(self.online.state_arrays()), "target": dict(self.target.state_arrays()),
                  "optimizer": opt_arrays}
        if replay:
            arrays["replay"] = self.buffer.state_dict()
        info = {"algorithm": "dqn", "config": self.config.to_dict(), "n_actions": self.n_actions,
                "obs_shape": list(self.buffer.obs_shape), "obs_dtype": str(self.buffer.obs.dtype),
                "steps": self.steps, "updates": self.updates, "episodes": self.episodes,
                "rng": self.rng.bit_generator.state, "optimizer_steps": opt_steps,
                "optimizer_groups": opt["param_groups"], "architecture": self.architecture,
                "history": history.to_dict() if history is not None else None, **self.run_info, **meta}
        return write_checkpoint(path, Checkpoint(arrays, info))

    def load(self, path: str | os.PathLike) -> History:
        """Restore a state written by :meth:`save` into this agent; returns the saved history."""
        ckpt = read_checkpoint(path)
        m = ckpt.meta
        if m.get("algorithm") != "dqn":
            raise ValueError(f"{path} is not a DQN checkpoint (algorithm: {m.get('algorithm')!r})")
        if tuple(m["obs_shape"]) != self.buffer.obs_shape or m["n_actions"] != self.n_actions:
            raise ValueError(f"{path}: the file's agent sees observations {tuple(m['obs_shape'])} with "
                             f"{m['n_actions']} actions, this one {self.buffer.obs_shape} with {self.n_actions}")
        self._check_config(path, m.get("config") or {})
        self.online.load_state_dict(ckpt.group("model"))
        self.target.load_state_dict(ckpt.group("target"))
        state: dict[int, dict] = {int(i): {"step": s} for i, s in m["optimizer_steps"].items()}
        for key, array in ckpt.group("optimizer").items():
            i, _, name = key.partition("/")
            state[int(i)][name] = array
        self.optimizer.load_state_dict({"state": state, "param_groups": m["optimizer_groups"]})
        if "obs" in ckpt.group("replay"):
            self.buffer.load_state_dict(ckpt.group("replay"))
        self.steps, self.updates, self.episodes = m["steps"], m["updates"], m["episodes"]
        self.rng.bit_generator.state = m["rng"]
        return History.from_dict(m.get("history") or {})

    def _check_config(self, path, saved: dict) -> None:
        """A resumed run goes on as it began: a changed hyperparameter (a new default, a flag left
        out) would silently make it another run, so every difference is an error."""
        mine = self.config.to_dict()
        unknown = sorted(set(saved) - set(mine))
        if unknown:
            raise ValueError(f"{path}: its DQN settings {unknown} are unknown to this version of profondo")
        saved = DQNConfig(**{**CONFIG_BEFORE_FIELD, **saved}).to_dict()
        changed = [name for name in mine if saved[name] != mine[name]]
        if changed:
            raise ValueError(f"{path} was trained with " + ", ".join(f"{n}={saved[n]!r}" for n in changed)
                             + "; this agent has " + ", ".join(f"{n}={mine[n]!r}" for n in changed)
                             + ": resume with the run's own settings")
