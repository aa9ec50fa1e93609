"""RBM: the quantities against brute force on tiny models, learning on a slice of digits,
exact resume, the unrolled layer, and pseudo-likelihood parity with scikit-learn."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from profondo import Tensor
from profondo import functional as F
from profondo.autograd import no_grad
from profondo.unsupervised import RBM


def _digits(n: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    pytest.importorskip("sklearn")
    from profondo.data.datasets import digits

    return digits("train").x.reshape(-1, 64)[:n], digits("test").x.reshape(-1, 64)


def _random_rbm(visible: str = "bernoulli", seed: int = 0) -> RBM:
    rbm = RBM(5, 3, visible, seed=seed)
    rng = np.random.default_rng(seed)
    rbm.weight[...] = rng.standard_normal(rbm.weight.shape)
    rbm.visible_bias[...] = rng.standard_normal(5)
    rbm.hidden_bias[...] = rng.standard_normal(3)
    return rbm


@pytest.mark.parametrize("visible", ["bernoulli", "gaussian"])
def test_free_energy_is_minus_log_sum_over_hidden_states(visible):
    rbm = _random_rbm(visible)
    v = np.random.default_rng(1).random((4, 5)).astype(np.float32)
    hs = np.array(list(itertools.product([0, 1], repeat=3)), np.float64)
    W, b, c = (a.astype(np.float64) for a in rbm.parameters())
    visible_term = v @ b if visible == "bernoulli" else -0.5 * ((v - b) ** 2).sum(1)
    neg_energy = visible_term[:, None] + (hs @ c)[None] + (v @ W.T) @ hs.T  # (samples, hidden states)
    expected = -np.log(np.exp(neg_energy).sum(1))
    np.testing.assert_allclose(rbm.free_energy(v), expected, rtol=1e-5, atol=1e-5)


def test_exact_pseudo_likelihood_flips_every_unit():
    rbm = _random_rbm()
    v = (np.random.default_rng(2).random((6, 5)) < 0.5).astype(np.float32)
    expected = np.zeros(6)
    for i in range(5):
        flipped = v.copy()
        flipped[:, i] = 1 - flipped[:, i]
        expected += np.log(1 / (1 + np.exp(-(rbm.free_energy(flipped) - rbm.free_energy(v)))))
    np.testing.assert_allclose(rbm.pseudo_likelihood(v, chunk=4), expected, rtol=1e-5)
    # sklearn's estimate (one random unit, times n_visible) is unbiased for the same quantity
    estimates = np.mean([rbm.pseudo_likelihood(v, exact=False) for _ in range(3000)], axis=0)
    np.testing.assert_allclose(estimates, expected, rtol=0.1)


def test_conditionals_match_the_energy():
    rbm = _random_rbm()
    v = (np.random.default_rng(3).random((2, 5)) < 0.5).astype(np.float32)
    # p(h_j = 1 | v) from the energy of h with unit j on and off
    W, b, c = rbm.parameters()
    for j in range(3):
        on = c[j] + v @ W[j]
        np.testing.assert_allclose(rbm.hidden_probabilities(v)[:, j], 1 / (1 + np.exp(-on)), rtol=1e-5)


@pytest.mark.parametrize("options", [dict(persistent=False), dict(persistent=True),
                                     dict(persistent=False, k=3, momentum=(0.5, 0.9), weight_decay=1e-4)],
                         ids=["cd1", "pcd", "cd3-momentum-decay"])
def test_training_raises_pseudo_likelihood_and_lowers_reconstruction_error(options):
    x, test = _digits(500)
    rbm = RBM(64, 32, seed=0)
    pl0, err0 = rbm.pseudo_likelihood(test).mean(), rbm.reconstruction_error(test)
    rbm.fit(x, epochs=6, batch_size=10, lr=0.05, **options)
    assert rbm.pseudo_likelihood(test).mean() > pl0 + 10  # untrained: about -44 nats per image
    assert rbm.reconstruction_error(test) < 0.6 * err0


def test_gaussian_rbm_learns_standardised_data():
    x, test = _digits(500)
    mean, std = x.mean(0), x.std(0) + 0.1
    x, test = (x - mean) / std, (test - mean) / std
    rbm = RBM(64, 32, "gaussian", seed=0)
    err0 = rbm.reconstruction_error(test)
    rbm.fit(x, epochs=6, batch_size=10, lr=0.01, momentum=0.9)
    assert rbm.reconstruction_error(test) < 0.5 * err0  # measured: 0.42 -> 0.15
    with pytest.raises(ValueError, match="Bernoulli"):
        rbm.pseudo_likelihood(test)


def test_resume_from_state_continues_exactly():
    x, _ = _digits(200)
    straight = RBM(64, 16, seed=3).fit(x, epochs=4, persistent=True, momentum=(0.5, 0.9), momentum_switch=2)
    first = RBM(64, 16, seed=3).fit(x, epochs=2, persistent=True, momentum=(0.5, 0.9), momentum_switch=2)
    resumed = RBM.from_state(first.config(), {k: v.copy() for k, v in first.state_dict().items()})
    resumed.fit(x, epochs=4, persistent=True, momentum=(0.5, 0.9), momentum_switch=2)
    for a, b in zip(straight.parameters(), resumed.parameters()):
        np.testing.assert_array_equal(a, b)


def test_to_linear_is_the_recognition_path():
    rbm = _random_rbm()
    v = np.random.default_rng(4).random((3, 5)).astype(np.float32)
    with no_grad():
        out = F.sigmoid(rbm.to_linear()(Tensor(v))).numpy()
    np.testing.assert_allclose(out, rbm.hidden_probabilities(v), rtol=1e-5, atol=1e-6)


def test_samples_and_errors():
    rbm = _random_rbm()
    samples = rbm.sample(7, steps=20)
    assert samples.shape == (7, 5) and samples.min() >= 0 and samples.max() <= 1
    assert rbm.gibbs(np.zeros((2, 5)), 3).shape == (2, 5)
    with pytest.raises(ValueError, match="expected samples of 5 features, received shape"):
        rbm.free_energy(np.zeros((2, 4)))
    with pytest.raises(ValueError, match="visible must be one of"):
        RBM(4, 2, "poisson")
    with pytest.raises(ValueError, match="shape"):
        RBM.from_state(RBM(4, 3).config() | {"n_hidden": 2}, RBM(4, 3).state_dict())


def test_pseudo_likelihood_at_least_sklearns():
    """The parity target: same hidden size, learning rate, batch size and iterations as
    sklearn's BernoulliRBM (PCD-1, sklearn's algorithm), both scored by the same exact PL."""
    sklearn_rbm = pytest.importorskip("sklearn.neural_network").BernoulliRBM
    x, test = _digits()
    sk = sklearn_rbm(n_components=100, learning_rate=0.06, batch_size=10, n_iter=10, random_state=0).fit(x)
    theirs = RBM(64, 100)
    theirs.weight[...], theirs.visible_bias[...], theirs.hidden_bias[...] = \
        sk.components_, sk.intercept_visible_, sk.intercept_hidden_
    ours = RBM(64, 100, seed=0).fit(x, epochs=10, batch_size=10, lr=0.06, persistent=True)
    assert ours.pseudo_likelihood(test).mean() >= theirs.pseudo_likelihood(test).mean()
