"""Embedding lookup: rows of a weight matrix picked by integer indices."""

from __future__ import annotations

from ..autograd import Function, unwrap


class Embedding(Function):
    def __init__(self, indices, padding_idx) -> None:
        self.indices, self.padding_idx = indices, padding_idx

    def forward(self, weight):
        idx = self.indices
        if idx.dtype.kind not in "iu":
            raise TypeError(f"embedding: indices must be integers, received dtype {idx.dtype}")
        if idx.size and (int(idx.min()) < 0 or int(idx.max()) >= weight.shape[0]):
            bad = int(idx.min()) if int(idx.min()) < 0 else int(idx.max())
            raise ValueError(f"embedding: index {bad} is out of range for {weight.shape[0]} rows (expected 0..{weight.shape[0] - 1})")
        self.weight_shape = weight.shape
        return weight[idx]

    def backward(self, gy):
        xp = self.xp
        g = xp.zeros(self.weight_shape, gy.dtype)
        xp.add.at(g, self.indices.reshape(-1), gy.reshape(-1, self.weight_shape[1]))
        if self.padding_idx is not None:
            g[self.padding_idx] = 0
        return g

    def composite(self, weight):
        rows = weight[self.indices]
        if self.padding_idx is None:
            return rows
        from .arithmetic import where

        pad = self.padding_idx % weight.shape[0]  # -1: the last row, as in PyTorch
        return where((self.indices != pad)[..., None], rows, rows.detach())  # no gradient to the padding row


def embedding(indices, weight, padding_idx: int | None = None):
    """``weight[indices]`` with a gradient that adds up repeated indices.

    >>> vectors = embedding(token_ids, table)   # (N, T) ids, (V, D) table -> (N, T, D)
    """
    idx = unwrap(indices)
    import numpy as np

    if not hasattr(idx, "dtype"):
        idx = np.asarray(idx)
    return Embedding(idx, padding_idx).apply(weight)
