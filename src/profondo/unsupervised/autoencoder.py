"""Denoising autoencoders (Vincent et al. 2008, 2010) and their greedy stacks.

A denoising autoencoder corrupts its input (masking noise zeroes a fraction of the units,
Gaussian noise adds N(0, sigma^2)), encodes the corrupted input and is trained to reconstruct
the clean one; the weights of the decoder are the encoder's transposed (tied) or its own.
A stack is pre-trained greedily, each layer on the codes of the one below, and then reused
in the two ways transfer learning offers: as the body of a classifier fine-tuned with a new
output layer (:meth:`StackedDenoisingAutoencoder.classifier`), or as a feature extractor
whose codes feed a linear classifier (:meth:`~StackedDenoisingAutoencoder.transform`, then
:func:`profondo.transfer.linear_svm`).

Training goes through :class:`profondo.train.TrainStep`, the one update of profondo.

>>> sda = StackedDenoisingAutoencoder([784, 500, 500], corruption="mask", noise=0.25)
>>> sda.pretrain(x_train, epochs=5)
>>> model = sda.classifier(10)          # an nn.Sequential: Linear, Sigmoid, Linear, Sigmoid, Linear
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .. import functional as F
from ..autograd import no_grad
from ..nn import Linear, Module, Parameter, ReLU, Sequential, Sigmoid
from ..optim import Adam
from ..tensor import Tensor
from ..train.progress import ProgressBar
from ..train.step import TrainStep
from .rbm import as_matrix

CORRUPTIONS = ("mask", "gaussian", "none")
ACTIVATIONS = {"sigmoid": Sigmoid, "relu": ReLU}
LOSSES = ("cross_entropy", "squared")


def corrupt(x: np.ndarray, kind: str, noise: float, rng: np.random.Generator) -> np.ndarray:
    """``x`` with masking noise (each unit zeroed with probability ``noise``), additive Gaussian
    noise of standard deviation ``noise``, or none."""
    if kind == "mask":
        return x * (rng.random(x.shape, np.float32) >= noise)
    if kind == "gaussian":
        return x + rng.standard_normal(x.shape, np.float32) * np.float32(noise)
    if kind == "none":
        return x
    raise ValueError(f"corrupt: expected one of {CORRUPTIONS}, received {kind!r}")


def _reconstruction_epochs(step: TrainStep, x: np.ndarray, epochs: int, batch_size: int, corruption: str,
                           noise: float, seed: int, progress: bool, desc: str,
                           after_epoch: Callable[[int, float], Any] | None, start_epoch: int) -> list[float]:
    """The epochs of input -> input training: each batch corrupted afresh, one ``step`` per batch
    (the clean batch is the target). Returns the mean training loss of each epoch."""
    losses = []
    for epoch in range(start_epoch, epochs):
        # One generator per epoch, so a resumed run draws what an uninterrupted one would.
        rng = np.random.default_rng([seed, epoch])
        order = rng.permutation(len(x))
        bar = ProgressBar((len(x) + batch_size - 1) // batch_size, f"{desc} epoch {epoch + 1}/{epochs}",
                          enabled=progress)
        total = 0.0
        for s in range(0, len(x), batch_size):
            clean = x[order[s:s + batch_size]]
            loss, _, _ = step(Tensor(corrupt(clean, corruption, noise, rng)), target=Tensor(clean))
            total += loss.item() * len(clean)
            bar.update(1, len(clean), loss=total / (s + len(clean)))
        bar.close()
        losses.append(total / len(x))
        if after_epoch is not None:
            after_epoch(epoch, losses[-1])
    return losses


def _images_like(model: Module, x: Any, where: str) -> np.ndarray:
    """``x`` as float32 (N, *input) for a network built from an architecture file (its spec's input)."""
    x = np.asarray(x, np.float32)
    spec = getattr(model, "spec", None)
    if spec is not None and tuple(x.shape[1:]) != tuple(spec.input):
        raise ValueError(f"{where}: the network {spec.name!r} reads samples of shape {tuple(spec.input)}, received "
                         f"a batch of shape {x.shape}")
    return x


RECONSTRUCTION_LOSSES = ("bce", "mse")


def fit_reconstruction(model: Module, x: Any, epochs: int = 10, batch_size: int = 64, lr: float = 1e-3,
                       loss: str = "bce", corruption: str = "none", noise: float = 0.0, optimizer=None,
                       seed: int = 0, progress: bool = False, desc: str = "autoencoder",
                       callback: Callable[[Module, int, float], Any] | None = None,
                       start_epoch: int = 0) -> list[float]:
    """Train any ``model`` whose output has its input's shape (an autoencoder, typically built
    from an architecture file such as the zoo's ``conv-autoencoder-mnist``) to reconstruct clean
    ``x`` (N, *shape) from a corrupted copy (``corruption`` "mask", "gaussian" or "none", as
    :func:`corrupt`). ``loss``: "bce" (binary cross-entropy of outputs in [0, 1], e.g. after a
    sigmoid, averaged over pixels) or "mse". Adam at ``lr`` unless an ``optimizer`` is given, one
    :class:`TrainStep` per batch; ``callback(model, epoch, mean_loss)`` after each epoch. Returns
    the mean training loss of each epoch.

    >>> net = profondo.architecture.zoo.load("conv-autoencoder-mnist")
    >>> fit_reconstruction(net, x_train, epochs=2, corruption="mask", noise=0.25)
    """
    if loss not in RECONSTRUCTION_LOSSES:
        raise ValueError(f"fit_reconstruction: loss must be one of {RECONSTRUCTION_LOSSES}, received {loss!r}")
    if corruption not in CORRUPTIONS:
        raise ValueError(f"fit_reconstruction: corruption must be one of {CORRUPTIONS}, received {corruption!r}")
    x = _images_like(model, x, "fit_reconstruction")
    model.train()
    # binary_cross_entropy keeps its gradient finite where a float32 sigmoid saturates to 0 or 1.
    criterion = F.binary_cross_entropy if loss == "bce" else F.mse_loss
    step = TrainStep(model, optimizer or Adam(model.parameters(), lr), criterion, parameters=model.parameters())
    return _reconstruction_epochs(step, x, epochs, batch_size, corruption, noise, seed, progress, desc,
                                  None if callback is None else (lambda e, value: callback(model, e, value)),
                                  start_epoch)


def reconstruct(model: Module, x: Any, batch_size: int = 500) -> np.ndarray:
    """The model's outputs for clean ``x`` in eval mode, as a NumPy array."""
    x = _images_like(model, x, "reconstruct")
    model.eval()
    with no_grad():
        parts = [model(Tensor(x[s:s + batch_size])).numpy() for s in range(0, len(x), batch_size)]
    return np.concatenate(parts) if parts else np.zeros_like(x)


def reconstruction_error(model: Module, x: Any, batch_size: int = 500) -> float:
    """Mean squared error per pixel of the model's reconstructions of clean ``x``."""
    x = _images_like(model, x, "reconstruction_error")
    return float(np.mean((reconstruct(model, x, batch_size) - x) ** 2, dtype=np.float64)) if len(x) else 0.0


class DenoisingAutoencoder(Module):
    """One encoder-decoder pair, ``n_visible`` -> ``n_hidden`` -> ``n_visible``.

    ``activation`` of the code: "sigmoid" or "relu". ``loss``: "cross_entropy" (sigmoid
    reconstructions of data in [0, 1]: summed over the units, averaged over the batch, as in
    Vincent et al.) or "squared" (linear reconstructions, half the squared error summed over
    units). ``tied`` shares the encoder's weight, transposed, as the decoder's.
    ``forward(x)`` returns the reconstruction of ``x`` (no corruption).
    """

    def __init__(self, n_visible: int, n_hidden: int, activation: str = "sigmoid", tied: bool = True,
                 loss: str = "cross_entropy", corruption: str = "mask", noise: float = 0.25) -> None:
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(f"DenoisingAutoencoder: activation must be one of {sorted(ACTIVATIONS)}, "
                             f"received {activation!r}")
        if loss not in LOSSES:
            raise ValueError(f"DenoisingAutoencoder: loss must be one of {LOSSES}, received {loss!r}")
        if corruption not in CORRUPTIONS:
            raise ValueError(f"DenoisingAutoencoder: corruption must be one of {CORRUPTIONS}, received {corruption!r}")
        if corruption == "mask" and not 0 <= noise < 1:
            raise ValueError(f"DenoisingAutoencoder: masking noise is a probability in [0, 1), received {noise}")
        self.n_visible, self.n_hidden = int(n_visible), int(n_hidden)
        self.activation, self.tied, self.loss_kind = activation, bool(tied), loss
        self.corruption, self.noise = corruption, float(noise)
        # Glorot-uniform weights, as in Vincent et al.'s code (and Bengio's Theano tutorial).
        self.encoder = Linear(n_visible, n_hidden, init="glorot_uniform")
        self.encoder.bias.data[...] = 0
        if self.tied:
            self.decoder_bias = Parameter(np.zeros(n_visible, np.float32))
        else:
            self.decoder = Linear(n_hidden, n_visible, init="glorot_uniform")
            self.decoder.bias.data[...] = 0

    def encode(self, x) -> Tensor:
        h = self.encoder(x)
        return F.sigmoid(h) if self.activation == "sigmoid" else F.relu(h)

    def decode_logits(self, h) -> Tensor:
        """The decoder's pre-activation: sigmoid of it is the reconstruction for cross-entropy,
        it is the reconstruction itself for the squared loss."""
        if self.tied:
            return F.linear(h, self.encoder.weight.T, self.decoder_bias)
        return self.decoder(h)

    def forward(self, x) -> Tensor:
        out = self.decode_logits(self.encode(x))
        return F.sigmoid(out) if self.loss_kind == "cross_entropy" else out

    def reconstruction_loss(self, logits, target) -> Tensor:
        """Per-sample reconstruction cost, averaged over the batch."""
        n_units = target.shape[1]
        if self.loss_kind == "cross_entropy":
            return F.binary_cross_entropy_with_logits(logits, target) * n_units
        return F.mse_loss(logits, target) * (n_units / 2)

    def error(self, x: Any, batch_size: int = 1000) -> float:
        """The reconstruction cost of clean ``x`` (no corruption), averaged over samples."""
        x = as_matrix(x, self.n_visible, "DenoisingAutoencoder.error")
        total = 0.0
        with no_grad():
            for s in range(0, len(x), batch_size):
                xb = Tensor(x[s:s + batch_size])
                total += self.reconstruction_loss(self.decode_logits(self.encode(xb)), xb).item() * len(xb)
        return total / max(len(x), 1)

    def fit(self, x: Any, epochs: int = 10, batch_size: int = 20, lr: float = 1e-3, optimizer=None,
            seed: int = 0, progress: bool = False, desc: str = "dae",
            callback: Callable[[DenoisingAutoencoder, int, float], Any] | None = None,
            start_epoch: int = 0) -> list[float]:
        """Train on ``x`` (N, n_visible) for epochs ``start_epoch`` .. ``epochs`` - 1: each batch
        corrupted afresh, one :class:`TrainStep` per batch (Adam at ``lr`` unless an ``optimizer``
        is given). ``callback(self, epoch, mean_loss)`` runs after each epoch. Returns the mean
        training loss of each epoch."""
        x = as_matrix(x, self.n_visible, "DenoisingAutoencoder.fit")
        optimizer = optimizer or Adam(self.parameters(), lr)
        step = TrainStep(lambda noisy: self.decode_logits(self.encode(noisy)), optimizer, self.reconstruction_loss,
                         parameters=self.parameters())
        return _reconstruction_epochs(step, x, epochs, batch_size, self.corruption, self.noise, seed, progress, desc,
                                      None if callback is None else (lambda e, loss: callback(self, e, loss)),
                                      start_epoch)

    def transform(self, x: Any, batch_size: int = 1000) -> np.ndarray:
        """The codes of clean ``x``, as a NumPy array (N, n_hidden)."""
        x = as_matrix(x, self.n_visible, "DenoisingAutoencoder.transform")
        with no_grad():
            return np.concatenate([self.encode(Tensor(x[s:s + batch_size])).numpy()
                                   for s in range(0, len(x), batch_size)]) if len(x) else \
                np.zeros((0, self.n_hidden), np.float32)

    def encoder_layers(self) -> list[Module]:
        """A copy of the encoder as layers (Linear, activation) for an nn.Sequential."""
        return [copy.deepcopy(self.encoder), ACTIVATIONS[self.activation]()]


class StackedDenoisingAutoencoder:
    """Denoising autoencoders ``sizes[0]`` -> ``sizes[1]`` -> ... pre-trained greedily; every
    option of :class:`DenoisingAutoencoder` applies to each layer."""

    def __init__(self, sizes: Sequence[int], **options: Any) -> None:
        sizes = [int(s) for s in sizes]
        if len(sizes) < 2 or min(sizes) < 1:
            raise ValueError(f"StackedDenoisingAutoencoder: expected at least two sizes >= 1 (input, code), "
                             f"received {sizes}")
        self.sizes = sizes
        self.layers = [DenoisingAutoencoder(a, b, **options) for a, b in zip(sizes[:-1], sizes[1:])]

    def pretrain(self, x: Any, epochs: int = 10, batch_size: int = 20, lr: float = 1e-3, seed: int = 0,
                 progress: bool = False, callback: Callable[[int, DenoisingAutoencoder, int, float], Any] | None = None,
                 start: tuple[int, int] = (0, 0)) -> list[list[float]]:
        """Train each layer in turn on the clean codes of the layers below; returns each layer's
        losses. ``callback(layer, dae, epoch, loss)`` runs after every epoch; ``start`` =
        (layer, epoch) continues an interrupted pre-training."""
        codes = as_matrix(x, self.sizes[0], "StackedDenoisingAutoencoder.pretrain")
        history = []
        for i, dae in enumerate(self.layers):
            if i >= start[0]:
                history.append(dae.fit(codes, epochs, batch_size, lr, seed=seed + i, progress=progress,
                                       desc=f"layer {i + 1}/{len(self.layers)}",
                                       callback=None if callback is None else
                                       (lambda m, e, loss, i=i: callback(i, m, e, loss)),
                                       start_epoch=start[1] if i == start[0] else 0))
            codes = dae.transform(codes)
        return history

    def transform(self, x: Any) -> np.ndarray:
        """The top layer's codes of ``x``."""
        codes = as_matrix(x, self.sizes[0], "StackedDenoisingAutoencoder.transform")
        for dae in self.layers:
            codes = dae.transform(codes)
        return codes

    def encoder(self) -> Sequential:
        """The pre-trained encoder as an ordinary network (a copy of the weights)."""
        return Sequential(*[layer for dae in self.layers for layer in dae.encoder_layers()])

    def classifier(self, num_classes: int) -> Sequential:
        """The encoder with a new output layer of ``num_classes`` logits, for fine-tuning."""
        return Sequential(*self.encoder(), Linear(self.sizes[-1], num_classes))

    def state_dict(self) -> dict[str, np.ndarray]:
        return {f"{i}.{k}": np.asarray(v) for i, dae in enumerate(self.layers) for k, v in dae.state_dict().items()}

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        for i, dae in enumerate(self.layers):
            dae.load_state_dict({k.partition(".")[2]: v for k, v in state.items() if k.split(".")[0] == str(i)})
