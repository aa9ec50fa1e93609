from pathlib import Path

import numpy as np
import pytest

from profondo.rl import DQN, DQNConfig, EpsilonSchedule, FramePreprocessor, resize, to_grayscale


def test_grayscale_uses_bt601_luma():
    frame = np.zeros((2, 3, 3), np.uint8)
    frame[0, 0] = [255, 0, 0]
    frame[0, 1] = [0, 255, 0]
    frame[0, 2] = [0, 0, 255]
    frame[1] = 200
    gray = to_grayscale(frame)
    assert gray.shape == (2, 3)
    np.testing.assert_allclose(gray[0], [0.299 * 255, 0.587 * 255, 0.114 * 255], rtol=1e-6)
    np.testing.assert_allclose(gray[1], 200, rtol=1e-6)
    with pytest.raises(ValueError, match=r"\(H, W, 3\) RGB frame, received shape \(4, 4\)"):
        to_grayscale(np.zeros((4, 4)))


def test_resize_averages_the_covered_area():
    image = np.arange(36, dtype=np.float32).reshape(6, 6)
    np.testing.assert_allclose(resize(image, (2, 3)), image.reshape(2, 3, 3, 2).mean(axis=(1, 3)))
    # 3 -> 2: output pixel 0 covers input [0, 1.5): 1 * x0 + 0.5 * x1, weighted by 1/1.5
    row = np.array([[0.0, 3.0, 6.0]], np.float32)
    np.testing.assert_allclose(resize(row, (1, 2)), [[(0 + 0.5 * 3) / 1.5, (0.5 * 3 + 6) / 1.5]])
    np.testing.assert_array_equal(resize(np.eye(2, dtype=np.float32), (4, 4)), np.kron(np.eye(2), np.ones((2, 2))))
    rgb = np.random.default_rng(0).random((8, 10, 3))
    np.testing.assert_allclose(resize(rgb, (4, 5)), rgb.reshape(4, 2, 5, 2, 3).mean(axis=(1, 3)), rtol=1e-5)


def test_frame_stack_keeps_the_latest_frames_in_order():
    pre = FramePreprocessor(size=(2, 2), stack=3)
    frames = [np.full((4, 4, 3), v, np.uint8) for v in (10, 20, 30, 40)]
    first = pre.reset(frames[0])
    assert first.shape == (3, 2, 2) and first.dtype == np.uint8 and (first == 10).all()
    pre.step(frames[1])
    pre.step(frames[2])
    obs = pre.step(frames[3])
    assert obs[:, 0, 0].tolist() == [20, 30, 40]  # oldest first, newest last
    obs[...] = 0  # the returned stack is a copy
    assert pre.frames[:, 0, 0].tolist() == [20, 30, 40]
    color = FramePreprocessor(size=(2, 2), stack=2, grayscale=False)
    assert color.reset(frames[0]).shape == (6, 2, 2)


@pytest.fixture
def rendered_cartpole():
    gym = pytest.importorskip("gymnasium")
    pytest.importorskip("pygame")  # gymnasium draws CartPole's frames with pygame
    from profondo.rl import PixelObservation

    def make(size=(84, 84), stack=4):
        return PixelObservation(gym.make("CartPole-v1", render_mode="rgb_array"), size=size, stack=stack)

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
    from profondo import architecture, manual_seed, rl

    manual_seed(0)
    net = architecture.load(Path(rl.__file__).with_name("networks") / "cartpole_pixels.yaml")
    env = rendered_cartpole()
    obs, _ = env.reset(seed=0)
    agent = DQN(net, 2, obs.shape, np.uint8, DQNConfig(batch_size=2, buffer_size=2), seed=0)
    assert agent.q_values(obs[None]).shape == (1, 2)
    # a few DQN updates on small frames with a small convolutional network
    manual_seed(0)
    small = architecture.loads("input: [2, 36, 36]\nlayers:\n  - conv: {filters: 4, size: 6, stride: 3, activation: relu}\n"
                       "  - dense: {units: 2}")
    env = rendered_cartpole(size=(36, 36), stack=2)
    config = DQNConfig(batch_size=8, buffer_size=64, learning_starts=8, target_update=10,
                       epsilon=EpsilonSchedule(1.0, 0.5, 20))
    agent = DQN(small, 2, env.observation_space.shape, np.uint8, config, seed=0)
    before = {k: v.clone() for k, v in small.state_dict().items()}
    history = agent.fit(env, 24, seed=0)
    assert (agent.steps, agent.updates) == (24, 17) and agent.buffer.obs.dtype == np.uint8
    assert len(history.returns) == agent.episodes
    assert any(not np.array_equal(before[k], v) for k, v in small.state_dict().items())
    env.close()
