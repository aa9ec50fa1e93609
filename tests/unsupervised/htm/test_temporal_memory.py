"""Temporal memory: it learns a high-order sequence (the element after "B C" depends on what came
before "B"), beats chance at predicting it, and is deterministic for a seed; anomaly scores
fall as it learns, and the likelihood flags a break in a learned rhythm."""

from __future__ import annotations

import numpy as np
import pytest

from profondo.unsupervised.htm import AnomalyLikelihood, CategoryEncoder, TemporalMemory

SEQUENCES = ["ABCDE", "XBCDY"]  # second order and more: after "BCD" only the first element tells


def _model(seed: int = 0):
    enc = CategoryEncoder("ABCDEXY", active_bits=10)
    tm = TemporalMemory(enc.size, cells_per_column=8, activation_threshold=8, min_threshold=6, new_synapse_count=10,
                        predicted_segment_decrement=0.05, seed=seed)
    return enc, tm


def _train(enc, tm, repeats: int) -> list[list[float]]:
    scores = []
    for _ in range(repeats):
        for seq in SEQUENCES:
            tm.reset()
            scores.append([tm.compute(np.flatnonzero(enc.encode(c))) for c in seq])
    return scores


def _predicted_elements(enc, tm, prefix: str) -> set[int]:
    tm.reset()
    for c in prefix:
        tm.compute(np.flatnonzero(enc.encode(c)), learn=False)
    return set((tm.predicted_columns() // enc.active_bits).tolist())


def test_high_order_sequence_is_predicted_beyond_chance():
    enc, tm = _model()
    scores = _train(enc, tm, 80)
    assert np.mean(scores[0][1:]) == 1.0  # nothing predicted before learning
    assert np.mean([s[1:] for s in scores[-10:]]) < 0.05  # measured: 0.0 (the first element is always new)
    # Only the right last element is predicted, in both contexts; a first-order model (what follows
    # "D" in the data) would predict {E, Y} both times, and guessing one of them is right half the time.
    for seq in SEQUENCES:
        assert _predicted_elements(enc, tm, seq[:-1]) == {enc.bucket(seq[-1])}


def test_deterministic_for_a_seed():
    runs = []
    for _ in range(2):
        enc, tm = _model(seed=7)
        runs.append((_train(enc, tm, 10), tm.n_segments, tm.synapses,
                     tm.presynaptic[:tm.n_segments].copy()))
    assert runs[0][:3] == runs[1][:3]
    np.testing.assert_array_equal(runs[0][3], runs[1][3])


def test_errors_and_limits():
    with pytest.raises(ValueError, match="min_threshold <= activation_threshold"):
        TemporalMemory(10, activation_threshold=3, min_threshold=5)
    tm = TemporalMemory(10, cells_per_column=2, activation_threshold=1, min_threshold=1, new_synapse_count=2,
                        max_synapses_per_segment=2, max_segments_per_cell=1)
    with pytest.raises(ValueError, match=r"column indices must lie in \[0, 10\)"):
        tm.compute(np.array([10]))
    for _ in range(30):  # a cell never holds more segments than allowed, synapses never exceed the width
        for cols in ([0, 1], [2, 3], [4, 5], [0, 1], [6, 7]):
            tm.compute(np.array(cols))
    assert tm.segments_per_cell.max() <= 1 and (tm.presynaptic[:tm.n_segments] >= 0).sum(1).max() <= 2


def test_anomaly_likelihood_flags_a_broken_rhythm():
    likelihood = AnomalyLikelihood(learning_period=50, estimation_samples=50, averaging_window=5)
    rng = np.random.default_rng(0)
    values = [likelihood.update(s) for s in rng.random(300) * 0.2]  # learned: scores stay low
    assert values[:100] == [0.5] * 100 and max(values[100:]) < 0.999
    burst = [likelihood.update(1.0) for _ in range(5)]
    assert burst[-1] > 0.9999
    assert AnomalyLikelihood.log_likelihood(0.5) < 0.1 < AnomalyLikelihood.log_likelihood(0.9999)
