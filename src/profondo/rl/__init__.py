"""Reinforcement learning: tabular Q-learning and deep Q-learning on gymnasium environments.

gymnasium (``pip install 'gymnasium==1.4.0'``) is an optional extra, imported only when an
environment is made. The agents work with any object that has gymnasium's ``reset``/``step``
interface and ``observation_space``/``action_space``.

>>> from profondo.rl import QLearning, evaluate, make_env
>>> env = make_env("FrozenLake-v1")
>>> agent = QLearning.for_env(env, lr=0.1, gamma=0.99, seed=0)
>>> agent.fit(env, episodes=20_000, seed=0)
>>> evaluate(env, agent.greedy, episodes=1000, seed=1).mean()      # success rate
"""

from .dqn import DQN, DQNConfig
from .env import INSTALL_HINT, evaluate, make_env, require_gymnasium
from .history import History, plot_learning_curve
from .preprocess import pixel_env
from .replay import Batch, ReplayBuffer
from .schedule import EpsilonSchedule
from .tabular import QLearning, q_update

__all__ = ["DQN", "INSTALL_HINT", "Batch", "DQNConfig", "EpsilonSchedule", "History", "QLearning", "ReplayBuffer",
           "evaluate", "make_env", "pixel_env", "plot_learning_curve", "q_update", "require_gymnasium"]
