"""Unsupervised models: restricted Boltzmann machines, deep belief networks, (stacked)
denoising autoencoders and Hierarchical Temporal Memory.

They learn from inputs alone and hand what they learn to supervised training: a DBN or a
stacked autoencoder unrolls into an ordinary :class:`profondo.nn.Sequential` that
:class:`profondo.train.TrainStep` fine-tunes, and their codes feed the classifiers of
:mod:`profondo.transfer`.
"""

from .rbm import RBM

__all__ = ["RBM"]
