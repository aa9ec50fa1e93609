"""Dropout: randomly zero activations while training (inverted scaling), identity in eval."""

from __future__ import annotations

from typing import Any

from .. import functional as F
from .activation import _Elementwise
from .vocabulary import Field, FileKind, number_in, single


class Dropout(_Elementwise):
    """Zero each element with probability ``p`` in training mode; the identity after ``eval()``.

    >>> drop = Dropout(0.5).eval()
    >>> drop(x) is x
    True
    """

    file_kinds = (FileKind("dropout", {"rate": Field(number_in(0, 1, high_open=True), "a probability in [0, 1)", 0.5,
                                                     True)},
                           lambda p, shapes, at: single(Dropout(p["rate"])), bare_field="rate"),)

    def __init__(self, p: float = 0.5) -> None:
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"Dropout: p must be in [0, 1), received {p}")
        self.p = float(p)

    def forward(self, x):
        return F.dropout(x, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"

    def file_entry(self, input_shapes: list[tuple[int, ...]], at: str) -> tuple[str, dict[str, Any]]:
        return "dropout", {"rate": self.p}
