"""Pixel observations through gymnasium's wrappers: shapes, stacking order, and one DQN update on them."""

from pathlib import Path

import numpy as np
import pytest

from profondo import architecture, manual_seed, rl
from profondo.rl import DQN, DQNConfig, EpsilonSchedule, make_env, pixel_env

gym = pytest.importorskip("gymnasium")
NETWORKS = Path(rl.__file__).with_name("networks")


def _network(name: str, obs_shape, n_actions: int):
    """A packaged architecture file with its input and output set to the environment's (as the CLI does)."""
    arch = architecture.load_dict(NETWORKS / name)
    arch["input"], arch["layers"][-1]["dense"]["units"] = list(obs_shape), int(n_actions)
    manual_seed(0)
    return architecture.from_dict(arch)


def _a_few_updates(env, net, n_actions: int) -> DQN:
    config = DQNConfig(batch_size=8, buffer_size=64, learning_starts=8, target_update=10, train_every=1, gradient_steps=1, n_step=1,
                       epsilon=EpsilonSchedule(1.0, 0.5, 20))
    agent = DQN(net, n_actions, env.observation_space.shape, np.uint8, config, seed=0)
    before = [p.data.copy() for p in net.parameters()]
    history = agent.fit(env, 24, seed=0)
    assert (agent.steps, agent.updates) == (24, 17) and agent.buffer.obs.dtype == np.uint8
    assert len(history.returns) == agent.episodes
    assert any(not np.array_equal(b, p.data) for b, p in zip(before, net.parameters()))
    return agent


def test_minatar_grids_become_channels_first_uint8():
    pytest.importorskip("minatar")
    env = pixel_env(make_env("MinAtar/Breakout-v1"), stack=1)
    obs, _ = env.reset(seed=0)
    raw = env.unwrapped.game.state()  # (10, 10, 4) booleans: paddle, ball, trail, bricks
    assert obs.shape == (4, 10, 10) == env.observation_space.shape and obs.dtype == np.uint8
    np.testing.assert_array_equal(obs, raw.transpose(2, 0, 1).astype(np.uint8) * 255)
    stacked = pixel_env(make_env("MinAtar/Breakout-v1"), stack=2)
    first, _ = stacked.reset(seed=0)
    second = stacked.step(1)[0]
    assert second.shape == (8, 10, 10)
    np.testing.assert_array_equal(second[:4], first[4:])  # oldest first: the previous frame moved down
    net = _network("minatar.yaml", obs.shape, env.action_space.n)
    agent = _a_few_updates(env, net, env.action_space.n)
    assert agent.q_values(obs[None]).shape == (1, 3)


def test_atari_through_atari_preprocessing_and_frame_stack():
    pytest.importorskip("ale_py")
    env = pixel_env(make_env("ALE/Pong-v5", frameskip=1), size=84, stack=4)
    obs, _ = env.reset(seed=0)
    assert obs.shape == (4, 84, 84) == env.observation_space.shape and obs.dtype == np.uint8
    obs2 = env.step(0)[0]
    np.testing.assert_array_equal(obs2[:3], obs[1:])
    with pytest.raises(ValueError, match="make it with frameskip=1"):
        pixel_env(make_env("ALE/Pong-v5"))
    net = _network("atari.yaml", obs.shape, env.action_space.n)
    with rl.dqn.no_grad():
        assert net(rl.dqn.Tensor(obs[None] / np.float32(255))).shape == (1, env.action_space.n)


@pytest.fixture
def rendered_cartpole():
    pytest.importorskip("pygame")  # gymnasium draws CartPole's frames with pygame

    def make(size=84, stack=4):
        return pixel_env(make_env("CartPole-v1", render_mode="rgb_array"), size=size, stack=stack)

    return make


def test_pixel_observations_from_rendered_frames(rendered_cartpole):
    env = rendered_cartpole()
    obs, _ = env.reset(seed=0)
    assert obs.shape == (4, 84, 84) and obs.dtype == np.uint8 and env.observation_space.shape == (4, 84, 84)
    assert (obs[0] == obs[3]).all()  # the first stack repeats the first frame
    assert np.median(obs) > 200 and obs.min() < 100  # white background, dark cart and pole
    frames = [obs]
    for _ in range(8):
        obs, _, terminated, truncated, _ = env.step(1)  # push right: the cart moves
        frames.append(obs)
    assert (frames[-1][:-1] == frames[-2][1:]).all()  # shifted by one frame
    assert not np.array_equal(frames[-1][-1], frames[0][-1])
    env.close()


def test_convolutional_q_network_on_rendered_frames(rendered_cartpole):
    env = rendered_cartpole()
    obs, _ = env.reset(seed=0)
    net = _network("cartpole_pixels.yaml", obs.shape, 2)
    agent = DQN(net, 2, obs.shape, np.uint8, DQNConfig(batch_size=2, buffer_size=2), seed=0)
    assert agent.q_values(obs[None]).shape == (1, 2)
    manual_seed(0)
    small = architecture.loads("input: [2, 36, 36]\nlayers:\n  - conv: {filters: 4, size: 6, stride: 3, activation: relu}\n"
                               "  - dense: {units: 2}")
    _a_few_updates(rendered_cartpole(size=36, stack=2), small, 2)


def test_vector_observations_need_a_render_mode():
    with pytest.raises(ValueError, match="make the environment with render_mode='rgb_array'"):
        pixel_env(make_env("CartPole-v1"))
    with pytest.raises(ValueError, match="stack and size must be at least 1"):
        pixel_env(make_env("CartPole-v1"), stack=0)
