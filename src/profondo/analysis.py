"""Per-layer counts of a network for one input sample, from shapes alone (no forward pass).

Counting conventions (DESIGN.md):

- neurons: elements of a layer's output volume. Element-wise and reshaping layers
  (activations, dropout, batch norm, flatten, concat) act on neurons that already exist
  and add none. The network total also counts the input volume; a second total counts
  only the layers with weights.
- connections: for each output neuron, the input neurons it reads. Convolution: output
  elements x (F x F x input depth / groups), padding positions included; pooling: output
  elements x window (global pooling: the whole map); dense: inputs x outputs; a residual
  add: output elements x number of inputs; a recurrent layer: seq_len x its
  per-step products W_ih x + W_hh h; an embedding: none
  (a lookup). Biases are weights, not connections.
- weights: learnable parameters, biases included (running statistics are buffers, not weights).
- MACs: the multiply-accumulates of forward: one per connection of a convolution or dense
  layer, one per element for batch norm's scale and shift, seq_len x ``macs_per_step()``
  for a recurrent layer (its gate arithmetic is not counted); pooling, activations, adds
  and embedding lookups count none. FLOPs = 2 x MACs.
- memory: bytes of each layer's output (float32 by default); flatten and identity are views
  and take none. The total adds the input.

Each layer class declares these counts next to its definition (``Module.counts``); a module
without a rule of its own reports its output and weights, with neurons = output elements when
it has weights and no connections or MACs.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field
from typing import TextIO

from . import nn
from .nn.graph import INPUT, Graph


@dataclass
class LayerStats:
    """The counts of one layer (a leaf module) for one sample."""

    name: str
    kind: str
    output_shape: tuple
    neurons: int
    connections: int
    weights: int
    macs: int
    memory: int
    inputs: tuple[str, ...] = ()
    macs_per_step: int = 0  # recurrent layers: macs = steps x macs_per_step
    steps: int = 0

    @property
    def flops(self) -> int:
        return 2 * self.macs


@dataclass
class Analysis:
    """The rows of :func:`analyze` and the network's totals."""

    name: str
    input_shape: tuple[int, ...]
    layers: list[LayerStats]
    weights: int  # distinct parameters of the module (a shared one counts once)
    trainable_weights: int
    bytes_per_element: int = 4
    output_shape: tuple = field(default=())
    buffers: int = 0  # values of the running statistics (batch norm): state that gradients do not train

    @property
    def input_neurons(self) -> int:
        return math.prod(self.input_shape)

    @property
    def neurons(self) -> int:
        """Neurons of the whole network, the input volume included."""
        return self.input_neurons + sum(r.neurons for r in self.layers)

    @property
    def weighted_neurons(self) -> int:
        """Neurons of the layers with weights only."""
        return sum(r.neurons for r in self.layers if r.weights)

    @property
    def connections(self) -> int:
        return sum(r.connections for r in self.layers)

    @property
    def macs(self) -> int:
        return sum(r.macs for r in self.layers)

    @property
    def flops(self) -> int:
        return 2 * self.macs

    @property
    def memory(self) -> int:
        """Bytes of the activations of one forward pass, the input included."""
        return self.input_neurons * self.bytes_per_element + sum(r.memory for r in self.layers)

    def totals(self) -> dict[str, int]:
        return {k: getattr(self, k) for k in ("neurons", "weighted_neurons", "connections", "weights",
                                              "trainable_weights", "macs", "flops", "memory")}


def _count(name: str, m: nn.Module, shapes: list[tuple[int, ...]], out: tuple, size: int,
           inputs: tuple[str, ...]) -> LayerStats:
    """One row: the counts the layer declares (``Module.counts``), its weights and output memory."""
    c = m.counts(shapes, out)
    weights = sum(p.numel() for p in m.parameters())
    memory = 0 if c.view else math.prod(out) * size
    return LayerStats(name, _kind(m), tuple(out), c.neurons, c.connections, weights, c.macs, memory, inputs,
                      c.macs_per_step, c.steps)


_CELLS = {"LSTM": "LSTM", "GRU": "GRU", "RNN_TANH": "RNN tanh", "RNN_RELU": "RNN relu"}


def _kind(m: nn.Module) -> str:
    """The Type column: the class, and for recurrent layers the cell, direction, depth and output."""
    rnn = getattr(m, "rnn", None) if isinstance(m, nn.Recurrent) else m
    mode = getattr(rnn, "mode", None)
    if mode not in _CELLS or not hasattr(rnn, "bidirectional"):
        return type(m).__name__
    parts = [_CELLS[mode]] + (["bidirectional"] if rnn.bidirectional else [])
    parts += [f"{rnn.num_layers} layers"] if rnn.num_layers > 1 else []
    if rnn is not m:
        parts.append(f"output {m.output}")
    return ", ".join(parts)


def _trace(m: nn.Module, prefix: str, shapes: list[tuple[int, ...]], rows: list[LayerStats], size: int) -> tuple:
    """A module with its own ``forward`` (a subclass) and no ``output_shape``: run it once on a
    zero sample and count each layer it calls, in call order (as torchinfo does)."""
    import numpy as np

    from .autograd import no_grad
    from .tensor import Tensor

    calls: list[tuple[str, nn.Module, list[tuple[int, ...]], tuple]] = []
    leaves: list[tuple[str, nn.Module]] = []  # the layers: leaf modules, and Recurrent as one
    for name, child in m.named_modules():
        inside = any(name.startswith(f"{unit}.") for unit, _ in leaves)
        if child is not m and not inside and (isinstance(child, nn.Recurrent) or not any(True for _ in child.children())):
            leaves.append((name, child))

    def recording(name: str, layer: nn.Module):
        forward = type(layer).forward

        def record(*args, **kwargs):
            out = forward(layer, *args, **kwargs)
            first = out[0] if isinstance(out, tuple) else out
            calls.append((name, layer, [tuple(a.shape[1:]) for a in args if hasattr(a, "shape")],
                          tuple(first.shape[1:])))
            return out
        return record

    for name, layer in leaves:
        object.__setattr__(layer, "forward", recording(name, layer))
    training = m.training
    try:
        m.eval()
        with no_grad():
            out = m(*(Tensor(np.zeros((1, *s), np.float32)) for s in shapes))
    finally:
        for _, layer in leaves:
            layer.__dict__.pop("forward", None)
        m.train(training)
    seen: dict[str, int] = {}
    for name, layer, ins, shape in calls:
        seen[name] = seen.get(name, 0) + 1
        label = f"{prefix}.{name}" if prefix else name
        rows.append(_count(label if seen[name] == 1 else f"{label} (call {seen[name]})", layer, ins, shape, size, ()))
    first = out[0] if isinstance(out, tuple) else out
    return tuple(first.shape[1:])


def _walk(m: nn.Module, prefix: str, shapes: list[tuple[int, ...]], rows: list[LayerStats], size: int,
          inputs: tuple[str, ...] = ()) -> tuple:
    if type(m) is nn.Sequential:
        shape = shapes[0]
        for name, child in m.named_children():
            shape = _walk(child, f"{prefix}.{name}" if prefix else name, [shape], rows, size)
        return shape
    if isinstance(m, Graph):
        values = {INPUT: shapes[0]}
        for name, ins in m._order:
            values[name] = _walk(m._modules[name], f"{prefix}.{name}" if prefix else name, [values[i] for i in ins], rows,
                                 size, tuple(ins))
        outs = tuple(values[o] for o in m.outputs)
        return outs[0] if len(outs) == 1 else outs
    try:
        out = tuple(m.output_shape(*shapes))
    except NotImplementedError as e:
        if any(True for _ in m.children()):
            return _trace(m, prefix, shapes, rows, size)
        raise NotImplementedError(f"analysis of {prefix or 'the module'} ({type(m).__name__}) with input "
                                  f"{', '.join(str(list(s)) for s in shapes)}: {e}") from None
    except ValueError as e:
        raise type(e)(f"analysis of {prefix or 'the module'} ({type(m).__name__}) with input "
                      f"{', '.join(str(list(s)) for s in shapes)}: {e}") from None
    rows.append(_count(prefix, m, shapes, out, size, inputs))
    return out


def _input_shape(module: nn.Module, input_shape) -> tuple[int, ...]:
    if input_shape is None:
        spec = getattr(module, "spec", None)
        if spec is None:
            raise ValueError(f"analysis: pass input_shape, the per-sample input shape such as (3, 32, 32): this "
                             f"{type(module).__name__} was not built from an architecture file")
        input_shape = spec.input
    return tuple(int(s) for s in input_shape)


def analyze(module: nn.Module, input_shape: tuple[int, ...] | None = None, bytes_per_element: int = 4) -> Analysis:
    """Per-layer and total counts for one sample of per-sample shape ``input_shape`` (no batch
    axis; taken from ``module.spec`` for a network built from a file).

    Sequential and Graph containers, nested, are followed layer by layer; a module with
    sub-modules and a ``forward`` of its own (a subclass) is run once on a zero sample and each
    layer it calls is one row, in call order; any other module is one row.

    >>> a = analyze(nn.Sequential(nn.Conv2d(3, 6, 5)), (3, 32, 32))
    >>> a.layers[0].neurons, a.layers[0].connections, a.weights     # 28*28*6, 4704*5*5*3
    (4704, 352800, 456)
    """
    shape = _input_shape(module, input_shape)
    rows: list[LayerStats] = []
    out = _walk(module, "", [shape], rows, bytes_per_element)
    params = list(module.parameters())
    spec = getattr(module, "spec", None)
    buffers = sum(b.numel() for _, b in module.named_buffers() if b is not None and b.dtype.kind == "f")
    return Analysis(spec.name if spec else type(module).__name__, shape, rows, sum(p.numel() for p in params),
                    sum(p.numel() for p in params if p.requires_grad), bytes_per_element, out, buffers)


def _bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024


def _si(n: int) -> str:
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if n >= scale:
            return f" ({n / scale:.2f} {unit})"
    return ""


def summary(module: nn.Module, input_shape: tuple[int, ...] | None = None, file: TextIO | None = None) -> str:
    """Print a per-layer table with a totals block (Keras style) to ``file`` (standard output by
    default) and return its text.

    >>> text = summary(profondo.architecture.zoo.load("lenet5"))
    >>> "61,706" in text
    True
    """
    a = analyze(module, input_shape)
    graph = any(r.inputs for r in a.layers)
    header = ["Layer", "Type", "Output shape", "Neurons", "Connections", "Weights", "MACs", "Memory"]
    header += ["Inputs"] if graph else []
    table = [["input", "", str(a.input_shape), f"{a.input_neurons:,}", "", "", "", _bytes(a.input_neurons * 4)]]
    for r in a.layers:
        table.append([r.name, r.kind, str(r.output_shape), f"{r.neurons:,}", f"{r.connections:,}", f"{r.weights:,}",
                      f"{r.macs:,}", _bytes(r.memory)] + ([", ".join(r.inputs)] if graph else []))
    if graph:
        table[0].append("")
    widths = [max(len(row[i]) for row in [header, *table]) for i in range(len(header))]
    left = {0, 1, 2, 8}

    def line(cells: list[str]) -> str:
        return "  ".join(c.ljust(w) if i in left else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    rule = "-" * len(line(header))
    trainable = a.trainable_weights
    text = "\n".join([
        f"Model: {a.name}, input {a.input_shape}, output {a.output_shape}", "=" * len(rule), line(header), rule,
        *(line(row) for row in table), "=" * len(rule),
        f"Neurons:           {a.neurons:,} (input {a.input_neurons:,} + layers {a.neurons - a.input_neurons:,}); "
        f"in layers with weights: {a.weighted_neurons:,}",
        f"Connections:       {a.connections:,}",
        f"Weights:           {a.weights:,} (trainable {trainable:,}, non-trainable {a.weights - trainable:,}), "
        f"{_bytes(a.weights * 4)}" + (f"; plus {a.buffers:,} non-trainable running statistics (batch norm's mean "
                                      f"and variance), {_bytes(a.buffers * 4)}" if a.buffers else ""),
        f"MACs:              {a.macs:,}{_si(a.macs)}; FLOPs: {a.flops:,}{_si(a.flops)}",
        f"Activation memory: {_bytes(a.memory)} per sample (float32 outputs of every layer and the input)",
        *(f"Recurrent {r.name}: {r.macs_per_step:,} MACs per time step x {r.steps:,} steps = {r.macs:,}"
          for r in a.layers if r.macs_per_step),
    ])
    print(text, file=file or sys.stdout)
    return text
