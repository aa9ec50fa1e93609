"""What a layer counts for one sample (DESIGN.md's conventions), declared by each layer class.

A layer answers ``counts(input_shapes, output_shape)`` from shapes alone; the analysis adds the
weights (its parameters) and the memory (its output, unless the layer is a view).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .module import Module

Shape = tuple[int, ...]


@dataclass(frozen=True)
class LayerCounts:
    """neurons: output elements the layer creates (0 for element-wise and reshaping layers);
    connections: input neurons read, summed over the output neurons; macs: multiply-accumulates
    of forward; view: the output shares the input's memory; recurrent layers also give
    ``steps`` and ``macs_per_step`` (macs = steps x macs_per_step)."""

    neurons: int
    connections: int = 0
    macs: int = 0
    view: bool = False
    steps: int = 0
    macs_per_step: int = 0

    @staticmethod
    def total(parts: Iterable[LayerCounts]) -> LayerCounts:
        """The counts of layers run one after another (a container or a composite model)."""
        parts = list(parts)
        return LayerCounts(sum(p.neurons for p in parts), sum(p.connections for p in parts),
                           sum(p.macs for p in parts))


def elements(shape: Shape) -> int:
    return math.prod(shape)


def elementwise(output_shape: Shape) -> LayerCounts:
    """A layer acting on neurons that already exist (activations, dropout): nothing new."""
    return LayerCounts(0)


def windowed(output_shape: Shape, window: int, weighted: bool) -> LayerCounts:
    """Each output neuron reads ``window`` inputs; a weighted window (convolution, dense) is one
    multiply-accumulate per connection, an unweighted one (pooling) none."""
    connections = elements(output_shape) * window
    return LayerCounts(elements(output_shape), connections, connections if weighted else 0)


def chain(modules: Iterable[Module], input_shape: Shape) -> LayerCounts:
    """The counts of modules applied one after another to a per-sample ``input_shape`` (a container, or
    the layers a composite model's forward runs)."""
    parts, shape = [], input_shape
    for m in modules:
        out = m.output_shape(shape)
        parts.append(m.counts([shape], out))
        shape = out
    return LayerCounts.total(parts)
