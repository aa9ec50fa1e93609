"""Embedding: a learnable lookup table of vectors indexed by integer ids."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import functional as F
from . import init as _init
from .counts import LayerCounts
from .module import Module, _shape
from .parameter import Parameter
from .vocabulary import POSITIVE, Field, FileKind, SpecError, non_negative, optional, positive, single


def _embedding_from_file(p: dict[str, Any], shapes: list[tuple[int, ...]], at: str) -> list[tuple[str, Module]]:
    (shape,) = shapes
    if len(shape) != 1:
        raise SpecError(f"{at}: 'embedding' expects an input [seq_len] of token ids, received {list(shape)}")
    if p["padding_idx"] is not None and p["padding_idx"] >= p["vocab"]:
        raise SpecError(f"{at}: field 'padding_idx' expected null or a token id in [0, {p['vocab']}), "
                        f"received {p['padding_idx']}")
    return single(Embedding(p["vocab"], p["dim"], p["padding_idx"]))


EMBEDDING = FileKind("embedding", {
    "vocab": Field(positive, POSITIVE), "dim": Field(positive, POSITIVE),
    "padding_idx": Field(optional(non_negative), "null or a token id in [0, vocab)", None)},
    _embedding_from_file, reads_token_ids=True)


class Embedding(Module):
    """A (num_embeddings, embedding_dim) table drawn from N(0, 1); the ``padding_idx`` row is zero
    and receives no gradient.

    >>> Embedding(1000, 64, padding_idx=0)(profondo.tensor([[1, 2, 0]])).shape
    (1, 3, 64)
    """

    file_kinds = (EMBEDDING,)

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

    def counts(self, input_shapes: list[tuple[int, ...]], output_shape: tuple[int, ...]) -> LayerCounts:
        return LayerCounts(math.prod(output_shape))  # a lookup: new neurons, no connections or MACs

    def file_entry(self, input_shapes: list[tuple[int, ...]], at: str) -> tuple[str, dict[str, Any]]:
        if len(input_shapes[0]) != 1:
            raise SpecError(f"{at}: an Embedding reads token ids [seq_len], but the layer receives "
                            f"{list(input_shapes[0])}")
        return "embedding", {"vocab": self.num_embeddings, "dim": self.embedding_dim, "padding_idx": self.padding_idx}
