import numpy as np
import pytest

from profondo.rl import EpsilonSchedule, QLearning, evaluate, q_update


def test_bellman_update_matches_hand_computation():
    q = np.zeros((3, 2))
    q[1] = [0.5, 2.0]
    q[0, 1] = 1.0
    # target = r + gamma * max Q(s') = 0.5 + 0.9 * 2.0 = 2.3; td = 2.3 - 1.0 = 1.3; Q += 0.1 * 1.3
    td = q_update(q, 0, 1, reward=0.5, next_state=1, terminated=False, lr=0.1, gamma=0.9)
    assert td == pytest.approx(1.3)
    assert q[0, 1] == pytest.approx(1.13)
    # terminal transition: no bootstrap, target = r = -1; td = -1 - 0 = -1; Q = 0 + 0.5 * -1
    td = q_update(q, 2, 0, reward=-1.0, next_state=1, terminated=True, lr=0.5, gamma=0.9)
    assert (td, q[2, 0]) == (pytest.approx(-1.0), pytest.approx(-0.5))
    assert q[1].tolist() == [0.5, 2.0]  # only Q(s, a) changes


def test_epsilon_schedules():
    linear = EpsilonSchedule(1.0, 0.1, decay=10)
    assert [linear(t) for t in (0, 5, 10, 50)] == pytest.approx([1.0, 0.55, 0.1, 0.1])
    exponential = EpsilonSchedule(1.0, 0.1, decay=10, kind="exponential")
    assert exponential(10) == pytest.approx(0.1 + 0.9 * np.exp(-1))
    assert exponential(0) == 1.0 and exponential(10_000) == pytest.approx(0.1)
    with pytest.raises(ValueError, match="kind must be"):
        EpsilonSchedule(kind="cosine")
    with pytest.raises(ValueError, match="end must lie in"):
        EpsilonSchedule(end=1.5)


def test_epsilon_greedy_explores_at_the_given_rate_and_breaks_ties_at_random():
    agent = QLearning(1, 4, seed=0)
    agent.q[0] = [0.0, 5.0, 0.0, 0.0]
    actions = np.array([agent.act(0, epsilon=0.2) for _ in range(4000)])
    # greedy with prob 0.8, uniform otherwise: P(best) = 0.8 + 0.2 / 4 = 0.85
    assert (actions == 1).mean() == pytest.approx(0.85, abs=0.03)
    agent.q[0] = 0.0
    assert set(agent.act(0, epsilon=0.0) for _ in range(200)) == {0, 1, 2, 3}
    assert agent.greedy(0) == 0


def test_q_learning_solves_a_tiny_environment(corridor):
    env = corridor(n=6)
    agent = QLearning.for_env(env, lr=0.5, gamma=0.95, epsilon=EpsilonSchedule(1.0, 0.05, 150), seed=1)
    history = agent.fit(env, episodes=300, seed=1)
    assert len(history.returns) == 300 and history.steps[-1] == agent.steps == sum(history.lengths)
    assert [agent.greedy(s) for s in range(5)] == [1] * 5  # always right
    returns = evaluate(env, agent.greedy, episodes=5, seed=0)
    assert returns == pytest.approx(np.full(5, 1 - 0.01 * 4))
    # Q of the cell next to the goal: the goal's reward (terminal, no bootstrap)
    assert agent.q[4, 1] == pytest.approx(1.0, abs=1e-3)


def test_same_seed_same_run(corridor):
    def run():
        env = corridor(n=5, slip=0.2)
        agent = QLearning.for_env(env, seed=3, epsilon=EpsilonSchedule(1.0, 0.1, 30))
        return agent.fit(env, 60, seed=3).returns, agent.q

    (r1, q1), (r2, q2) = run(), run()
    assert r1 == r2 and np.array_equal(q1, q2)


def test_checkpoint_round_trip(tmp_path, corridor):
    env = corridor()
    agent = QLearning.for_env(env, lr=0.3, gamma=0.9, seed=0)
    agent.fit(env, 20, seed=0)
    agent.save(tmp_path / "q.ckpt", env="Corridor")
    loaded = QLearning.load(tmp_path / "q.ckpt")
    assert np.array_equal(loaded.q, agent.q) and (loaded.lr, loaded.gamma, loaded.episodes) == (0.3, 0.9, 20)


def test_needs_discrete_spaces(corridor):
    with pytest.raises(ValueError, match="Discrete observation space.*profondo rl dqn"):
        QLearning.for_env(corridor(one_hot=True))
    with pytest.raises(ValueError, match="lr must lie in"):
        QLearning(4, 2, lr=0.0)


def test_tuple_observations_are_numbered_row_major():
    gym = pytest.importorskip("gymnasium")
    env = gym.make("Blackjack-v1")  # Tuple(Discrete(32), Discrete(11), Discrete(2))
    agent = QLearning.for_env(env, seed=0)
    assert agent.q.shape == (32 * 11 * 2, 2) and agent.state_dims == (32, 11, 2)
    assert agent.state((3, 5, 1)) == 3 * 22 + 5 * 2 + 1
    history = agent.fit(env, 200, seed=0)
    assert len(history.returns) == 200 and np.count_nonzero(agent.q) > 20
    assert agent.greedy((20, 10, 0)) in (0, 1)
