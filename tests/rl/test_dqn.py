from pathlib import Path

import numpy as np
import pytest

import profondo
from profondo import nn, rl
from profondo.rl import DQN, DQNConfig, EpsilonSchedule, evaluate


def _mlp(n_in=6, hidden=32, n_out=2, seed=0):
    profondo.manual_seed(seed)
    return nn.Sequential(nn.Linear(n_in, hidden), nn.ReLU(), nn.Linear(hidden, n_out))


def _params(module):
    return [p.data.copy() for p in module.parameters()]


def _same(a, b):
    return all(np.array_equal(x, y) for x, y in zip(a, b))


def _per_step(**kwargs) -> DQNConfig:
    """A config with one update per environment step, 1-step returns, Double DQN and a constant learning rate."""
    return DQNConfig(**{"train_every": 1, "gradient_steps": 1, "n_step": 1, "double": True, "lr_end": None, **kwargs})


def _transition(rng, n=6):
    return rng.random(n).astype(np.float32), int(rng.integers(2)), float(rng.random()), \
        rng.random(n).astype(np.float32), bool(rng.random() < 0.2)


def test_hard_target_update_every_n_steps():
    agent = DQN(_mlp(), 2, (6,), config=_per_step(lr=0.05, batch_size=4, buffer_size=16, learning_starts=4,
                                                  target_update=5), seed=0)
    rng = np.random.default_rng(0)
    assert _same(_params(agent.target), _params(agent.online))  # starts as a copy
    snapshot = _params(agent.target)
    for step in range(1, 13):
        agent.observe(*_transition(rng))
        online, target = _params(agent.online), _params(agent.target)
        if step % 5 == 0:
            assert _same(target, online), f"step {step}: the target should have been copied"
            snapshot = target
        else:
            assert _same(target, snapshot), f"step {step}: the target must not move between updates"
            if step > 4:
                assert not _same(target, online)  # the online network trained meanwhile
    assert agent.updates == 9 and agent.steps == 12  # updates from step 4 on


def test_soft_target_update_is_polyak_averaging():
    agent = DQN(_mlp(), 2, (6,), config=_per_step(lr=0.05, batch_size=4, buffer_size=16, learning_starts=1,
                                                  target_update=1, tau=0.25), seed=0)
    rng = np.random.default_rng(1)
    for _ in range(6):
        before = _params(agent.target)
        agent.observe(*_transition(rng))
        expected = [0.25 * o + 0.75 * t for o, t in zip(_params(agent.online), before)]
        for got, want in zip(_params(agent.target), expected):
            np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)


def test_td_targets_vanilla_and_double_by_hand():
    online = nn.Linear(2, 2, bias=False)
    agent = DQN(online, 2, (2,), config=DQNConfig(gamma=0.5, batch_size=1, buffer_size=1, double=False), seed=0)
    online.weight.data[...] = np.eye(2, dtype=np.float32)  # Q_online(s') = s'
    agent.target.weight.data[...] = [[0.0, 1.0], [1.0, 0.0]]  # Q_target(s') = s' swapped
    next_obs = np.array([[1.0, 3.0], [1.0, 3.0]], np.float32)  # Q_online = [1, 3], Q_target = [3, 1]
    rewards, terminated = np.array([1.0, 1.0], np.float32), np.array([0.0, 1.0], np.float32)
    # vanilla: 1 + 0.5 * max Q_target = 1 + 0.5 * 3; a terminal transition has no bootstrap
    assert agent.td_targets(rewards, next_obs, terminated).tolist() == [2.5, 1.0]
    agent.config.double = True  # a* = argmax Q_online = 1, evaluated by the target: Q_target[1] = 1
    assert agent.td_targets(rewards, next_obs, terminated).tolist() == [1.5, 1.0]


def test_update_matches_pytorch():
    torch = pytest.importorskip("torch")
    agent = DQN(_mlp(4, 8, 3), 3, (4,), config=_per_step(lr=0.01, gamma=0.9, batch_size=8, buffer_size=8,
                                                         double=True, max_grad_norm=0.5), seed=5)
    rng = np.random.default_rng(2)
    for _ in range(8):
        agent.buffer.add(rng.normal(size=4), int(rng.integers(3)), float(rng.normal()), rng.normal(size=4),
                         bool(rng.random() < 0.3))
    net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
    net.load_state_dict({k: torch.from_numpy(v.numpy()) for k, v in agent.online.state_dict().items()})
    target = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
    agent.target[0].weight.data *= 0.5  # a target different from the online network
    target.load_state_dict({k: torch.from_numpy(v.numpy()) for k, v in agent.target.state_dict().items()})
    opt = torch.optim.Adam(net.parameters(), lr=0.01)
    b = agent.buffer.sample(8, np.random.default_rng(7))
    agent.rng = np.random.default_rng(7)  # the agent draws the same batch
    loss = agent.train_step()
    obs, nxt = torch.from_numpy(b.obs), torch.from_numpy(b.next_obs)
    with torch.no_grad():
        best = net(nxt).argmax(1, keepdim=True)
        y = torch.from_numpy(b.rewards) + 0.9 * (1 - torch.from_numpy(b.terminated)) * target(nxt).gather(1, best)[:, 0]
    q = net(obs).gather(1, torch.from_numpy(b.actions)[:, None])[:, 0]
    t_loss = torch.nn.functional.huber_loss(q, y)
    t_loss.backward()
    torch.nn.utils.clip_grad_norm_(net.parameters(), 0.5)
    opt.step()
    assert loss == pytest.approx(t_loss.item(), rel=1e-5)
    for name, value in agent.online.state_dict().items():
        np.testing.assert_allclose(value, net.state_dict()[name].numpy(), rtol=1e-4, atol=1e-6, err_msg=name)


def test_dqn_solves_a_tiny_environment(corridor):
    env = corridor(n=6, one_hot=True)
    config = _per_step(lr=0.01, gamma=0.95, batch_size=32, buffer_size=1000, learning_starts=100,
                       target_update=50, epsilon=EpsilonSchedule(1.0, 0.05, 400))
    agent = DQN(_mlp(), 2, (6,), config=config, seed=0)
    history = agent.fit(env, 1000, seed=0)
    assert agent.steps == 1000 and agent.updates == 901
    assert history.steps[-1] <= 1000 and len(history.returns) == agent.episodes
    returns = evaluate(env, agent.greedy, episodes=3, seed=0)
    assert returns == pytest.approx(np.full(3, 1 - 0.01 * 4))  # straight to the goal


def test_checkpoint_resume_continues_exactly(tmp_path, corridor):
    # 10-step episodes (the goal is out of reach), so step 200 is an episode boundary
    def agent():  # with every schedule: learning rate, exploration, Polyak target, bursts of updates
        config = DQNConfig(lr=0.01, lr_end=0.001, double=True, n_step=2, batch_size=8, buffer_size=300, learning_starts=20, target_update=2,
                           tau=0.1, train_every=2, gradient_steps=2, epsilon=EpsilonSchedule(1.0, 0.1, 300))
        return DQN(_mlp(40), 2, (40,), config=config, seed=1)

    def env():
        return corridor(n=40, limit=10, one_hot=True, slip=0.3)

    straight = agent()
    h_straight = straight.fit(env(), 400, seed=4)
    first = agent()

    class Kill:  # the process dies right after step 200's checkpoint
        def update(self, n, **values):
            if first.steps == 200:
                raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        first.fit(env(), 400, seed=4, checkpoint=tmp_path / "last.ckpt", checkpoint_every=200, progress=Kill())
    resumed = agent()
    history = resumed.load(tmp_path / "last.ckpt")
    assert (resumed.steps, resumed.episodes, len(resumed.buffer)) == (200, 20, 200)
    history = resumed.fit(env(), 400, seed=4, history=history)
    assert history.returns == h_straight.returns
    assert _same(_params(resumed.online), _params(straight.online))
    assert _same(_params(resumed.target), _params(straight.target))
    assert np.array_equal(resumed.buffer.obs, straight.buffer.obs)
    assert resumed.optimizer.param_groups[0]["lr"] == straight.optimizer.param_groups[0]["lr"]
    assert resumed.rng.bit_generator.state == straight.rng.bit_generator.state


def _episode(agent, rewards, terminated):
    """Observations 0, 1, 2, ... (as 6-vectors) through an episode with these rewards."""
    for t, r in enumerate(rewards):
        last = t == len(rewards) - 1
        agent.observe(np.full(6, t, np.float32), t % 2, r, np.full(6, t + 1, np.float32),
                      terminated and last, truncated=not terminated and last)


@pytest.mark.parametrize("terminated", [True, False])
def test_n_step_transitions_by_hand(terminated):
    config = DQNConfig(n_step=3, gamma=0.5, learning_starts=10_000)  # no updates
    agent = DQN(_mlp(), 2, (6,), config=config, seed=0)
    _episode(agent, [1.0, 2.0, 3.0, 4.0, 5.0], terminated)
    buf, n = agent.buffer, len(agent.buffer)
    assert n == 5 and agent.window == [] and agent.steps == 5
    assert buf.obs[:n, 0].tolist() == [0, 1, 2, 3, 4] and buf.actions[:n].tolist() == [0, 1, 0, 1, 0]
    # r_t + 0.5 r_{t+1} + 0.25 r_{t+2}, cut at the episode's end
    assert buf.rewards[:n].tolist() == [2.75, 4.5, 6.25, 6.5, 5.0]
    assert buf.horizons[:n].tolist() == [3, 3, 3, 2, 1]
    assert buf.next_obs[:n, 0].tolist() == [3, 4, 5, 5, 5]  # n steps on, else the episode's last observation
    assert buf.terminated[:n].tolist() == ([0, 0, 1, 1, 1] if terminated else [0] * 5)
    _episode(agent, [1.0], True)  # the next episode starts with an empty window
    assert (len(buf), buf.rewards[5], buf.horizons[5]) == (6, 1.0, 1)


def test_n_step_targets_discount_by_the_horizon():
    online = nn.Linear(2, 2, bias=False)
    agent = DQN(online, 2, (2,), config=DQNConfig(gamma=0.5, batch_size=1, buffer_size=1, double=False), seed=0)
    online.weight.data[...] = agent.target.weight.data[...] = np.eye(2, dtype=np.float32)
    next_obs = np.tile(np.array([[1.0, 4.0]], np.float32), (3, 1))  # max Q = 4
    zeros = np.zeros(3, np.float32)
    assert agent.td_targets(zeros, next_obs, zeros, np.array([1, 2, 3])).tolist() == [2.0, 1.0, 0.5]
    assert agent.td_targets(zeros, next_obs, zeros).tolist() == [2.0, 2.0, 2.0]
    with pytest.raises(ValueError, match="n_step must be >= 1, received 0"):
        DQNConfig(n_step=0)


def test_resume_refuses_a_changed_config(tmp_path):
    agent = DQN(_mlp(), 2, (6,), config=DQNConfig(lr_hold=0.5, double=True), seed=0)
    agent.save(tmp_path / "a.ckpt")
    other = DQN(_mlp(), 2, (6,), config=DQNConfig(lr_hold=0.0, double=True, batch_size=32), seed=0)
    with pytest.raises(ValueError, match=r"trained with lr_hold=0.5, batch_size=64; this agent has lr_hold=0.0, "
                                         r"batch_size=32: resume with the run's own settings"):
        other.load(tmp_path / "a.ckpt")
    DQN(_mlp(), 2, (6,), config=DQNConfig(lr_hold=0.5, double=True), seed=0).load(tmp_path / "a.ckpt")


def test_resume_of_a_checkpoint_from_before_a_setting_existed(tmp_path):
    # a file written before lr_hold existed trained with the rate falling from the first step,
    # one from before n_step with 1-step transitions
    agent = DQN(_mlp(), 2, (6,), config=DQNConfig(lr_hold=0.0, n_step=1), seed=0)
    before = {k: v for k, v in agent.config.to_dict().items() if k not in ("lr_hold", "n_step")}
    agent.save(tmp_path / "old.ckpt", config=before)
    DQN(_mlp(), 2, (6,), config=DQNConfig(lr_hold=0.0, n_step=1), seed=0).load(tmp_path / "old.ckpt")
    with pytest.raises(ValueError, match="trained with lr_hold=0.0; this agent has lr_hold=0.5"):
        DQN(_mlp(), 2, (6,), config=DQNConfig(lr_hold=0.5, n_step=1), seed=0).load(tmp_path / "old.ckpt")
    with pytest.raises(ValueError, match="trained with n_step=1; this agent has n_step=2"):
        DQN(_mlp(), 2, (6,), config=DQNConfig(lr_hold=0.0, n_step=2), seed=0).load(tmp_path / "old.ckpt")
    agent.save(tmp_path / "new.ckpt", config={**before, "lr_hold": 0.0, "future": 1})
    with pytest.raises(ValueError, match=r"settings \['future'\] are unknown"):
        agent.load(tmp_path / "new.ckpt")


def test_learning_rate_falls_linearly_over_the_run():
    agent = DQN(_mlp(), 2, (6,), config=DQNConfig(lr=0.01, lr_end=0.001, lr_hold=0.0), seed=0)
    assert [agent.learning_rate(t, 100) for t in (0, 50, 100, 200)] == pytest.approx([0.01, 0.0055, 0.001, 0.001])
    agent.config.lr_decay = 10  # a fixed span wins over the run's length
    assert agent.learning_rate(5, 100) == pytest.approx(0.0055)
    agent.config.lr_end = None
    assert agent.learning_rate(50, 100) == 0.01


def test_learning_rate_holds_before_it_falls():
    agent = DQN(_mlp(), 2, (6,), config=DQNConfig(lr=0.01, lr_end=0.001, lr_hold=0.5), seed=0)
    assert [agent.learning_rate(t, 100) for t in (0, 50, 75, 100, 200)] == \
        pytest.approx([0.01, 0.01, 0.0055, 0.001, 0.001])
    with pytest.raises(ValueError, match=r"lr_hold must be in \[0, 1\), received 1.0"):
        DQNConfig(lr_hold=1.0)


def test_gradient_steps_run_in_bursts():
    config = DQNConfig(batch_size=4, buffer_size=64, learning_starts=8, train_every=4, gradient_steps=3,
                       target_update=1000)
    agent = DQN(_mlp(), 2, (6,), config=config, seed=0)
    rng = np.random.default_rng(0)
    counts = []
    for _ in range(16):
        agent.observe(*_transition(rng))
        counts.append(agent.updates)
    assert counts[6:] == [0, 3, 3, 3, 3, 6, 6, 6, 6, 9]  # steps 8, 12, 16: three updates each


def test_dqn_learns_cartpole_in_a_few_thousand_steps():
    gym = pytest.importorskip("gymnasium")
    from profondo import architecture
    from profondo.rl import make_env

    arch = architecture.load_dict(Path(rl.__file__).with_name("networks") / "cartpole.yaml")
    profondo.manual_seed(0)
    config = DQNConfig(epsilon=EpsilonSchedule(1.0, 0.04, 1500))  # the defaults, exploring over fewer steps
    agent = DQN(architecture.from_dict(arch), 2, (4,), config=config, seed=0)
    env = make_env("CartPole-v1")
    agent.fit(env, 3000, seed=0)
    returns = evaluate(gym.make("CartPole-v1"), agent.greedy, episodes=10, seed=123)
    rng = np.random.default_rng(0)
    random = evaluate(gym.make("CartPole-v1"), lambda obs: int(rng.integers(2)), episodes=10, seed=123)
    assert agent.updates == 1024  # 8 bursts of 128 from step 1024 on
    assert random.mean() < 40 and returns.mean() > 150, (random.mean(), returns.mean())  # random: about 22


def test_evaluations_keep_the_best_weights_and_can_stop_early(tmp_path, corridor):
    env, eval_env = corridor(n=6, one_hot=True), corridor(n=6, one_hot=True)
    config = _per_step(lr=0.01, gamma=0.95, batch_size=32, buffer_size=1000, learning_starts=100,
                       target_update=50, epsilon=EpsilonSchedule(1.0, 0.05, 400))
    agent = DQN(_mlp(), 2, (6,), config=config, seed=0)
    history = agent.fit(env, 3000, seed=0, eval_env=eval_env, eval_every=200, eval_episodes=2, stop_return=0.96,
                        checkpoint=tmp_path / "last.ckpt")
    assert agent.steps < 3000 and history.evaluations[-1][1] == pytest.approx(0.96)
    assert [e[0] for e in history.evaluations] == list(range(200, agent.steps + 1, 200))
    assert (tmp_path / "best.ckpt").exists() and (tmp_path / "last.ckpt").exists()
    assert _same(list(agent.best_state.values()), _params(agent.online))


def test_errors_name_the_problem():
    with pytest.raises(ValueError, match=r"maps an observation of shape \(6,\) to \(3,\); expected \(2,\)"):
        DQN(_mlp(6, 8, 3), 2, (6,))
    with pytest.raises(ValueError, match=r"tau must be in \(0, 1\], received 0.0"):
        DQNConfig(tau=0.0)
    with pytest.raises(ValueError, match="buffer_size must be >= batch_size"):
        DQNConfig(batch_size=64, buffer_size=10)


def test_uint8_observations_are_scaled():
    net = nn.Linear(3, 2, bias=False)
    agent = DQN(net, 2, (3,), obs_dtype=np.uint8, config=DQNConfig(batch_size=1, buffer_size=1))
    net.weight.data[...] = [[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]
    assert agent.q_values(np.array([[255, 0, 51]], np.uint8)).tolist() == [[1.0, pytest.approx(0.2)]]
    assert agent.buffer.obs.dtype == np.uint8


def test_the_defaults_are_those_of_the_command_line_cartpole_run():
    c = DQNConfig()  # `profondo rl dqn CartPole-v1` reads its defaults from here
    assert (c.lr, c.lr_end, c.lr_decay, c.lr_hold, c.gamma, c.n_step, c.batch_size, c.buffer_size, c.learning_starts,
            c.train_every, c.gradient_steps) == (2.3e-3, 0.0, None, 0.5, 0.99, 2, 64, 100_000, 1_000, 256, 128)
    assert (c.target_update, c.tau, c.double, c.huber_delta, c.max_grad_norm) == (10, 1.0, False, 1.0, 10.0)
    assert (c.epsilon.start, c.epsilon.end, c.epsilon.decay, c.epsilon.kind) == (1.0, 0.04, 8_000, "linear")
