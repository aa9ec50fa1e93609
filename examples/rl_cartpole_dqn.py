"""Deep Q-learning on CartPole-v1 with the Python API: the Q-network from its architecture
file, Double DQN, greedy evaluations every 5,000 steps keeping the best weights.

    PYTHONPATH=src OPENBLAS_NUM_THREADS=1 python examples/rl_cartpole_dqn.py

The command-line equivalent (which also writes checkpoints and the learning curve) is
``profondo rl dqn CartPole-v1``. Needs gymnasium (pip install 'gymnasium==1.4.0').
"""

from __future__ import annotations

import time
from pathlib import Path

import profondo
from profondo import architecture, rl
from profondo.rl import DQN, DQNConfig, EpsilonSchedule, evaluate, make_env
from profondo.train.progress import ProgressBar


def main(steps: int = 100_000, seed: int = 0) -> None:
    profondo.manual_seed(seed)  # the initial weights
    net = architecture.load(Path(rl.__file__).with_name("networks") / "cartpole.yaml")
    config = DQNConfig(lr=1e-3, gamma=0.99, batch_size=64, buffer_size=50_000, learning_starts=1_000,
                       target_update=500, double=True, epsilon=EpsilonSchedule(1.0, 0.05, 10_000))
    agent = DQN(net, n_actions=2, obs_shape=(4,), config=config, seed=seed)
    env, eval_env = make_env("CartPole-v1"), make_env("CartPole-v1")
    bar = ProgressBar(steps, "dqn CartPole-v1")
    started = time.perf_counter()
    history = agent.fit(env, steps, seed=seed, progress=bar, eval_env=eval_env, eval_every=5_000, eval_episodes=20)
    bar.close()
    if agent.best_state is not None:  # the weights of the best evaluation
        net.load_state_dict(agent.best_state)
    returns = evaluate(eval_env, agent.greedy, episodes=100, seed=seed + 2_000_000)
    print(f"{(time.perf_counter() - started) / 60:.1f} min; best weights over 100 episodes: mean return "
          f"{returns.mean():.1f} (evaluations during training: {[round(e[1]) for e in history.evaluations]})")
    rl.plot_learning_curve(history, "cartpole_dqn.png", "DQN on CartPole-v1")


if __name__ == "__main__":
    main()
