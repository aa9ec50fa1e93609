"""Restricted Boltzmann machines: Bernoulli-Bernoulli and Gaussian-Bernoulli, trained with
contrastive divergence (CD-k) or persistent CD, with momentum and weight decay as in Hinton's
"A Practical Guide to Training Restricted Boltzmann Machines" (2010).

The energy of visible ``v`` and hidden ``h`` (weights ``W`` of shape (hidden, visible), as a
:class:`profondo.nn.Linear` holds them, so that an RBM unrolls into one)::

    Bernoulli visible:  E(v, h) = -b.v - c.h - h.W.v
    Gaussian visible:   E(v, h) = |v - b|^2 / 2 - c.h - h.W.v      (unit variance: standardise v)

Learning follows the gradient of the log-likelihood estimated by Gibbs sampling, which is
not the gradient of any loss that autodiff could compute: the update is written here, on
NumPy arrays, and the layers it trains become ordinary profondo layers (:meth:`RBM.to_linear`).

>>> rbm = RBM(64, 100, seed=0)
>>> rbm.fit(x, epochs=10, lr=0.06, batch_size=10, persistent=True)
>>> rbm.pseudo_likelihood(x).mean()
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

VISIBLE = ("bernoulli", "gaussian")


def sigmoid(x: np.ndarray) -> np.ndarray:
    """The logistic function without overflow (through tanh)."""
    return np.tanh(x * 0.5) * 0.5 + 0.5


def softplus(x: np.ndarray) -> np.ndarray:
    return np.logaddexp(0, x)


def as_matrix(x: Any, n_features: int, where: str) -> np.ndarray:
    """``x`` as float32 (N, n_features), images flattened, with an error that says what came in."""
    x = np.asarray(x, np.float32)
    x = x.reshape(len(x), -1) if x.ndim > 1 else x.reshape(1, -1)
    if x.shape[1] != n_features:
        raise ValueError(f"{where}: expected samples of {n_features} features, received shape {x.shape}")
    return x


class RBM:
    """A restricted Boltzmann machine of ``n_visible`` x ``n_hidden`` units.

    ``visible`` is "bernoulli" (data in [0, 1], read as probabilities) or "gaussian" (real
    data of unit variance: standardise it first). Weights start as N(0, 0.01^2), biases at
    zero (the guide's advice; sklearn's BernoulliRBM does the same), drawn from ``seed``, which
    also seeds every Gibbs sample.
    """

    def __init__(self, n_visible: int, n_hidden: int, visible: str = "bernoulli", seed: int = 0) -> None:
        if visible not in VISIBLE:
            raise ValueError(f"RBM: visible must be one of {VISIBLE}, received {visible!r}")
        if n_visible < 1 or n_hidden < 1:
            raise ValueError(f"RBM: expected n_visible and n_hidden >= 1, received {n_visible} and {n_hidden}")
        self.n_visible, self.n_hidden, self.visible = int(n_visible), int(n_hidden), visible
        self.rng = np.random.default_rng(seed)
        self.weight = (self.rng.standard_normal((n_hidden, n_visible)) * 0.01).astype(np.float32)
        self.visible_bias = np.zeros(n_visible, np.float32)
        self.hidden_bias = np.zeros(n_hidden, np.float32)
        # The update's velocities (momentum) and the persistent chains' hidden states.
        self.velocity = [np.zeros_like(a) for a in self.parameters()]
        self.chains: np.ndarray | None = None
        self.epochs_done = 0

    def parameters(self) -> list[np.ndarray]:
        return [self.weight, self.visible_bias, self.hidden_bias]

    # --- conditionals and sampling -------------------------------------------------------------
    def hidden_probabilities(self, v: np.ndarray) -> np.ndarray:
        """p(h = 1 | v), (N, n_hidden)."""
        return sigmoid(v @ self.weight.T + self.hidden_bias)

    def visible_mean(self, h: np.ndarray) -> np.ndarray:
        """E[v | h]: p(v = 1 | h) for Bernoulli units, the Gaussian's mean for Gaussian ones."""
        pre = h @ self.weight + self.visible_bias
        return sigmoid(pre) if self.visible == "bernoulli" else pre

    def sample_hidden(self, v: np.ndarray) -> np.ndarray:
        p = self.hidden_probabilities(v)
        return (self.rng.random(p.shape, np.float32) < p).astype(np.float32)

    def sample_visible(self, h: np.ndarray) -> np.ndarray:
        mean = self.visible_mean(h)
        if self.visible == "bernoulli":
            return (self.rng.random(mean.shape, np.float32) < mean).astype(np.float32)
        return mean + self.rng.standard_normal(mean.shape, np.float32)

    def gibbs(self, v: np.ndarray, steps: int = 1) -> np.ndarray:
        """``steps`` full Gibbs steps v -> h -> v from visible states ``v``; the last visible sample."""
        v = as_matrix(v, self.n_visible, "RBM.gibbs")
        for _ in range(steps):
            v = self.sample_visible(self.sample_hidden(v))
        return v

    def sample(self, n: int, steps: int = 1000, start: np.ndarray | None = None) -> np.ndarray:
        """``n`` samples of the model after ``steps`` Gibbs steps, as visible means (the
        expectation given the last hidden state: smoother pictures than binary states). The
        chains start from ``start`` (e.g. training images) or from uniform noise."""
        if start is None:
            v = self.rng.random((n, self.n_visible), np.float32)
            v = (v < 0.5).astype(np.float32) if self.visible == "bernoulli" else v
        else:
            v = as_matrix(start, self.n_visible, "RBM.sample")[:n]
        for _ in range(max(steps - 1, 0)):
            v = self.sample_visible(self.sample_hidden(v))
        return self.visible_mean(self.sample_hidden(v))

    # --- what a trained model is judged by -----------------------------------------------------
    def free_energy(self, v: Any) -> np.ndarray:
        """F(v) = -log sum_h exp(-E(v, h)), per sample (N,)."""
        v = as_matrix(v, self.n_visible, "RBM.free_energy")
        hidden = softplus(v @ self.weight.T + self.hidden_bias).sum(1)
        if self.visible == "bernoulli":
            return -(v @ self.visible_bias) - hidden
        return 0.5 * ((v - self.visible_bias) ** 2).sum(1) - hidden

    def pseudo_likelihood(self, v: Any, exact: bool = True, chunk: int | None = None) -> np.ndarray:
        """log PL(v) = sum_i log p(v_i | v_-i) per sample (N,), for Bernoulli visible units.

        Each term is log sigmoid(F(v with unit i flipped) - F(v)); flipping means v_i -> 1 - v_i,
        so fractional data in [0, 1] is read as sklearn's ``score_samples`` reads it.
        ``exact=True`` sums every unit (deterministic); ``exact=False`` is sklearn's stochastic
        estimate: one random unit per sample, times n_visible. The exact sum works on ``chunk``
        samples at a time (default: about 16 M elements of (samples, visible, hidden) each).
        """
        if self.visible != "bernoulli":
            raise ValueError("RBM.pseudo_likelihood: defined here for Bernoulli visible units; a Gaussian RBM "
                             "has a density: compare free energies or reconstruction errors instead")
        v = as_matrix(v, self.n_visible, "RBM.pseudo_likelihood")
        f = self.free_energy(v)
        if not exact:
            i = self.rng.integers(0, self.n_visible, len(v))
            flipped = v.copy()
            rows = np.arange(len(v))
            flipped[rows, i] = 1 - flipped[rows, i]
            return self.n_visible * -softplus(-(self.free_energy(flipped) - f))
        out = np.empty(len(v), np.float64)
        chunk = chunk or max(1, 2 ** 24 // (self.n_visible * self.n_hidden))
        for s in range(0, len(v), chunk):
            vc = v[s:s + chunk]
            pre = vc @ self.weight.T + self.hidden_bias  # (n, H)
            delta = 1 - 2 * vc  # the change of each unit when flipped, (n, D)
            # F(v^(i)) for every unit i at once: (n, D, H) pre-activations.
            pre_flipped = pre[:, None, :] + delta[:, :, None] * self.weight.T[None, :, :]
            f_flipped = -(vc @ self.visible_bias)[:, None] - delta * self.visible_bias - softplus(pre_flipped).sum(2)
            out[s:s + chunk] = -softplus(-(f_flipped - f[s:s + chunk, None])).sum(1)
        return out

    def reconstruction_error(self, v: Any) -> float:
        """Mean squared difference per unit between v and its mean-field reconstruction
        E[v | p(h | v)]: easy to compute, a poor measure of the likelihood (the guide, sec. 5)."""
        v = as_matrix(v, self.n_visible, "RBM.reconstruction_error")
        return float(((v - self.visible_mean(self.hidden_probabilities(v))) ** 2).mean())

    def transform(self, v: Any) -> np.ndarray:
        """The hidden probabilities, the features an RBM gives to the next layer or a classifier."""
        return self.hidden_probabilities(as_matrix(v, self.n_visible, "RBM.transform"))

    # --- learning ------------------------------------------------------------------------------
    def update(self, v: np.ndarray, lr: float = 0.1, k: int = 1, persistent: bool = False,
               momentum: float = 0.0, weight_decay: float = 0.0) -> None:
        """One update on the mini-batch ``v``.

        Positive statistics from p(h | data). CD-k starts its chain from a sample of h given the
        data and uses visible probabilities in the reconstructions (the guide, sec. 3); persistent
        CD (Tieleman 2008) continues chains kept across updates, one per sample of a batch, and
        samples their visible states, as sklearn's BernoulliRBM does. The step is ``lr`` times
        the batch-mean gradient; ``weight_decay`` is an L2 penalty on the weights (not the biases),
        ``momentum`` a velocity on every parameter.
        """
        n = len(v)
        h_pos = self.hidden_probabilities(v)
        if persistent:
            if self.chains is None or self.chains.shape != (n, self.n_hidden):
                self.chains = np.zeros((n, self.n_hidden), np.float32)
            h = self.chains
            for _ in range(k):
                v_neg = self.sample_visible(h)
                h_neg = self.hidden_probabilities(v_neg)
                h = (self.rng.random(h_neg.shape, np.float32) < h_neg).astype(np.float32)
            self.chains = h
        else:
            h = (self.rng.random(h_pos.shape, np.float32) < h_pos).astype(np.float32)
            for step in range(k):
                v_neg = self.visible_mean(h)
                h_neg = self.hidden_probabilities(v_neg)
                if step < k - 1:
                    h = (self.rng.random(h_neg.shape, np.float32) < h_neg).astype(np.float32)
        scale = np.float32(1.0 / n)
        gradients = [(h_pos.T @ v - h_neg.T @ v_neg) * scale - np.float32(weight_decay) * self.weight,
                     (v - v_neg).mean(0), (h_pos - h_neg).mean(0)]
        for param, vel, grad in zip(self.parameters(), self.velocity, gradients):
            vel *= np.float32(momentum)
            vel += np.float32(lr) * grad
            param += vel

    def fit(self, x: Any, epochs: int = 10, batch_size: int = 10, lr: float = 0.1, k: int = 1,
            persistent: bool = False, momentum: float | tuple[float, float] = 0.0, weight_decay: float = 0.0,
            momentum_switch: int = 5, callback: Callable[[RBM, int], Any] | None = None) -> RBM:
        """Train until ``epochs`` epochs are done in total (a restored RBM continues), one update
        per mini-batch of a fresh permutation. ``momentum`` may be a pair (start, final): the
        guide's 0.5 for the first ``momentum_switch`` epochs, then 0.9. ``callback(rbm, epoch)``
        runs after every epoch (progress, checkpoints). Returns self."""
        x = as_matrix(x, self.n_visible, "RBM.fit")
        if batch_size < 1 or k < 1:
            raise ValueError(f"RBM.fit: expected batch_size and k >= 1, received {batch_size} and {k}")
        start, final = momentum if isinstance(momentum, tuple) else (momentum, momentum)
        while self.epochs_done < epochs:
            mom = start if self.epochs_done < momentum_switch else final
            order = self.rng.permutation(len(x))
            for s in range(0, len(x), batch_size):
                self.update(x[order[s:s + batch_size]], lr, k, persistent, mom, weight_decay)
            self.epochs_done += 1
            if callback is not None:
                callback(self, self.epochs_done)
        return self

    # --- unrolling and files -------------------------------------------------------------------
    def to_linear(self):
        """A :class:`profondo.nn.Linear` (visible -> hidden) holding a copy of the weights and hidden
        biases: the RBM's p(h | v) is ``sigmoid(linear(v))``."""
        from ..nn import Linear

        layer = Linear(self.n_visible, self.n_hidden)
        layer.weight.data[...] = self.weight
        layer.bias.data[...] = self.hidden_bias
        return layer

    def state_dict(self) -> dict[str, np.ndarray]:
        """Weights, velocities and persistent chains: everything to resume training exactly
        (with :meth:`config`, which holds the generator state)."""
        state = {"weight": self.weight, "visible_bias": self.visible_bias, "hidden_bias": self.hidden_bias}
        state.update({f"velocity.{i}": v for i, v in enumerate(self.velocity)})
        if self.chains is not None:
            state["chains"] = self.chains
        return state

    def config(self) -> dict[str, Any]:
        return {"n_visible": self.n_visible, "n_hidden": self.n_hidden, "visible": self.visible,
                "epochs_done": self.epochs_done, "rng": self.rng.bit_generator.state}

    @classmethod
    def from_state(cls, config: dict[str, Any], state: dict[str, np.ndarray]) -> RBM:
        """The RBM that :meth:`state_dict` and :meth:`config` describe."""
        rbm = cls(config["n_visible"], config["n_hidden"], config["visible"])
        for name in ("weight", "visible_bias", "hidden_bias"):
            mine = getattr(rbm, name)
            if state[name].shape != mine.shape:
                raise ValueError(f"RBM.from_state: {name} has shape {state[name].shape} in the file, "
                                 f"{mine.shape} in an RBM of {rbm.n_visible} x {rbm.n_hidden}")
            mine[...] = state[name]
        for i, v in enumerate(rbm.velocity):
            v[...] = state[f"velocity.{i}"]
        rbm.chains = np.array(state["chains"]) if "chains" in state else None
        rbm.epochs_done = int(config.get("epochs_done", 0))
        if "rng" in config:
            rbm.rng.bit_generator.state = config["rng"]
        return rbm

    def __repr__(self) -> str:
        return f"RBM({self.n_visible}, {self.n_hidden}, visible={self.visible!r})"
