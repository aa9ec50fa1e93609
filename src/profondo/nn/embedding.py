"""Embedding: a learnable lookup table of vectors indexed by integer ids."""

from __future__ import annotations

import numpy as np

from .. import functional as F
from . import init as _init
from .module import Module, _shape
from .parameter import Parameter


class Embedding(Module):
    """A (num_embeddings, embedding_dim) table drawn from N(0, 1); the ``padding_idx`` row is zero
    and receives no gradient.

    >>> Embedding(1000, 64, padding_idx=0)(profondo.tensor([[1, 2, 0]])).shape
    (1, 3, 64)
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx: int | None = None) -> None:
        super().__init__()
        n = int(num_embeddings)
        if padding_idx is not None:
            if not -n <= padding_idx < n:
                raise ValueError(f"Embedding({n}, {embedding_dim}): padding_idx must be within [-{n}, {n - 1}], "
                                 f"received {padding_idx}")
            padding_idx = int(padding_idx) % n  # PyTorch stores a negative index as its positive twin
        self.num_embeddings, self.embedding_dim, self.padding_idx = n, int(embedding_dim), padding_idx
        self.weight = Parameter(np.empty((n, self.embedding_dim), np.float32))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        _init.normal_(self.weight)
        if self.padding_idx is not None:
            self.weight.data[self.padding_idx] = 0

    def forward(self, indices):
        return F.embedding(indices, self.weight, self.padding_idx)

    def extra_repr(self) -> str:
        s = f"{self.num_embeddings}, {self.embedding_dim}"
        return s + (f", padding_idx={self.padding_idx}" if self.padding_idx is not None else "")

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        return _shape(input_shape, "Embedding") + (self.embedding_dim,)
