"""Environments: gymnasium (an optional extra), greedy evaluation, seeding.

gymnasium is imported only when an environment is made, so ``import profondo.rl`` works
without it; every entry point that needs it calls :func:`require_gymnasium`, whose error
says how to install it.
"""

from __future__ import annotations

import ast
from collections.abc import Callable

import numpy as np

from ..backend.limits import short_repr

INSTALL_HINT = "pip install 'gymnasium==1.4.0'"


def require_gymnasium():
    """The gymnasium module, or an ImportError that says how to install it."""
    try:
        import gymnasium
    except ImportError:
        raise ImportError("profondo.rl needs gymnasium for its environments; install it with: "
                          f"{INSTALL_HINT}") from None
    return gymnasium


def make_env(name: str, render_mode: str | None = None, **kwargs):
    """``gymnasium.make(name, **kwargs)`` for an id registered with gymnasium, with an error that lists
    close names when ``name`` is unknown.

    Only registered ids are made: gymnasium reads ``module:Env`` as "import this module first", and
    ids come from files too (a checkpoint records its environment), so an id with a ``module:``
    part, or one not in ``gymnasium.registry``, is refused without importing anything. Register a
    custom environment with ``gymnasium.register`` before calling this.

    >>> env = make_env("FrozenLake-v1", is_slippery=True)
    """
    gym = require_gymnasium()
    if isinstance(name, str) and ":" not in name and name not in gym.registry:
        _register_optional(gym, name)
    if not isinstance(name, str) or ":" in name or name not in gym.registry:
        text = name if isinstance(name, str) else ""
        stem = text.split(":")[-1].split("-")[0].lower()
        close = [k for k in gym.registry if stem and stem in k.lower()][:8]
        hint = f" (similar: {', '.join(close)})" if close else ""
        why = ("an id with a 'module:' part would import that module; " if ":" in text else "")
        raise ValueError(f"could not make environment {short_repr(name)}: {why}expected an id registered with gymnasium, "
                         f"e.g. CartPole-v1{hint}")
    try:
        return gym.make(name, render_mode=render_mode, **kwargs)
    except gym.error.Error as e:
        raise ValueError(f"gymnasium could not make environment {name!r}: {e}") from None


def _register_optional(gym, name: str) -> None:
    """Register the Atari (``ALE/``, ale-py) or MinAtar (``MinAtar/``, minatar) environments on their
    first use: these two known packages, never a module named by the id."""
    try:
        if name.startswith("ALE/"):
            import ale_py

            gym.register_envs(ale_py)
        elif name.startswith("MinAtar/"):
            from minatar.gym import register_envs

            register_envs()
    except ImportError:
        package = "ale-py" if name.startswith("ALE/") else "minatar"
        raise ImportError(f"{name} needs the optional package {package}: pip install {package}") from None


def parse_env_args(items: list[str] | None) -> dict:
    """``["is_slippery=False", "map_name=8x8"]`` -> ``{"is_slippery": False, "map_name": "8x8"}``."""
    kwargs = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"environment argument {item!r}: expected KEY=VALUE, e.g. is_slippery=False")
        try:
            kwargs[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            kwargs[key] = value  # a plain string such as map_name=8x8
    return kwargs


def discrete_size(space, what: str, env_name: str = "") -> tuple[int, int]:
    """``(n, start)`` of a gymnasium ``Discrete`` space, or a ValueError naming the space received."""
    n = getattr(space, "n", None)
    if n is None or getattr(space, "shape", None) != ():
        where = f"{env_name}: " if env_name else ""
        raise ValueError(f"{where}tabular Q-learning needs a Discrete {what} space, received {space}"
                         + ("; use `profondo rl dqn` for continuous observations" if what == "observation" else ""))
    return int(n), int(getattr(space, "start", 0))


def discrete_states(space, env_name: str = "") -> tuple[int, int | tuple[int, ...], tuple[int, ...] | None]:
    """``(n_states, start, dims)`` of a Discrete observation space, or of a Tuple of Discrete
    spaces (Blackjack's), whose observations are numbered row-major over ``dims``."""
    parts = getattr(space, "spaces", None)
    if not isinstance(parts, tuple) or not parts:
        n, start = discrete_size(space, "observation", env_name)
        return n, start, None
    try:
        sizes = [discrete_size(part, "observation", env_name) for part in parts]
    except ValueError:
        raise ValueError(f"{env_name + ': ' if env_name else ''}tabular Q-learning needs Discrete observations "
                         f"(or a Tuple of Discrete), received {space}") from None
    dims = tuple(n for n, _ in sizes)
    return int(np.prod(dims)), tuple(s for _, s in sizes), dims


def evaluate(env, policy: Callable[[object], int], episodes: int, seed: int | None = None) -> np.ndarray:
    """Returns of ``episodes`` episodes played with ``policy(observation) -> action``.

    The first reset is seeded, so the same seed replays the same episodes.

    >>> returns = evaluate(make_env("FrozenLake-v1"), lambda obs: 2, episodes=10, seed=0)
    """
    returns = np.zeros(episodes)
    for i in range(episodes):
        obs, _ = env.reset(seed=seed if i == 0 else None)
        done, total = False, 0.0
        while not done:
            obs, reward, terminated, truncated, _ = env.step(policy(obs))
            total += float(reward)
            done = terminated or truncated
        returns[i] = total
    return returns
