"""Architecture file (as a dict) -> Module, inferring every layer's input size from ``input``.

One layer of a file may become several modules: ``conv: {activation: relu}`` is a Conv2d
followed by a ReLU, and a ``dense`` layer after a volume starts with a Flatten (as in
ConvNetJS); so does one after a recurrent layer with ``output: sequence``: a dense layer
reads the whole sequence, ``seq_len x hidden`` features, not each step. Modules take the layer's ``name`` (the extras ``<name>_relu``,
``<name>_flatten``) or, unnamed, their position ("0", "1", ... as in a PyTorch
Sequential), so state-dict keys are those of the equivalent PyTorch network.

Sequences: ``embedding`` reads the network input, per-sample ``[seq_len]`` token ids, and
outputs ``[seq_len, dim]``; ``lstm``, ``gru`` and ``rnn`` read ``[seq_len, features]`` and
become an ``nn.Recurrent`` whose ``output`` is ``[seq_len, hidden * directions]``
(``sequence``) or ``[hidden * directions]`` (``last``, ``mean``, ``max``).

The final softmax (``activation: softmax`` on the last layer, or a last ``softmax`` layer)
is not built as a module: the network outputs logits, which is what ``cross_entropy``
expects, and ``module.spec.output_activation == "softmax"`` tells ``predict`` to apply it
to turn logits into probabilities.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from .. import nn
from ..nn.graph import INPUT, Add, Concat, Graph, topological_order
from .schema import MERGING, RECURRENT, SpecError, parse_entry, where


@dataclass
class Spec:
    """What a module built from a file keeps of it (``module.spec``): the network's name, its
    per-sample input shape and the activation applied to its outputs at prediction time."""

    name: str
    input: tuple[int, ...]
    output_activation: str | None = None


ACTIVATION_MODULES: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU, "relu6": nn.ReLU6, "leaky_relu": nn.LeakyReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh,
    "softmax": nn.Softmax, "log_softmax": nn.LogSoftmax, "identity": nn.Identity,
}


def _pair(v) -> tuple[int, int]:
    return (v, v) if isinstance(v, int) else tuple(v)


def _arg(v):
    """A size as the layer constructors take it: an int stays an int."""
    return v if isinstance(v, int) else tuple(v)


def size_rule(at: str, axis: str, n: int, kernel: int, stride: int, pad: int, dilation: int, rounding: str) -> int:
    """``W_out = (W_in - F + 2P)/S + 1``, an error showing the arithmetic unless it divides (or
    ``rounding == "floor"``). ``size_rule("layer 3 (conv2)", "W", 16, 5, 1, 2, 1, "exact") == 16``"""
    span = dilation * (kernel - 1) + 1
    numerator = n - span + 2 * pad
    arithmetic = f"{at}: {axis}_out = ({n} - {span} + 2*{pad})/{stride} + 1 = {numerator / stride + 1:g}"
    if numerator < 0:
        raise SpecError(f"{arithmetic}: the window ({span}) is larger than the padded input ({n + 2 * pad})")
    if numerator % stride and rounding == "exact":
        raise SpecError(f"{arithmetic} is not an integer: change size, stride or pad, or add `round: floor` to "
                        f"the layer to take {numerator // stride + 1} as PyTorch does")
    return numerator // stride + 1


def _volume(kind: str, shape: tuple[int, ...], at: str) -> None:
    if len(shape) != 3:
        raise SpecError(f"{at}: '{kind}' expects an input volume [channels, height, width], received {list(shape)}")


def _with_activation(main: nn.Module, activation: str | None) -> list[tuple[str, nn.Module]]:
    modules = [("", main)]
    if activation in ("softmax", "log_softmax"):  # over the channels or features
        modules.append((activation, ACTIVATION_MODULES[activation](1)))
    elif activation not in (None, "identity"):  # identity: a linear layer, no module
        modules.append((activation, ACTIVATION_MODULES[activation]()))
    return modules


def _expand(kind: str, p: dict[str, Any], shapes: list[tuple[int, ...]], at: str) -> list[tuple[str, nn.Module]]:
    """The modules of one layer as (suffix, module); the suffix "" marks the main module."""
    if kind in MERGING:
        if len(shapes) < 2:
            raise SpecError(f"{at}: '{kind}' joins two or more inputs, received {len(shapes)}")
        return [("", Add() if kind == "add" else Concat(p["axis"]))]
    if len(shapes) != 1:
        raise SpecError(f"{at}: '{kind}' takes one input, received {len(shapes)}")
    shape = shapes[0]
    if kind == "conv":
        _volume(kind, shape, at)
        channels, groups = shape[0], p["groups"]
        if channels % groups or p["filters"] % groups:
            raise SpecError(f"{at}: field 'groups' expected a divisor of the input depth ({channels}) and of "
                            f"filters ({p['filters']}), received {groups}")
        k, s, pad, d = (_pair(p[f]) for f in ("size", "stride", "pad", "dilation"))
        for i, axis in enumerate("HW"):
            size_rule(at, axis, shape[1 + i], k[i], s[i], pad[i], d[i], p["round"])
        conv = nn.Conv2d(channels, p["filters"], _arg(p["size"]), _arg(p["stride"]), _arg(p["pad"]),
                         _arg(p["dilation"]), groups, p["bias"], p["init"])
        return _with_activation(conv, p["activation"])
    if kind == "pool":
        _volume(kind, shape, at)
        stride = p["size"] if p["stride"] is None else p["stride"]
        k, s, pad = _pair(p["size"]), _pair(stride), _pair(p["pad"])
        if pad[0] > k[0] // 2 or pad[1] > k[1] // 2:
            raise SpecError(f"{at}: field 'pad' expected at most half the size ({p['size']}), received {p['pad']}")
        for i, axis in enumerate("HW"):
            size_rule(at, axis, shape[1 + i], k[i], s[i], pad[i], 1, p["round"])
        pool = nn.MaxPool2d if p["type"] == "max" else nn.AvgPool2d
        return [("", pool(_arg(p["size"]), _arg(stride), _arg(p["pad"])))]
    if kind == "dense":
        flatten = [("flatten", nn.Flatten())] if len(shape) > 1 else []
        dense = nn.Linear(math.prod(shape), p["units"], p["bias"], p["init"])
        return flatten + _with_activation(dense, p["activation"])
    if kind == "flatten":
        return [("", nn.Flatten())]
    if kind == "embedding":
        if len(shape) != 1:
            raise SpecError(f"{at}: 'embedding' expects an input [seq_len] of token ids, received {list(shape)}")
        if p["padding_idx"] is not None and p["padding_idx"] >= p["vocab"]:
            raise SpecError(f"{at}: field 'padding_idx' expected null or a token id in [0, {p['vocab']}), "
                            f"received {p['padding_idx']}")
        return [("", nn.Embedding(p["vocab"], p["dim"], p["padding_idx"]))]
    if kind in RECURRENT:
        if len(shape) != 2:
            raise SpecError(f"{at}: '{kind}' expects an input [seq_len, features] (from an embedding or a recurrent "
                            f"layer with output: sequence), received {list(shape)}")
        extra = {"nonlinearity": p["nonlinearity"]} if kind == "rnn" else {}
        return [("", nn.Recurrent(kind, shape[1], p["hidden"], p["layers"], p["bidirectional"], p["dropout"],
                                  p["output"], **extra))]
    if kind == "dropout":
        return [("", nn.Dropout(p["rate"]))]
    if kind == "batchnorm":
        if len(shape) not in (1, 2, 3):
            raise SpecError(f"{at}: 'batchnorm' expects [features], [channels, length] or [channels, height, "
                            f"width], received {list(shape)}")
        norm = nn.BatchNorm2d if len(shape) == 3 else nn.BatchNorm1d
        return [("", norm(shape[0], p["eps"], p["momentum"], p["affine"]))]
    if kind == "global_pool":
        _volume(kind, shape, at)
        return [("", nn.GlobalAvgPool2d())]
    if kind == "leaky_relu":
        return [("", nn.LeakyReLU(p["slope"]))]
    if kind in ("softmax", "log_softmax"):
        return [("", ACTIVATION_MODULES[kind](p["dim"]))]
    return [("", ACTIVATION_MODULES[kind]())]


def output_shape(module: nn.Module, shapes: list[tuple[int, ...]], at: str, names: list[str] | None = None):
    """``module.output_shape`` with errors that name the layer (and the inputs it received)."""
    try:
        return tuple(module.output_shape(*shapes))
    except ValueError as e:
        received = ", ".join(f"{n!r} {list(s)}" for n, s in zip(names, shapes)) if names else list(shapes[0])
        raise SpecError(f"{at}: input {received}: {e}") from None


# Module attributes ("forward", "training", "eval", "outputs", ...) cannot name a layer: the child would hide them.
_RESERVED = (frozenset(dir(nn.Sequential())) | frozenset(dir(Graph([("_", nn.Identity(), INPUT)], "_")))
             | {"spec"}) - {"_"}


def _check_name(unit: str, at: str) -> None:
    if unit in _RESERVED:
        raise SpecError(f"{at}: the name {unit!r} is taken by a Module attribute; choose another")


def _is_final_softmax(module: nn.Module) -> bool:
    return type(module) is nn.Softmax and module.dim == 1


def _check_shape(value: Any, what: str) -> tuple[int, ...]:
    ok = isinstance(value, (list, tuple)) and value and all(isinstance(v, int) and not isinstance(v, bool)
                                                           and v >= 1 for v in value)
    if not ok:
        raise SpecError(f"{what} expected the per-sample input shape as a list of positive integers, e.g. "
                        f"[3, 32, 32] (channels, height, width) or [784], received {value!r}")
    return tuple(value)


def _sequential(layers: list, shape: tuple[int, ...]) -> tuple[nn.Sequential, bool]:
    modules: dict[str, nn.Module] = {}
    owner: dict[str, int] = {}
    for index, entry in enumerate(layers):
        kind, name, p, _ = parse_entry(entry, index)
        at = where(index, name, kind)
        if kind in MERGING:
            raise SpecError(f"{at}: '{kind}' joins several inputs: write the network in the graph form "
                            "('nodes:' whose entries name their 'inputs')")
        if kind == "embedding" and modules:
            raise SpecError(f"{at}: 'embedding' reads token ids, the network input: it must be the first layer")
        for suffix, module in _expand(kind, p, [shape], at):
            unit = (f"{name}_{suffix}" if suffix else name) if name else str(len(modules))
            if unit in modules:
                raise SpecError(f"{at}: module name {unit!r} is already taken by layer {owner[unit]}")
            _check_name(unit, at)
            modules[unit], owner[unit] = module, index
            shape = output_shape(module, [shape], at)
    if not modules:
        raise SpecError("field 'layers' expected a non-empty list of layers, received []")
    last = next(reversed(modules))
    final_softmax = _is_final_softmax(modules[last])
    if final_softmax:
        del modules[last]
    return nn.Sequential(modules), final_softmax


def _graph(entries: list, outputs: Any, shape: tuple[int, ...]) -> tuple[Graph, bool]:
    parsed: dict[str, tuple[int, str, dict, list[str]]] = {}
    for index, entry in enumerate(entries):
        kind, name, p, inputs = parse_entry(entry, index, node=True)
        at = where(index, name, kind, node=True)
        if name is None:
            raise SpecError(f"{at}: missing field 'name' (every node of the graph form is named)")
        if name in parsed:
            raise SpecError(f"{at}: node name {name!r} is used twice (also by node {parsed[name][0]})")
        parsed[name] = (index, kind, p, inputs or [list(parsed)[-1] if parsed else INPUT])
    if not parsed:
        raise SpecError("field 'nodes' expected a non-empty list of nodes, received []")
    for name, (index, kind, _, inputs) in parsed.items():
        for i in inputs:
            if i != INPUT and i not in parsed:
                raise SpecError(f"{where(index, name, kind, node=True)}: unknown input {i!r}; expected "
                                f"'{INPUT}' (the network input) or one of the nodes {list(parsed)}")
    if outputs is None:
        outputs = [list(parsed)[-1]]
    outputs = [outputs] if isinstance(outputs, str) else outputs
    if not isinstance(outputs, list) or not outputs or any(o not in parsed for o in outputs):
        raise SpecError(f"field 'outputs' expected a list of node names out of {list(parsed)}, received {outputs!r}")
    try:
        order = topological_order({n: v[3] for n, v in parsed.items()})
    except ValueError as e:
        raise SpecError(f"nodes: {e}") from None
    final = {INPUT: INPUT}  # node name -> the unit holding its result (after its activation)
    shapes = {INPUT: shape}
    units: dict[str, tuple[nn.Module, list[str]]] = {}
    for name in order:
        index, kind, p, inputs = parsed[name]
        at = where(index, name, kind, node=True)
        ins = [final[i] for i in inputs]
        if kind == "embedding" and inputs != [INPUT]:
            raise SpecError(f"{at}: 'embedding' reads token ids, the network input: expected inputs "
                            f"['{INPUT}'], received {inputs}")
        for suffix, module in _expand(kind, p, [shapes[i] for i in ins], at):
            unit = f"{name}_{suffix}" if suffix else name
            if unit in units or (unit != name and unit in parsed):
                raise SpecError(f"{at}: the module {unit!r} it adds clashes with a node of that name")
            _check_name(unit, at)
            shapes[unit] = output_shape(module, [shapes[i] for i in ins], at, ins if len(ins) > 1 else None)
            units[unit], ins = (module, ins), [unit]
        final[name] = ins[0]
    outs = [final[o] for o in outputs]
    last = outs[0]
    final_softmax = (len(outs) == 1 and _is_final_softmax(units[last][0])
                     and not any(last in ins for _, ins in units.values()))
    if final_softmax:
        outs = units.pop(last)[1]
    return Graph([(n, m, ins) for n, (m, ins) in units.items()], outs), final_softmax


_TOP = ("name", "input", "layers", "nodes", "outputs")


def from_dict(d: dict[str, Any]) -> nn.Module:
    """Build the network an architecture file describes (already parsed from YAML/JSON).

    >>> net = from_dict({"name": "tiny", "input": [4], "layers": [{"dense": {"units": 3}}]})
    >>> net.spec.input
    (4,)
    """
    if not isinstance(d, dict):
        raise SpecError(f"an architecture file is a map with 'name', 'input' and 'layers' (or 'nodes'), "
                        f"received {type(d).__name__}")
    for key in d:
        if key not in _TOP:
            raise SpecError(f"unknown top-level field {key!r}; valid fields: {', '.join(_TOP)}")
    if "input" not in d:
        raise SpecError("missing field 'input': expected the per-sample input shape, e.g. [3, 32, 32] or [784]")
    shape = _check_shape(d["input"], "field 'input'")
    name = d.get("name", "network")
    if not isinstance(name, str):
        raise SpecError(f"field 'name' expected a string, received {name!r}")
    if ("layers" in d) == ("nodes" in d):
        raise SpecError("expected exactly one of 'layers' (a chain of layers) and 'nodes' (a named graph), "
                        f"received {'both' if 'layers' in d else 'neither'}")
    body = d.get("layers", d.get("nodes"))
    if not isinstance(body, list):
        raise SpecError(f"field '{'layers' if 'layers' in d else 'nodes'}' expected a list, received {body!r}")
    if "layers" in d:
        if "outputs" in d:
            raise SpecError("field 'outputs' belongs to the graph form (with 'nodes'), not to 'layers'")
        module, final_softmax = _sequential(body, shape)
    else:
        module, final_softmax = _graph(body, d.get("outputs"), shape)
    module.spec = Spec(name, shape, "softmax" if final_softmax else None)
    return module
