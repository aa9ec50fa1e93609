"""Graph: a network of named nodes wired by name (residual branches, multi-branch blocks).

A node is ``(name, module, inputs)``; ``inputs`` names earlier nodes or ``"input"``, the
network's input. Nodes run in topological order; a module with several inputs (``Add``,
``Concat``) receives them in the listed order.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

from .. import functional as F
from .counts import LayerCounts
from .module import Module, _shape, class_name
from .vocabulary import CONTAINER_FILE_FORM, FileKind, Shape, is_int, single
from .vocabulary import Field as _Field

INPUT = "input"


def _merging(name: str, make, fields: dict[str, _Field] | None = None, bare_field: str | None = None) -> FileKind:
    fields = fields or {}
    return FileKind(name, fields, lambda p, shapes, at: single(make(*(p[k] for k in fields))), bare_field, merging=True)


def container_counts(parts: list[tuple[Module, list[Shape]]]) -> LayerCounts:
    """The counts of modules run in an order, each with the shapes it receives."""
    return LayerCounts.total(m.counts(shapes, m.output_shape(*shapes)) for m, shapes in parts)


class Add(Module):
    """Element-wise sum of two or more inputs of the same shape (a residual connection).

    >>> Add()(x, shortcut).shape == x.shape
    True
    """

    file_kinds = (_merging("add", lambda: Add()),)

    def forward(self, *xs):
        if len(xs) < 2 or any(x.shape != xs[0].shape for x in xs):
            raise ValueError(f"Add: expected two or more inputs of one shape, received "
                             f"{[tuple(x.shape) for x in xs]}")
        out = xs[0]
        for x in xs[1:]:
            out = out + x
        return out

    def output_shape(self, *input_shapes: tuple[int, ...]) -> tuple[int, ...]:
        shapes = [_shape(s, "Add") for s in input_shapes]
        if len(shapes) < 2 or any(s != shapes[0] for s in shapes):
            raise ValueError(f"Add: expected two or more inputs of one shape, received {shapes}")
        return shapes[0]

    def counts(self, input_shapes: list[Shape], output_shape: Shape) -> LayerCounts:
        elements = math.prod(output_shape)
        return LayerCounts(elements, elements * len(input_shapes))  # each sum reads one element of every input

    def file_entry(self, input_shapes: list[Shape], at: str) -> tuple[str, dict[str, Any]]:
        return "add", {}


class Concat(Module):
    """Join inputs along ``axis``, which counts the batch axis as in PyTorch (1 = channels).

    >>> Concat(1)(a, b).shape       # (N, 16, H, W) and (N, 8, H, W)
    (N, 24, H, W)
    """

    file_kinds = (_merging("concat", lambda axis: Concat(axis),
                           {"axis": _Field(is_int, "an integer axis counting the batch axis (1 = channels)", 1)},
                           bare_field="axis"),)

    def __init__(self, axis: int = 1) -> None:
        super().__init__()
        self.axis = int(axis)

    def forward(self, *xs):
        return F.concat(xs, self.axis)

    def extra_repr(self) -> str:
        return f"axis={self.axis}"

    def output_shape(self, *input_shapes: tuple[int, ...]) -> tuple[int, ...]:
        shapes = [_shape(s, "Concat") for s in input_shapes]
        n = len(shapes[0]) + 1  # axes with the batch
        axis = self.axis % n if -n <= self.axis < n else 0
        if axis == 0 or any(len(s) != n - 1 for s in shapes):
            raise ValueError(f"Concat(axis={self.axis}): expected per-sample inputs of one rank and an axis in "
                             f"1..{n - 1} (0 is the batch), received {shapes}")
        a = axis - 1
        if any(s[:a] + s[a + 1:] != shapes[0][:a] + shapes[0][a + 1:] for s in shapes):
            raise ValueError(f"Concat(axis={self.axis}): inputs must agree on every axis but {self.axis}, "
                             f"received {shapes}")
        return shapes[0][:a] + (sum(s[a] for s in shapes),) + shapes[0][a + 1:]

    def counts(self, input_shapes: list[Shape], output_shape: Shape) -> LayerCounts:
        return LayerCounts(0)  # a reshaping of neurons that exist

    def file_entry(self, input_shapes: list[Shape], at: str) -> tuple[str, dict[str, Any]]:
        return "concat", {"axis": self.axis}


def topological_order(inputs_of: dict[str, Sequence[str]]) -> list[str]:
    """Node names ordered so that each comes after its inputs, ties kept in the given order.

    Raises ValueError naming an unknown input or the nodes of a cycle.

    >>> topological_order({"b": ["a"], "a": ["input"]})
    ['a', 'b']
    """
    for name, inputs in inputs_of.items():
        for i in inputs:
            if i != INPUT and i not in inputs_of:
                raise ValueError(f"node {name!r}: unknown input {i!r}; expected {INPUT!r} or one of the nodes "
                                 f"{list(inputs_of)}")
    done: set[str] = {INPUT}
    order: list[str] = []
    pending = list(inputs_of)
    while pending:  # take the first ready node each time: an order that is already valid stays as is
        ready = next((n for n in pending if all(i in done for i in inputs_of[n])), None)
        if ready is None:
            raise ValueError(f"the nodes form a cycle: {' -> '.join(_cycle(inputs_of, pending))}")
        order.append(ready)
        done.add(ready)
        pending.remove(ready)
    return order


def _cycle(inputs_of: dict[str, Sequence[str]], pending: list[str]) -> list[str]:
    """One cycle among the nodes left over by the topological sort, in data-flow order."""
    path, node = [], pending[0]
    while node not in path:  # every pending node waits on a pending input, so the walk loops
        path.append(node)
        node = next(i for i in inputs_of[node] if i in pending)
    cycle = path[path.index(node):] + [node]
    return cycle[::-1]


class Graph(Module):
    """A network of named nodes: ``Graph([(name, module, inputs), ...], outputs)``.

    Children are registered under the node names (state-dict keys ``"<node>.weight"``).
    ``forward(x)`` returns the output node's value, or a tuple for several outputs.

    >>> g = Graph([("conv", Conv2d(8, 8, 3, padding=1), ["input"]),
    ...            ("relu", ReLU(), ["conv"]),
    ...            ("add", Add(), ["relu", "input"])], outputs=["add"])
    >>> g(profondo.randn(2, 8, 5, 5)).shape
    (2, 8, 5, 5)
    """

    lacks = {"file_form": CONTAINER_FILE_FORM}

    def __init__(self, nodes: Iterable[tuple[str, Module, Sequence[str] | str]], outputs: Sequence[str] | str) -> None:
        super().__init__()
        self.inputs_of: dict[str, list[str]] = {}  # set first, so that nodes cannot take these names
        self.outputs: list[str] = []
        self._order: list[tuple[str, Module, list[str]]] = []
        inputs_of = self.inputs_of
        for entry in nodes:
            if not (isinstance(entry, (tuple, list)) and len(entry) == 3):
                raise TypeError(f"Graph: expected nodes as (name, module, inputs) triples, received {entry!r}")
            name, module, inputs = entry
            if not isinstance(name, str) or not name or "." in name or name == INPUT:
                raise ValueError(f"Graph: node names must be non-empty strings without '.' other than {INPUT!r}, "
                                 f"received {name!r}")
            if name in inputs_of or hasattr(self, name):
                raise ValueError(f"Graph: node name {name!r} is " +
                                 ("used twice" if name in inputs_of else "reserved (a Module attribute)"))
            if not isinstance(module, Module):
                raise TypeError(f"Graph: node {name!r} expected a Module, received {type(module).__name__}")
            inputs_of[name] = [inputs] if isinstance(inputs, str) else list(inputs)
            if not inputs_of[name]:
                raise ValueError(f"Graph: node {name!r} has no inputs")
            self.add_module(name, module)
        outputs = [outputs] if isinstance(outputs, str) else list(outputs)
        for o in outputs:
            if o not in inputs_of:
                raise ValueError(f"Graph: unknown output {o!r}; expected one of the nodes {list(inputs_of)}")
        if not outputs:
            raise ValueError("Graph: expected at least one output node")
        try:
            order = topological_order(inputs_of)
        except ValueError as e:
            raise ValueError(f"Graph: {e}") from None
        self.outputs = outputs
        self._order = [(n, inputs_of[n]) for n in order]  # modules looked up by name, so they can be replaced

    @property
    def nodes(self) -> list[tuple[str, Module, list[str]]]:
        """``(name, module, inputs)`` in the order given to the constructor."""
        return [(n, self._modules[n], self.inputs_of[n]) for n in self.inputs_of]

    def ordered_nodes(self) -> list[tuple[str, Module, list[str]]]:
        """``(name, module, inputs)`` in an order where every node comes after its inputs."""
        return [(n, self._modules[n], inputs) for n, inputs in self._order]

    def forward(self, x):
        values = {INPUT: x}
        modules = self._modules
        for name, inputs in self._order:
            values[name] = modules[name](*[values[i] for i in inputs])
        if len(self.outputs) == 1:
            return values[self.outputs[0]]
        return tuple(values[o] for o in self.outputs)

    def shapes(self, input_shape: tuple[int, ...]) -> dict[str, tuple[int, ...]]:
        """The per-sample shape of every node (and of ``"input"``), errors naming the node."""
        shapes = {INPUT: _shape(input_shape, "Graph")}
        for name, inputs in self._order:
            module = self._modules[name]
            try:
                shapes[name] = module.output_shape(*[shapes[i] for i in inputs])
            except ValueError as e:
                received = ", ".join(f"{i!r} {list(shapes[i])}" for i in inputs)
                raise ValueError(f"Graph node {name!r} ({type(module).__name__}) with inputs {received}: {e}") from e
        return shapes

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...] | tuple[tuple[int, ...], ...]:
        shapes = self.shapes(input_shape)
        if len(self.outputs) == 1:
            return shapes[self.outputs[0]]
        return tuple(shapes[o] for o in self.outputs)

    def counts(self, input_shapes: list[Shape], output_shape: Shape) -> LayerCounts:
        shapes = self.shapes(input_shapes[0])
        return container_counts([(self._modules[n], [shapes[i] for i in ins]) for n, ins in self._order])

    def extra_repr(self) -> str:
        return f"outputs={self.outputs}"

    def __repr__(self) -> str:
        return nodes_repr(self)

    def get_config(self) -> dict[str, Any]:
        """``{"nodes": [{"name", "class_name", "config", "inputs"}, ...], "outputs": [...]}``."""
        return {"nodes": node_configs(self.nodes), "outputs": list(self.outputs)}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Graph:
        return cls(nodes_from_config(config, "Graph"), config["outputs"])


# --- what every graph container (Graph, the ONNX importer's OnnxGraph) shares ---------------------
def nodes_repr(graph: Module) -> str:
    """``Name(`` one line per node with the nodes it reads, then ``extra_repr()``, ``)``."""
    lines = [f"({n}): {m!r}".replace("\n", "\n  ") + f" <- {', '.join(i)}" for n, m, i in graph.nodes]
    return f"{type(graph).__name__}(\n  " + "\n  ".join(lines + [graph.extra_repr()]) + "\n)"


def node_configs(nodes: Iterable[tuple[str, Module, Sequence[str]]]) -> list[dict[str, Any]]:
    """The ``nodes`` entry of a graph's config: name, layer class, its config, its inputs."""
    return [{"name": n, "class_name": class_name(type(m)), "config": m.get_config(), "inputs": list(i)}
            for n, m, i in nodes]


def nodes_from_config(config: dict[str, Any], owner: str) -> list[tuple[str, Module, list[str]]]:
    """The (name, module, inputs) triples back from :func:`node_configs`' form."""
    nodes = []
    for e in config["nodes"]:
        module_cls = Module._registry.get(e["class_name"])
        if module_cls is None:
            raise ValueError(f"{owner}.from_config: unknown layer class {e['class_name']!r} for node "
                             f"{e['name']!r}; expected one of {sorted(Module._registry)}")
        nodes.append((e["name"], module_cls.from_config(e.get("config", {})), e["inputs"]))
    return nodes


def is_plain(m: Module, container: type) -> bool:
    """A ``container`` (Sequential, Graph) whose forward is its own: a subclass may compute anything."""
    return isinstance(m, container) and type(m).forward is container.forward


def unsupported_modules(model: Module, supported) -> list[str]:
    """Every module, by path, that is neither a plain Sequential/Graph nor of a type in
    ``supported`` (exporters list them all at once in their error)."""
    from .container import Sequential

    found = []

    def visit(m, path):
        if is_plain(m, Sequential) or is_plain(m, Graph):
            for child_name, child in m.named_children():
                visit(child, f"{path}.{child_name}" if path else child_name)
        elif type(m) not in supported:
            found.append(f"{path or '(the model)'} ({type(m).__name__})")

    visit(model, "")
    return found


def walk_layers(model: Module, inputs: list, leaf, path: str = ""):
    """Run ``leaf(module, path, inputs) -> output`` on every layer in execution order, looking
    through plain Sequential and Graph containers (how exporters trace a model without running it)."""
    from .container import Sequential

    if is_plain(model, Sequential):
        (x,) = inputs
        for name, child in model.named_children():
            x = walk_layers(child, [x], leaf, f"{path}.{name}" if path else name)
        return x
    if is_plain(model, Graph):
        (x,) = inputs
        values = {INPUT: x}
        for name, child, ins in model.ordered_nodes():
            values[name] = walk_layers(child, [values[i] for i in ins], leaf, f"{path}.{name}" if path else name)
        outs = [values[o] for o in model.outputs]
        return outs[0] if len(outs) == 1 else outs  # a list: an exporter's value may itself be a tuple
    return leaf(model, path, inputs)
