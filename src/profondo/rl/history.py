"""What a run records per episode, and its learning curve (episode return against steps)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


@dataclass
class History:
    """Per-episode return, length and the environment step at which the episode ended,
    plus greedy evaluations as ``(step, mean return, std)``.

    >>> h = History()
    >>> h.add_episode(10.0, 10, 10); h.add_episode(20.0, 20, 30)
    >>> h.mean_return(100)
    15.0
    """

    returns: list[float] = field(default_factory=list)
    lengths: list[int] = field(default_factory=list)
    steps: list[int] = field(default_factory=list)
    evaluations: list[tuple[int, float, float]] = field(default_factory=list)

    def add_episode(self, episode_return: float, length: int, step: int) -> None:
        self.returns.append(float(episode_return))
        self.lengths.append(int(length))
        self.steps.append(int(step))

    def mean_return(self, last: int = 100) -> float:
        """Mean return of the last ``last`` episodes (0.0 before the first one ends)."""
        tail = self.returns[-last:]
        return float(np.mean(tail)) if tail else 0.0

    def to_dict(self) -> dict:
        return {"returns": self.returns, "lengths": self.lengths, "steps": self.steps,
                "evaluations": [list(e) for e in self.evaluations]}

    @classmethod
    def from_dict(cls, d: dict) -> History:
        return cls(list(d.get("returns", [])), list(d.get("lengths", [])), list(d.get("steps", [])),
                   [tuple(e) for e in d.get("evaluations", [])])


def plot_learning_curve(history: History, path: str | os.PathLike, title: str = "", window: int = 100,
                        levels: dict[str, float] | None = None) -> Path:
    """Episode returns against environment steps, their moving mean over ``window`` episodes
    and the greedy evaluations, as a PNG (needs matplotlib). ``levels``: labelled horizontal
    lines (a random policy's return, a published result)."""
    from ..train.plots import figure, save

    steps, returns = np.asarray(history.steps), np.asarray(history.returns)
    fig = figure((8, 4.5))
    ax = fig.subplots()
    if len(returns):
        ax.plot(steps, returns, ".", ms=2, alpha=0.35, color="tab:blue", label="episode return")
        cumulative = np.concatenate([[0.0], np.cumsum(returns)])
        k = np.arange(1, len(returns) + 1)
        start = np.maximum(k - window, 0)
        ax.plot(steps, (cumulative[k] - cumulative[start]) / (k - start), color="tab:blue",
                label=f"mean of last {window} episodes")
    if history.evaluations:
        ev = np.asarray(history.evaluations, dtype=float)
        ax.errorbar(ev[:, 0], ev[:, 1], yerr=ev[:, 2], fmt="o-", color="tab:orange", ms=4, capsize=2,
                    label="greedy evaluation")
    for (label, value), style in zip((levels or {}).items(), ("--", ":", "-.", "--")):
        ax.axhline(value, color="gray", ls=style, lw=1, label=label)
    ax.set_xlabel("environment steps")
    ax.set_ylabel("episode return")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(loc="best")
    fig.tight_layout()
    return save(fig, path)


def play_frames(env, policy, seed: int | None = None, max_steps: int = 10_000) -> tuple[list[np.ndarray], float]:
    """One episode of ``policy(observation) -> action`` on ``env`` (made with
    ``render_mode="rgb_array"``): the rendered frames (the first before any action) and the return."""
    obs, _ = env.reset(seed=seed)
    frames, total = [np.asarray(env.render())], 0.0
    for _ in range(max_steps):
        obs, reward, terminated, truncated, _ = env.step(policy(obs))
        frames.append(np.asarray(env.render()))
        total += float(reward)
        if terminated or truncated:
            break
    return frames, total


def plot_frame_strip(frames: list[np.ndarray], path: str | os.PathLike, title: str = "", count: int = 8) -> Path:
    """``count`` frames evenly spaced over an episode, side by side, as a PNG (needs matplotlib)."""
    from ..train.plots import figure, save

    if not frames:
        raise ValueError("plot_frame_strip: no frames to draw")
    picks = np.unique(np.linspace(0, len(frames) - 1, min(count, len(frames))).round().astype(int))
    fig = figure((2.0 * len(picks), 2.4))
    axes = np.atleast_1d(fig.subplots(1, len(picks)))
    for ax, i in zip(axes, picks):
        frame = np.asarray(frames[i])
        ax.imshow(frame, interpolation="nearest", cmap="gray" if frame.ndim == 2 else None)
        ax.set_title(f"step {i}", fontsize=8)
        ax.axis("off")
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return save(fig, path)
