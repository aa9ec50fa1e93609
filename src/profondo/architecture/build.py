"""Architecture file (as a dict) -> Module, inferring every layer's input size from ``input``.

One layer of a file may become several modules: ``conv: {activation: relu}`` is a Conv2d
followed by a ReLU, and a ``dense`` layer after a volume starts with a Flatten (as in
ConvNetJS); so does one after a recurrent layer with ``output: sequence``: a dense layer
reads the whole sequence, ``seq_len x hidden`` features, not each step. Modules take the layer's ``name`` (the extras ``<name>_relu``,
``<name>_flatten``) or, unnamed, one made of its kind and a count of that kind, as Keras does:
``conv1``, ``pool1``, ``conv2``, ``dense1`` (see :func:`layer_names`). These names are the
state-dict keys (``conv1.weight``), what summaries show and what ``--freeze-until`` takes.

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

from dataclasses import dataclass
from typing import Any

from .. import nn
from ..backend.limits import ResourceLimitError, limited_growth, short_repr
from ..nn.activation import ACTIVATION_CLASSES
from ..nn.graph import INPUT, Graph, topological_order
from ..nn.vocabulary import size_rule
from .schema import SpecError, file_kinds, parse_entry, where

__all__ = ["ACTIVATION_MODULES", "Spec", "from_dict", "layer_names", "output_shape", "size_rule", "upgrade_state_dict"]


@dataclass
class Spec:
    """What a module built from a file keeps of it (``module.spec``): the network's name, its
    per-sample input shape and the activation applied to its outputs at prediction time."""

    name: str
    input: tuple[int, ...]
    output_activation: str | None = None


# kind -> class of the activation layers (as declared in nn.activation)
ACTIVATION_MODULES: dict[str, type[nn.Module]] = {cls.file_kinds[0].name: cls for cls in ACTIVATION_CLASSES}


def _expand(kind: str, p: dict[str, Any], shapes: list[tuple[int, ...]], at: str,
            source: str | None = None) -> list[tuple[str, nn.Module]]:
    """The modules of one layer as (suffix, module); the suffix "" marks the main module.
    ``source`` names where its input comes from when that is not the network input: a size rule
    that fails then says where the size it computed with came from."""
    declared = file_kinds()[kind]
    if declared.merging:
        if len(shapes) < 2:
            raise SpecError(f"{at}: '{kind}' joins two or more inputs, received {len(shapes)}")
    elif len(shapes) != 1:
        raise SpecError(f"{at}: '{kind}' takes one input, received {len(shapes)}")
    try:
        with limited_growth(f"{at}: its weights"):  # a file's sizes decide this allocation: refuse it past the cap
            return declared.build(p, shapes, at)
    except SpecError as e:
        if source is None or "_out = (" not in str(e):
            raise
        raise SpecError(f"{e}; its input {list(shapes[0])} is the output of {source}") from None


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
                        f"[3, 32, 32] (channels, height, width) or [784], received {short_repr(value)}")
    return tuple(value)


def layer_names(layers: list[tuple[str, str | None]]) -> list[str]:
    """The name of each layer of a chain, given as (kind, name or None): a layer's own name, or
    for an unnamed one its kind and the count of that kind so far (``conv1``, ``pool1``, ``conv2``).
    Given names win: a generated name skips any name a layer gives, with the extras it may add
    (``conv1`` is skipped when a layer is named ``conv1`` or ``conv1_anything``), and names a
    Module attribute holds.

    >>> layer_names([("conv", None), ("pool", None), ("conv", "features"), ("conv", None), ("dense", None)])
    ['conv1', 'pool1', 'features', 'conv2', 'dense1']
    """
    given = [n for _, n in layers if n is not None]
    taken = set(given) | _RESERVED
    counts: dict[str, int] = {}
    names = []
    for kind, name in layers:
        if name is None:
            while True:
                counts[kind] = counts.get(kind, 0) + 1
                name = f"{kind}{counts[kind]}"
                if name not in taken and not any(g.startswith(name + "_") for g in given):
                    break
            taken.add(name)
        names.append(name)
    return names


def upgrade_state_dict(model: nn.Module, state: dict) -> dict:
    """``state`` with the keys of the old naming, when it has them, renamed for ``model``.

    Before layers were named by kind (``conv1``), an unnamed layer of a file took its
    position among the network's modules ("0", "1", ...), so checkpoints written then hold
    ``0.weight``, ``3.bias``; so do those of an ``nn.Sequential`` built in Python, whose file
    builds a network with kind names. The builder makes the same modules in the same order
    under either naming, so when ``model`` is a Sequential and every index key of ``state``
    names a position that is not already a module name, each index key is renamed by
    position: ``3.bias`` becomes ``<name of the 4th module>.bias`` (keys of named layers stay).
    A state of any other form is returned as it is, for ``load_state_dict`` to judge."""
    if type(model) is not nn.Sequential or not state:
        return state
    children = [n for n, _ in model.named_children()]
    heads = {key: key.partition(".")[0] for key in state}
    old = [k for k, h in heads.items() if h.isdigit() and "." in k]
    if not old or not all(int(heads[k]) < len(children) and heads[k] not in children for k in old):
        return state
    return {(children[int(heads[k])] + k[len(heads[k]):] if k in old else k): v for k, v in state.items()}


def _sequential(layers: list, shape: tuple[int, ...]) -> tuple[nn.Sequential, bool]:
    modules: dict[str, nn.Module] = {}
    owner: dict[str, int] = {}
    parsed = [parse_entry(entry, index) for index, entry in enumerate(layers)]
    names = layer_names([(kind, name) for kind, name, _, _ in parsed])
    source = None  # the layer whose output the next one reads (None: the network input)
    for index, ((kind, given, p, _), name) in enumerate(zip(parsed, names)):
        at = where(index, given, kind)
        declared = file_kinds()[kind]
        if declared.merging:
            raise SpecError(f"{at}: '{kind}' joins several inputs: write the network in the graph form "
                            "('nodes:' whose entries name their 'inputs')")
        if declared.reads_token_ids and modules:
            raise SpecError(f"{at}: '{kind}' reads token ids, the network input: it must be the first layer")
        for suffix, module in _expand(kind, p, [shape], at, source):
            unit = f"{name}_{suffix}" if suffix else name
            if unit in modules:
                raise SpecError(f"{at}: module name {unit!r} is already taken by layer {owner[unit]}")
            _check_name(unit, at)
            modules[unit], owner[unit] = module, index
            shape = output_shape(module, [shape], at)
        source = at if given is not None else where(index, name, kind)
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
            raise SpecError(f"{at}: node name {short_repr(name)} is used twice (also by node {parsed[name][0]})")
        parsed[name] = (index, kind, p, inputs or [list(parsed)[-1] if parsed else INPUT])
    if not parsed:
        raise SpecError("field 'nodes' expected a non-empty list of nodes, received []")
    for name, (index, kind, _, inputs) in parsed.items():
        for i in inputs:
            if i != INPUT and i not in parsed:
                raise SpecError(f"{where(index, name, kind, node=True)}: unknown input {short_repr(i)}; expected "
                                f"'{INPUT}' (the network input) or one of the nodes {list(parsed)}")
    if outputs is None:
        outputs = [list(parsed)[-1]]
    outputs = [outputs] if isinstance(outputs, str) else outputs
    if not isinstance(outputs, list) or not outputs or any(o not in parsed for o in outputs):
        raise SpecError(f"field 'outputs' expected a list of node names out of {list(parsed)}, received {short_repr(outputs)}")
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
        if file_kinds()[kind].reads_token_ids and inputs != [INPUT]:
            raise SpecError(f"{at}: '{kind}' reads token ids, the network input: expected inputs "
                            f"['{INPUT}'], received {inputs}")
        source = None if inputs[0] == INPUT else where(parsed[inputs[0]][0], inputs[0], node=True)
        for suffix, module in _expand(kind, p, [shapes[i] for i in ins], at, source):
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

    The layers together may allocate at most the cap of :mod:`profondo.backend.limits`; past it
    (or for a structure nested too deeply) the error is a SpecError naming the layer.

    >>> net = from_dict({"name": "tiny", "input": [4], "layers": [{"dense": {"units": 3}}]})
    >>> net.spec.input
    (4,)
    """
    try:
        with limited_growth("the network's weights"):
            return _from_dict(d)
    except ResourceLimitError as e:
        raise SpecError(str(e)) from None
    except RecursionError:
        raise SpecError("the architecture is nested too deeply to build") from None


def _from_dict(d: dict[str, Any]) -> nn.Module:
    if not isinstance(d, dict):
        raise SpecError(f"an architecture file is a map with 'name', 'input' and 'layers' (or 'nodes'), "
                        f"received {'nothing (an empty file)' if d is None else type(d).__name__}")
    for key in d:
        if key not in _TOP:
            raise SpecError(f"unknown top-level field {short_repr(key)}; valid fields: {', '.join(_TOP)}")
    if "input" not in d:
        raise SpecError("missing field 'input': expected the per-sample input shape, e.g. [3, 32, 32] or [784]")
    shape = _check_shape(d["input"], "field 'input'")
    name = d.get("name", "network")
    if not isinstance(name, str):
        raise SpecError(f"field 'name' expected a string, received {short_repr(name)}")
    if ("layers" in d) == ("nodes" in d):
        raise SpecError("expected exactly one of 'layers' (a chain of layers) and 'nodes' (a named graph), "
                        f"received {'both' if 'layers' in d else 'neither'}")
    body = d.get("layers", d.get("nodes"))
    if not isinstance(body, list):
        raise SpecError(f"field '{'layers' if 'layers' in d else 'nodes'}' expected a list, received {short_repr(body)}")
    if "layers" in d:
        if "outputs" in d:
            raise SpecError("field 'outputs' belongs to the graph form (with 'nodes'), not to 'layers'")
        module, final_softmax = _sequential(body, shape)
    else:
        module, final_softmax = _graph(body, d.get("outputs"), shape)
    module.spec = Spec(name, shape, "softmax" if final_softmax else None)
    return module
