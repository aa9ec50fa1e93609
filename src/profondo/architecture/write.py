"""Module -> architecture file (as a dict): the inverse of :func:`profondo.architecture.from_dict`.

A Conv2d or Linear followed by its activation module becomes one layer with
``activation:``, a Flatten before a Linear on a volume (or sequence) is left implicit, an
``nn.Recurrent`` becomes the ``lstm``, ``gru`` or ``rnn`` layer it wraps, and fields at
their default values are omitted, undoing what the builder expands.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from .. import nn
from ..nn.activation import activation_of as _activation_of
from ..nn.graph import INPUT, Graph
from .build import layer_names, output_shape
from .schema import SpecError, file_kinds


def _supported() -> str:
    names = sorted({cls.__name__ for cls in nn.Module._registry.values() if cls.__dict__.get("file_kinds")})
    return ", ".join(names)


def _describe(m: nn.Module, shapes: list[tuple[int, ...]], at: str) -> tuple[str, dict[str, Any]]:
    """One module as (kind, fields) of a file, checked against the shape(s) it receives; fields at
    their default values are left out."""
    if not type(m).__dict__.get("file_kinds"):
        reason = type(m).lacks.get("file_form")
        raise SpecError(f"{at}: {type(m).__name__} has no architecture-file form" + (f" ({reason})" if reason else "")
                        + f"; supported: {_supported()} (in Sequential or Graph)")
    kind, fields = m.file_entry(shapes, at)
    declared = file_kinds()[kind]
    return kind, {k: v for k, v in fields.items()
                  if v != declared.fields[k].default or k in declared.always_written}


def _takes_activation(kind: str) -> bool:
    """Kinds with an ``activation:`` field (conv, dense): the builder appends that module after them."""
    return "activation" in file_kinds()[kind].fields


def _folds_activation(m: nn.Module | None) -> bool:
    """Whether ``m`` is written as a kind with an ``activation:`` field (the next module may fold into it)."""
    return m is not None and any("activation" in k.fields for k in type(m).__dict__.get("file_kinds", ()))


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
    if _takes_activation(kinds[-1]) and "activation" not in last[kinds[-1]]:
        last[kinds[-1]]["activation"] = "softmax"
        return True
    return False


def _file_names(layers: list[tuple[str, dict, str, bool]]) -> list[str | None]:
    """The ``name:`` to write for each layer (kind, fields, module name, index-named?): none where
    the builder would generate that same name (:func:`~profondo.architecture.build.layer_names`),
    so that the file rebuilds the module's names without spelling out ``conv1``, ``pool1``.
    Index-named modules (a Sequential built in Python: "0", "1") are written unnamed; they are
    rebuilt with kind names, and ``upgrade_state_dict`` maps their weights by position."""
    names = [n for _, _, n, _ in layers]
    unnamed = {i for i, layer in enumerate(layers) if layer[3]}
    # drop each name that the builder would generate back, the others unchanged; from the last layer, so
    # that a file's own out-of-order name (conv3 before conv2) is the one kept
    for i in reversed(range(len(layers))):
        if i not in unnamed:
            trial = unnamed | {i}
            generated = layer_names([(k, None if j in trial else n) for j, (k, _, n, _) in enumerate(layers)])
            if all(generated[j] == names[j] for j in trial if not layers[j][3]):
                unnamed = trial
    return [None if i in unnamed else n for i, n in enumerate(names)]


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
        if _takes_activation(kind) and i + 1 < len(children):
            act = _activation_of(children[i + 1][1])
            if act and derived(i + 1, main, act):
                fields["activation"] = act
                i += 1
        entries.append((kind, fields, name, name == str(main)))
        kinds.append(kind)
        i += 1
    entries = [_entry(kind, fields, name) for (kind, fields, _, _), name in zip(entries, _file_names(entries))]
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
        if act and len(ins) == 1 and n == f"{ins[0]}_{act}" and _folds_activation(source) \
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
    from the file outputs logits (see :mod:`profondo.architecture.build`).

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
