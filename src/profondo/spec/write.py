"""Module -> architecture file (as a dict): the inverse of :func:`profondo.spec.from_dict`.

A Conv2d or Linear followed by its activation module becomes one layer with
``activation:``, a Flatten before a Linear on a volume (or sequence) is left implicit, an
``nn.Recurrent`` becomes the ``lstm``, ``gru`` or ``rnn`` layer it wraps, and fields at
their default values are omitted, undoing what the builder expands.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from .. import nn
from ..nn.graph import INPUT, Add, Concat, Graph
from .build import ACTIVATION_MODULES, _pair, output_shape
from .schema import KINDS, SpecError

_SIMPLE = {cls: kind for kind, cls in ACTIVATION_MODULES.items()}
_SIMPLE.update({nn.Flatten: "flatten", nn.GlobalAvgPool2d: "global_pool", Add: "add"})


def _short(v):
    """(3, 3) -> 3: write a pair of equal sizes as one number."""
    v = _pair(v)
    return v[0] if v[0] == v[1] else list(v)


def _rounding(shape, kernel, stride, pad, dilation=(1, 1)) -> str:
    inexact = any((shape[1 + i] - dilation[i] * (kernel[i] - 1) - 1 + 2 * pad[i]) % stride[i] for i in range(2))
    return "floor" if inexact else "exact"


def _describe(m: nn.Module, shapes: list[tuple[int, ...]], at: str) -> tuple[str, dict[str, Any]]:
    """One module as (kind, fields) of a file, checked against the shape(s) it receives."""
    t, shape = type(m), shapes[0]
    if t is nn.Conv2d:
        if len(shape) != 3 or shape[0] != m.in_channels:
            raise SpecError(f"{at}: in_channels={m.in_channels} but the layer receives {list(shape)}")
        f = {"filters": m.out_channels, "size": _short(m.kernel_size), "stride": _short(m.stride),
             "pad": _short(m.padding), "dilation": _short(m.dilation), "groups": m.groups, "bias": m.bias is not None,
             "init": m.init, "round": _rounding(shape, m.kernel_size, m.stride, m.padding, m.dilation)}
        kind = "conv"
    elif t in (nn.MaxPool2d, nn.AvgPool2d):
        f = {"type": "max" if t is nn.MaxPool2d else "avg", "size": _short(m.kernel_size), "pad": _short(m.padding),
             "round": _rounding(shape, _pair(m.kernel_size), _pair(m.stride), _pair(m.padding))}
        if _pair(m.stride) != _pair(m.kernel_size):
            f["stride"] = _short(m.stride)
        kind = "pool"
    elif t is nn.Linear:
        if len(shape) != 1 or shape[0] != m.in_features:
            raise SpecError(f"{at}: in_features={m.in_features} but the layer receives {list(shape)} (a file's "
                            "dense layer flattens its input first)")
        kind, f = "dense", {"units": m.out_features, "bias": m.bias is not None, "init": m.init}
    elif t is nn.Embedding:
        if len(shape) != 1:
            raise SpecError(f"{at}: an Embedding reads token ids [seq_len], but the layer receives {list(shape)}")
        kind, f = "embedding", {"vocab": m.num_embeddings, "dim": m.embedding_dim, "padding_idx": m.padding_idx}
    elif t is nn.Recurrent:
        rnn = m.rnn
        if len(shape) != 2 or shape[1] != rnn.input_size:
            raise SpecError(f"{at}: input_size={rnn.input_size} but the layer receives {list(shape)}")
        if not rnn.bias:
            raise SpecError(f"{at}: a recurrent layer without biases has no file form")
        kind, f = m.cell, {"hidden": rnn.hidden_size, "layers": rnn.num_layers, "bidirectional": rnn.bidirectional,
                           "dropout": rnn.dropout, "output": m.output}
        if kind == "rnn":
            f["nonlinearity"] = rnn.nonlinearity
    elif t is nn.Dropout:
        kind, f = "dropout", {"rate": m.p}
    elif t in (nn.BatchNorm1d, nn.BatchNorm2d):
        if not m.track_running_stats or m.momentum is None:
            raise SpecError(f"{at}: track_running_stats=False or momentum=None have no file form")
        kind, f = "batchnorm", {"eps": m.eps, "momentum": m.momentum, "affine": m.affine}
    elif t is nn.LeakyReLU:
        kind, f = "leaky_relu", {"slope": m.negative_slope}
    elif t in (nn.Softmax, nn.LogSoftmax):
        kind, f = _SIMPLE[t], {"dim": m.dim}
    elif t is Concat:
        kind, f = "concat", {"axis": m.axis}
    elif t in _SIMPLE:
        kind, f = _SIMPLE[t], {}
        if t is nn.Flatten and (m.start_dim, m.end_dim % (len(shape) + 1)) != (1, len(shape)):
            raise SpecError(f"{at}: only Flatten() (start_dim=1, end_dim=-1) has a file form")
    else:
        raise SpecError(f"{at}: {t.__name__} has no architecture-file form; supported: Conv2d, Linear, MaxPool2d, "
                        "AvgPool2d, GlobalAvgPool2d, Flatten, Dropout, BatchNorm1d/2d, Embedding, Recurrent, "
                        "activations, Add, Concat (in Sequential or Graph)")
    # Defaults are left out, but a pool always says its type (as the files in DESIGN.md do).
    return kind, {k: v for k, v in f.items() if v != KINDS[kind][k].default or (kind, k) == ("pool", "type")}


def _activation_of(m: nn.Module) -> str | None:
    """The ``activation:`` a module can be written as, when it has its default arguments."""
    kind = _SIMPLE.get(type(m))
    if kind in ("relu", "relu6", "sigmoid", "tanh") or (kind in ("softmax", "log_softmax") and m.dim == 1):
        return kind
    if type(m) is nn.LeakyReLU and m.negative_slope == KINDS["leaky_relu"]["slope"].default:
        return "leaky_relu"
    return None


def _entry(kind: str, fields: dict, name: str | None, inputs: list[str] | None = None) -> Any:
    if name is None and not fields:
        return kind
    entry = {} if name is None else {"name": name}
    entry[kind] = fields
    if inputs is not None:
        entry["inputs"] = inputs
    return entry


def _add_softmax(entries: list, kinds: list[str]) -> bool:
    """Put the output softmax on the last layer when it is a conv or dense one without activation."""
    last = entries[-1]
    if kinds[-1] in ("conv", "dense") and "activation" not in last[kinds[-1]]:
        last[kinds[-1]]["activation"] = "softmax"
        return True
    return False


def _sequential(seq: nn.Sequential, shape: tuple[int, ...], softmax: bool) -> list:
    children = list(seq.named_children())

    def derived(i: int, main: int, suffix: str) -> bool:  # is children[i] what the builder adds to children[main]?
        name = children[main][0]
        return children[i][0] == (f"{name}_{suffix}" if name != str(main) else str(i))

    entries, kinds, i = [], [], 0
    while i < len(children):
        name, m = children[i]
        if (type(m) is nn.Flatten and i + 1 < len(children) and type(children[i + 1][1]) is nn.Linear
                and len(shape) > 1 and m.start_dim == 1 and m.end_dim in (-1, len(shape)) and derived(i, i + 1, "flatten")):
            shape = output_shape(m, [shape], f"module {name!r}")
            i += 1
            name, m = children[i]
        main, at = i, f"module {name!r} ({type(m).__name__})"
        kind, fields = _describe(m, [shape], at)
        shape = output_shape(m, [shape], at)
        if kind in ("conv", "dense") and i + 1 < len(children):
            act = _activation_of(children[i + 1][1])
            if act and derived(i + 1, main, act):
                fields["activation"] = act
                i += 1
        entries.append(_entry(kind, fields, None if name == str(main) else name))
        kinds.append(kind)
        i += 1
    if softmax and not _add_softmax(entries, kinds):
        entries.append("softmax")
    return entries


def _graph(g: Graph, shape: tuple[int, ...], softmax: bool) -> tuple[list, list[str]]:
    try:
        shapes = g.shapes(shape)
    except ValueError as e:
        raise SpecError(str(e)) from None
    nodes = {n: (m, ins) for n, m, ins in g.nodes}
    uses = Counter(i for _, ins in nodes.values() for i in ins) + Counter(g.outputs)
    skip, flatten_of, activation_of, file_name = set(), {}, {}, {INPUT: INPUT}
    for n, (m, ins) in nodes.items():  # what the builder expanded, to fold back
        source = nodes.get(ins[0], (None,))[0]
        act = _activation_of(m)
        if act and len(ins) == 1 and n == f"{ins[0]}_{act}" and type(source) in (nn.Conv2d, nn.Linear) \
                and uses[ins[0]] == 1:
            skip.add(n)
            activation_of[ins[0]], file_name[n] = act, ins[0]
        dense = n[:-len("_flatten")]
        if (type(m) is nn.Flatten and n.endswith("_flatten") and uses[n] == 1 and dense in nodes
                and type(nodes[dense][0]) is nn.Linear and nodes[dense][1] == [n] and len(shapes[ins[0]]) > 1
                and m.start_dim == 1 and m.end_dim in (-1, len(shapes[ins[0]]))):
            skip.add(n)
            flatten_of[dense] = n
    entries, kinds, previous = [], [], INPUT
    for n, (m, ins) in nodes.items():
        if n in skip:
            continue
        at = f"node {n!r} ({type(m).__name__})"
        kind, fields = _describe(m, [shapes[i] for i in ins], at)
        if n in activation_of:
            fields["activation"] = activation_of[n]
        file_inputs = [file_name.get(i, i) for i in (nodes[flatten_of[n]][1] if n in flatten_of else ins)]
        entries.append(_entry(kind, fields, n, None if file_inputs == [previous] else file_inputs))
        kinds.append(kind)
        previous = n
    outputs = [file_name.get(o, o) for o in g.outputs]
    if softmax:
        index = next(i for i, e in enumerate(entries) if e["name"] == outputs[0])
        if not _add_softmax([entries[index]], [kinds[index]]):
            name = f"{outputs[0]}_softmax"
            entries.append(_entry("softmax", {}, name, None if outputs[0] == previous else [outputs[0]]))
            outputs = [name]
    return entries, outputs


def to_dict(module: nn.Module, input_shape: tuple[int, ...] | None = None, name: str | None = None) -> dict[str, Any]:
    """The architecture file of a Sequential or Graph, as a dict (``yaml.safe_dump``-able).

    A module built from a file remembers its input shape and name (``module.spec``); for a
    hand-built one pass ``input_shape``. A hand-built network ending in ``Softmax(dim=1)``
    is written with that softmax as the file's output activation, so the network rebuilt
    from the file outputs logits (see :mod:`profondo.spec.build`).

    >>> to_dict(nn.Sequential(nn.Linear(4, 3), nn.ReLU()), input_shape=(4,))
    {'name': 'sequential', 'input': [4], 'layers': [{'dense': {'units': 3, 'activation': 'relu'}}]}
    """
    spec = getattr(module, "spec", None)
    if input_shape is None:
        if spec is None:
            raise SpecError(f"to_dict: this {type(module).__name__} was not built from a file: pass "
                            "input_shape, the per-sample input shape such as (3, 32, 32)")
        input_shape = spec.input
    shape = tuple(int(s) for s in input_shape)
    softmax = spec is not None and spec.output_activation == "softmax"
    out: dict[str, Any] = {"name": name or (spec.name if spec else type(module).__name__.lower()), "input": list(shape)}
    if type(module) is nn.Sequential:
        out["layers"] = _sequential(module, shape, softmax)
    elif type(module) is Graph:
        out["nodes"], out["outputs"] = _graph(module, shape, softmax)
    else:
        raise SpecError(f"to_dict: expected a Sequential or a Graph, received {type(module).__name__}")
    return out
