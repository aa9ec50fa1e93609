"""Tabular Q-learning on FrozenLake (slippery 4x4) and Taxi, with the Python API.

    PYTHONPATH=src python examples/rl_frozenlake.py            # about 20 s each on one core

The same runs from the command line: ``profondo rl q-learning FrozenLake-v1`` and
``profondo rl q-learning Taxi-v4``. Needs gymnasium (pip install 'gymnasium==1.4.0').
"""

from __future__ import annotations

import time

import numpy as np

from profondo.rl import EpsilonSchedule, QLearning, evaluate, make_env


def main() -> None:
    for name in ("FrozenLake-v1", "Taxi-v4"):
        env, eval_env = make_env(name), make_env(name)
        agent = QLearning.for_env(env, lr=0.1, gamma=0.99, epsilon=EpsilonSchedule(1.0, 0.01, 10_000), seed=0)
        started = time.perf_counter()
        history = agent.fit(env, episodes=20_000, seed=0)
        seconds = time.perf_counter() - started
        returns = evaluate(eval_env, agent.greedy, episodes=1000, seed=1)
        print(f"{name}: {history.steps[-1]} steps in {seconds:.1f} s; greedy policy over 1000 episodes: "
              f"mean return {returns.mean():.3f}")
        if name == "FrozenLake-v1":
            arrows = np.array(list("<v>^"))[agent.q.argmax(axis=1)].reshape(4, 4)
            print("greedy policy (S at top left, G at bottom right):")
            print("\n".join(" ".join(row) for row in arrows))


if __name__ == "__main__":
    main()
