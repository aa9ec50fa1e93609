"""OnnxGraph: an imported ONNX graph of any number of inputs and outputs, one module per node."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ... import nn
from ...nn.graph import node_configs, nodes_from_config, nodes_repr
from ...nn.module import Module


class OnnxGraph(nn.Module):
    """A graph of named nodes reading the graph inputs by name: ``OnnxGraph(nodes, inputs, outputs)``.

    ``nodes`` are ``(name, module, inputs)`` triples in a topological order, where ``inputs``
    names earlier nodes or graph inputs; ``outputs`` names nodes or graph inputs (an ONNX
    graph may return an input). ``forward`` takes the inputs by position, by name, or both
    (``net(a, b)``, ``net(x=a, y=b)``) and returns one value or a tuple (ONNX's output order).
    Children are registered under the node names, so state-dict keys are ``"<node>.weight"``.

    >>> net = import_onnx("two_inputs.onnx")
    >>> net.input_names
    ['a', 'b']
    >>> net(a, b=b).shape
    (2, 3)
    """

    __module__ = "profondo.io.onnx_import"  # configs store the public home, whichever file defines it

    def __init__(self, nodes: Sequence[tuple[str, Module, Sequence[str]]], inputs: Sequence[str],
                 outputs: Sequence[str]) -> None:
        super().__init__()
        self.input_names: list[str] = list(inputs)
        self.inputs_of: dict[str, list[str]] = {}
        known = set(self.input_names)
        if len(known) != len(self.input_names):
            raise ValueError(f"OnnxGraph: input names must be distinct, received {self.input_names}")
        for name, module, ins in nodes:
            if name in known:
                raise ValueError(f"OnnxGraph: node name {name!r} is used twice (or is an input's name)")
            unknown = [i for i in ins if i not in known]
            if unknown:
                raise ValueError(f"OnnxGraph: node {name!r} reads {unknown}, which are neither graph inputs "
                                 f"{self.input_names} nor earlier nodes")
            self.inputs_of[name] = list(ins)
            self.add_module(name, module)
            known.add(name)
        unknown = [o for o in outputs if o not in known]
        if unknown or not outputs:
            raise ValueError(f"OnnxGraph: outputs {list(outputs)} must name nodes or inputs; unknown: {unknown}")
        self.outputs: list[str] = list(outputs)

    @property
    def nodes(self) -> list[tuple[str, Module, list[str]]]:
        return [(n, self._modules[n], ins) for n, ins in self.inputs_of.items()]

    def _bind(self, args: tuple, kwargs: dict) -> dict:
        names = self.input_names
        if len(args) > len(names):
            raise TypeError(f"OnnxGraph: expected at most {len(names)} inputs {names}, received {len(args)}")
        values = dict(zip(names, args))
        for k, v in kwargs.items():
            if k not in names:
                raise TypeError(f"OnnxGraph: unknown input {k!r}; expected one of {names}")
            if k in values:
                raise TypeError(f"OnnxGraph: input {k!r} given both by position and by name")
            values[k] = v
        missing = [n for n in names if n not in values]
        if missing:
            raise TypeError(f"OnnxGraph: missing input(s) {missing}; expected {names} (by position or name)")
        return values

    def forward(self, *args, **kwargs):
        values = self._bind(args, kwargs)
        modules = self._modules
        for name, ins in self.inputs_of.items():
            values[name] = modules[name](*[values[i] for i in ins])
        outs = tuple(values[o] for o in self.outputs)
        return outs[0] if len(outs) == 1 else outs

    def extra_repr(self) -> str:
        return f"inputs={self.input_names}, outputs={self.outputs}"

    def __repr__(self) -> str:
        return nodes_repr(self)

    def get_config(self) -> dict[str, Any]:
        return {"nodes": node_configs(self.nodes), "inputs": list(self.input_names), "outputs": list(self.outputs)}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> OnnxGraph:
        return cls(nodes_from_config(config, "OnnxGraph"), config["inputs"], config["outputs"])
