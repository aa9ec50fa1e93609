"""Deep belief networks (Hinton, Osindero and Teh 2006): RBMs stacked and trained greedily,
each on the hidden probabilities of the one below, then unrolled into an ordinary network
and fine-tuned by backpropagation through :class:`profondo.train.TrainStep` (or the Trainer).

Two unrollings: :meth:`DBN.classifier` (the recognition weights with a new softmax layer,
as in Hinton and Salakhutdinov's MNIST classifier) and :meth:`DBN.autoencoder` (the
recognition weights, then the generative ones transposed: Hinton and Salakhutdinov 2006).

>>> dbn = DBN([784, 500, 500, 2000], seed=0)
>>> dbn.pretrain(x_train, epochs=10, lr=0.05, momentum=(0.5, 0.9), weight_decay=2e-4)
>>> model = dbn.classifier(10)          # nn.Sequential of Linear + Sigmoid, then Linear(2000, 10)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..nn import Linear, Sequential, Sigmoid
from ..train.progress import ProgressBar
from .rbm import RBM, as_matrix


class DBN:
    """A stack of RBMs ``sizes[0]`` x ``sizes[1]``, ``sizes[1]`` x ``sizes[2]``, ...; the
    first may have Gaussian visible units (``visible="gaussian"``), the others are Bernoulli."""

    def __init__(self, sizes: Sequence[int], visible: str = "bernoulli", seed: int = 0) -> None:
        sizes = [int(s) for s in sizes]
        if len(sizes) < 2 or min(sizes) < 1:
            raise ValueError(f"DBN: expected at least two layer sizes >= 1, received {sizes}")
        self.sizes = sizes
        self.rbms = [RBM(a, b, visible if i == 0 else "bernoulli", seed=seed + i)
                     for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:]))]

    def pretrain(self, x: Any, epochs: int = 10, progress: bool = False,
                 callback: Callable[[int, RBM, int], Any] | None = None, **options: Any) -> DBN:
        """Train the RBMs bottom-up, each for ``epochs`` epochs (an RBM restored mid-way
        continues from its ``epochs_done``); ``options`` go to :meth:`RBM.fit` (batch_size, lr,
        k, persistent, momentum, weight_decay). ``callback(layer, rbm, epoch)`` after every epoch."""
        codes = as_matrix(x, self.sizes[0], "DBN.pretrain")
        for i, rbm in enumerate(self.rbms):
            bar = ProgressBar(epochs, f"RBM {i + 1}/{len(self.rbms)} {rbm.n_visible}x{rbm.n_hidden}",
                              enabled=progress)
            bar.update(rbm.epochs_done)

            def after_epoch(r: RBM, epoch: int, i: int = i, bar: ProgressBar = bar, seen: np.ndarray = codes) -> None:
                bar.update(1, len(seen), recon=r.reconstruction_error(seen[:1000]))
                if callback is not None:
                    callback(i, r, epoch)

            rbm.fit(codes, epochs, callback=after_epoch, **options)
            bar.close()
            codes = rbm.transform(codes)
        return self

    def transform(self, x: Any) -> np.ndarray:
        """The top layer's hidden probabilities."""
        codes = as_matrix(x, self.sizes[0], "DBN.transform")
        for rbm in self.rbms:
            codes = rbm.transform(codes)
        return codes

    def encoder(self) -> Sequential:
        """The recognition path as a network: Linear + Sigmoid per RBM (copies of the weights)."""
        layers = []
        for rbm in self.rbms:
            layers += [rbm.to_linear(), Sigmoid()]
        return Sequential(*layers)

    def classifier(self, num_classes: int) -> Sequential:
        """The encoder with a new output layer of ``num_classes`` logits, to fine-tune."""
        return Sequential(*self.encoder(), Linear(self.sizes[-1], num_classes))

    def autoencoder(self) -> Sequential:
        """Encoder, then decoder with each RBM's weights transposed and its visible biases; the
        output is sigmoid (Bernoulli data) or linear (a Gaussian first layer). Untied copies:
        fine-tuning may move the two halves apart, as in Hinton and Salakhutdinov (2006)."""
        layers = list(self.encoder())
        for j, rbm in enumerate(reversed(self.rbms)):
            layer = Linear(rbm.n_hidden, rbm.n_visible)
            layer.weight.data[...] = rbm.weight.T
            layer.bias.data[...] = rbm.visible_bias
            layers.append(layer)
            if j < len(self.rbms) - 1 or rbm.visible == "bernoulli":
                layers.append(Sigmoid())
        return Sequential(*layers)
