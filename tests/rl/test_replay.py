import numpy as np
import pytest

from profondo.rl import ReplayBuffer


def _fill(buf, n, start=0):
    for i in range(start, start + n):
        buf.add(np.full(2, i, np.float32), i % 3, float(i), np.full(2, i + 1, np.float32), i % 2 == 0)


def test_wraps_around_overwriting_the_oldest():
    buf = ReplayBuffer(5, obs_shape=(2,))
    _fill(buf, 3)
    assert (len(buf), buf.pos) == (3, 3)
    _fill(buf, 4, start=3)  # transitions 0..6 into 5 slots: 5 and 6 overwrite 0 and 1
    assert (len(buf), buf.pos) == (5, 2)
    assert buf.rewards.tolist() == [5.0, 6.0, 2.0, 3.0, 4.0]
    assert buf.obs[:, 0].tolist() == [5.0, 6.0, 2.0, 3.0, 4.0]
    assert buf.next_obs[:, 0].tolist() == [6.0, 7.0, 3.0, 4.0, 5.0]
    assert buf.terminated.tolist() == [0.0, 1.0, 1.0, 0.0, 1.0]
    assert buf.obs.dtype == np.float32 and buf.actions.dtype == np.int64


def test_sampling_draws_stored_transitions_uniformly_with_fields_aligned():
    buf = ReplayBuffer(8, obs_shape=(2,))
    _fill(buf, 11)  # holds transitions 3..10
    batch = buf.sample(4000, np.random.default_rng(0))
    assert batch.obs.shape == (4000, 2) and batch.actions.shape == (4000,)
    ids = batch.rewards.astype(int)
    assert set(ids.tolist()) == set(range(3, 11))
    # every field of a sampled row belongs to the same transition
    assert np.array_equal(batch.obs[:, 0], ids) and np.array_equal(batch.next_obs[:, 0], ids + 1)
    assert np.array_equal(batch.actions, ids % 3) and np.array_equal(batch.terminated, (ids % 2 == 0))
    counts = np.bincount(ids - 3, minlength=8)
    assert counts.min() > 400 and counts.max() < 600  # 500 expected each


def test_sampling_before_full_uses_only_filled_rows_and_is_seeded():
    buf = ReplayBuffer(100, obs_shape=(2,))
    _fill(buf, 3)
    a = buf.sample(50, np.random.default_rng(1))
    b = buf.sample(50, np.random.default_rng(1))
    assert set(a.rewards.tolist()) <= {0.0, 1.0, 2.0} and np.array_equal(a.rewards, b.rewards)
    with pytest.raises(ValueError, match="empty"):
        ReplayBuffer(4, (2,)).sample(1, np.random.default_rng())


def test_uint8_frames_and_state_round_trip():
    buf = ReplayBuffer(4, obs_shape=(2, 3, 3), obs_dtype=np.uint8)
    for i in range(6):
        buf.add(np.full((2, 3, 3), i, np.uint8), 1, 0.5, np.full((2, 3, 3), i + 1, np.uint8), False)
    assert buf.obs.dtype == np.uint8 and buf.obs.nbytes == 4 * 18
    other = ReplayBuffer(4, obs_shape=(2, 3, 3), obs_dtype=np.uint8)
    other.load_state_dict(buf.state_dict())
    assert np.array_equal(other.obs, buf.obs) and (other.pos, len(other)) == (buf.pos, len(buf))
    with pytest.raises(ValueError, match=r"shape \(3,\), the buffer holds \(2, 3, 3\)"):
        buf.add(np.zeros(3), 0, 0.0, np.zeros(3), False)


def test_horizons_round_trip_and_older_files_hold_one_step_transitions():
    buf = ReplayBuffer(4, obs_shape=(2,))
    buf.add(np.zeros(2), 0, 1.0, np.ones(2), False, horizon=3)
    buf.add(np.zeros(2), 1, 1.0, np.ones(2), True)
    assert buf.sample(64, np.random.default_rng(0)).horizons.tolist().count(3) > 0
    other = ReplayBuffer(4, obs_shape=(2,))
    other.load_state_dict(buf.state_dict())
    assert other.horizons[:2].tolist() == [3, 1]
    older = {k: v for k, v in buf.state_dict().items() if k != "horizons"}
    other.horizons[:] = 7
    other.load_state_dict(older)
    assert other.horizons[:2].tolist() == [1, 1]
