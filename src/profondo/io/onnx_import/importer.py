"""import_onnx: walk an ONNX graph node by node, each node a module built from :data:`CONVERTERS`."""

from __future__ import annotations

import json
import math
import os
import re
from collections import OrderedDict

import numpy as np

from ... import nn
from ...autograd import no_grad
from ...backend.limits import FileFormatError, ResourceLimitError, check_allocation, limited_growth, short_repr
from ...nn.graph import INPUT, Graph
from ...tensor import Tensor
from ..onnx_export import SPEC_KEY, _onnx
from .attributes import check_graph
from .context import Context, OnnxImportError, UnsupportedOperatorError, node_attrs, where
from .converters import CONVERTERS, MULTI_OUTPUT, compute_fn, supported_ops
from .graph import OnnxGraph
from .onnx_op import OnnxOp

_ALWAYS_BUILT = ("LSTM", "GRU")
# Float inputs that are settings, not weights (buffers, not Parameters, when constant): Clip's
# bounds, Pad's value, a loss's class weights, Resize's roi and scales, Range's bounds.
SETTINGS = {"Clip": (1, 2), "Pad": (2,), "NegativeLogLikelihoodLoss": (2,), "SoftmaxCrossEntropyLoss": (2,),
            "Resize": (1, 2), "Range": (0, 1, 2)}  # layers even when every input is constant: their weights are Parameters


def _prepare(ctx: Context, node, attrs: dict) -> dict:
    """The attributes as the compute function reads them (opset-dependent forms made explicit)."""
    if node.op_type == "Clip" and ctx.opset < 11:  # bounds were attributes
        attrs = {k: attrs[k] for k in ("min", "max") if k in attrs}
    elif node.op_type == "Clip":
        attrs = {}
    if node.op_type in ("Squeeze", "Unsqueeze") and ctx.opset >= 13:
        attrs = {}
    if node.op_type in ("Softmax", "LogSoftmax") and ctx.opset < 13:
        attrs = {**attrs, "_opset": ctx.opset}  # the flattened-axes form of opsets before 13
    if node.op_type == "Split" and "num_outputs" not in attrs:
        attrs = {**attrs, "_n_outputs": len(node.output)}
    return attrs


def _generic(ctx: Context, node, attrs) -> tuple[nn.Module, list[str]]:
    """An OnnxOp holding the node's constant inputs."""
    if compute_fn(node.op_type) is None:
        raise UnsupportedOperatorError(f"{where(node)}: this form of {node.op_type} has no profondo layer, and "
                                       f"{node.op_type} has no general (tensor function) form")
    attrs = _prepare(ctx, node, attrs)
    n_outputs = 1
    if node.op_type in MULTI_OUTPUT:
        n_outputs = max((k + 1 for k, o in enumerate(node.output) if o and ctx.consumers[o]), default=1)
    slots, constants, dynamic = [], {}, []
    for i, name in enumerate(node.input):
        if not name:
            slots.append(None)
            continue
        array = ctx.const(name)
        if array is None:
            slots.append("input")
            dynamic.append(name)
        else:
            slots.append("const")
            bound = i in SETTINGS.get(node.op_type, ())  # a float, but a setting, not a weight
            constants[str(i)] = {"shape": list(array.shape), "dtype": str(array.dtype),
                                 "trainable": name in ctx.trainable and not bound}
    m = OnnxOp(node.op_type, attrs, slots, constants, n_outputs)
    for i, name in enumerate(node.input):
        if slots[i] == "const":
            m.__dict__[f"c{i}"].data[...] = ctx.constants[name]
    return m, dynamic


def _module_name(onnx_name: str, op_type: str, index: int, taken: set[str]) -> str:
    """A node name usable as a module name: no dots or slashes, not a Module attribute."""
    base = re.sub(r"[^0-9A-Za-z_]+", "_", onnx_name).strip("_") or f"{op_type.lower()}_{index}"
    if base == INPUT or hasattr(Graph, base) or base in ("spec", "inputs_of", "outputs", "training"):
        base += "_"
    name, k = base, 1
    while name in taken:
        name, k = f"{base}_{k}", k + 1
    taken.add(name)
    return name


def _fold(ctx: Context, node, attrs) -> None:
    """Evaluate a node whose inputs are all constants; its outputs become constants."""
    fn = compute_fn(node.op_type)
    if fn is None:
        raise UnsupportedOperatorError(f"{where(node)}: all its inputs are constant, and constant folding of "
                                       f"{node.op_type} is not supported")
    attrs = _prepare(ctx, node, attrs)
    args = [Tensor(ctx.constants[i]) if i else None for i in node.input]
    while args and args[-1] is None:
        args.pop()
    with no_grad():
        out = fn(attrs, *args)
    trainable = any(i in ctx.trainable for i in node.input)
    for name, value in zip(node.output, out if isinstance(out, tuple) else (out,)):
        ctx.constants[name] = np.asarray(value.data)
        if trainable and value.dtype.kind == "f":
            ctx.trainable.add(name)


def _check_supported(graph) -> None:
    bad: dict[str, list[str]] = {}
    supported = supported_ops()
    for node in graph.node:
        if node.domain not in ("", "ai.onnx") or node.op_type not in supported:
            key = node.op_type if node.domain in ("", "ai.onnx") else f"{node.domain}.{node.op_type}"
            bad.setdefault(key, []).append(node.name or "(unnamed)")
    if bad:
        listing = "; ".join(f"{op} ({len(n)}x, e.g. {n[0]!r})" for op, n in sorted(bad.items()))
        raise UnsupportedOperatorError(f"ONNX import: {len(bad)} unsupported operator(s): {listing}. "
                                       f"Supported: {', '.join(supported)}")


def _load(source):
    """The ModelProto of a path, bytes or a ModelProto; a file that is not one is an OnnxImportError."""
    onnx = _onnx()
    if isinstance(source, onnx.ModelProto):
        return source
    if isinstance(source, (bytes, bytearray)):
        data, what = bytes(source), "ONNX import: the bytes given"
    else:
        if not os.path.exists(source):
            raise FileNotFoundError(f"ONNX import: no file {os.fspath(source)!r}")
        what = f"ONNX import: {os.fspath(source)}"
        check_allocation(os.path.getsize(source), what)
    try:
        with limited_growth(what):
            return onnx.load_from_string(data) if isinstance(source, (bytes, bytearray)) else onnx.load(
                os.fspath(source))
    except FileFormatError:
        raise
    except Exception as e:  # protobuf's DecodeError, onnx's errors about external data, ...
        raise OnnxImportError(f"{what}: not a readable ONNX model ({type(e).__name__}: {short_repr(str(e))})"
                              ) from None


def _check_initializers(graph) -> None:
    """Each initializer's declared size against the data it holds and the cap, before any array is made."""
    onnx = _onnx()
    for init in graph.initializer:
        what = f"ONNX import: initializer {short_repr(init.name)} of shape {short_repr(list(init.dims))}"
        if any(d < 0 for d in init.dims):
            raise OnnxImportError(f"{what}: negative dimension")
        try:
            itemsize = np.dtype(onnx.helper.tensor_dtype_to_np_dtype(init.data_type)).itemsize
        except Exception:
            raise OnnxImportError(f"{what}: unknown data type {init.data_type}") from None
        if init.data_location == onnx.TensorProto.EXTERNAL:
            continue  # onnx.load has read (and sized) it already
        nbytes = math.prod(init.dims) * itemsize
        held = len(init.raw_data) if init.HasField("raw_data") else None
        check_allocation(nbytes, what, held if held is not None and init.data_type != onnx.TensorProto.STRING
                         else None)


def import_onnx(source, *, check: bool = True) -> nn.Module:
    """Build a trainable profondo network from an ONNX model (a path, bytes or ``onnx.ModelProto``).

    A model of one input whose outputs are computed comes back as a ``Sequential`` (a chain)
    or a :class:`~profondo.nn.graph.Graph`; any other (several inputs or outputs read back
    as they are, an output that is an input or a constant) as an
    :class:`~profondo.io.onnx_import.OnnxGraph`, which takes its inputs by position or by
    name. Raises :class:`UnsupportedOperatorError` listing every unsupported operator at once
    (and naming the node, the attribute and its value for unsupported forms of supported
    ones) before anything runs. ``check`` runs ``onnx.checker`` first. Any other failure (a damaged file, a node that does not convert,
    a constant larger than the cap of :mod:`profondo.backend.limits`) raises
    :class:`OnnxImportError` naming the node.

    >>> net = import_onnx("resnet.onnx")
    >>> net(profondo.randn(1, 3, 32, 32)).shape
    (1, 10)
    """
    proto = _load(source)
    progress: dict = {"node": None}
    try:
        with limited_growth("ONNX import: its constants and weights"):
            return _import(proto, check, progress)
    except (OnnxImportError, ResourceLimitError) as e:
        if progress["node"] is not None and isinstance(e, ResourceLimitError):
            raise OnnxImportError(f"ONNX import: {where(progress['node'])}: {e}") from None
        raise
    except FileFormatError as e:  # a profondo error of another kind, from a layer's file form
        raise OnnxImportError(f"ONNX import: {e}") from None
    except Exception as e:  # raw NumPy, onnx and JSON errors of the steps below: the user's file, not a bug here
        at = f"{where(progress['node'])}: " if progress["node"] is not None else ""
        raise OnnxImportError(f"ONNX import: {at}{type(e).__name__}: {short_repr(str(e))}") from e


def _import(proto, check: bool, progress: dict) -> nn.Module:
    onnx = _onnx()
    if check:
        onnx.checker.check_model(proto)
    graph = proto.graph
    _check_supported(graph)
    _check_initializers(graph)
    ctx = Context(proto)
    check_graph(ctx, graph)
    inputs = [i.name for i in graph.input if i.name not in ctx.constants]
    refs: dict[str, str] = {i: i for i in inputs}  # ONNX value -> the node (or graph input) producing it
    nodes: list[tuple[str, nn.Module, list[str]]] = []
    taken: set[str] = set(inputs)
    for index, node in enumerate(graph.node):
        progress["node"] = node
        if index in ctx.fused:
            continue
        attrs = node_attrs(node)
        if node.op_type == "Constant":
            ctx.constants[node.output[0]] = _constant_value(node)
            continue
        live = [i for i in node.input if i]
        if all(i in ctx.constants for i in live) and node.op_type not in _ALWAYS_BUILT:
            if node.op_type == "Identity":
                ctx.constants[node.output[0]] = ctx.constants[node.input[0]]
            else:
                _fold(ctx, node, attrs)
            continue
        if node.op_type == "Identity":
            refs[node.output[0]] = refs[ctx.aliases.get(node.input[0], node.input[0])]
            continue
        try:
            layer = CONVERTERS[node.op_type].layer
            built = layer(ctx, node, attrs, index) if layer is not None else None
            module, dynamic = built if built is not None else _generic(ctx, node, attrs)
        except UnsupportedOperatorError:
            raise
        except (ValueError, TypeError) as e:
            raise UnsupportedOperatorError(f"ONNX import: {where(node)}: {e}") from e
        name = _module_name(node.name, node.op_type, index, taken)
        missing = [i for i in dynamic if ctx.aliases.get(i, i) not in refs]
        if missing:
            raise UnsupportedOperatorError(f"ONNX import: {where(node)} reads {missing}, which no earlier node "
                                           "or graph input produces (the graph is not in topological order)")
        nodes.append((name, module, [refs[ctx.aliases.get(i, i)] for i in dynamic]))
        n_outputs = getattr(module, "n_outputs", 1)
        if n_outputs == 1:
            refs[node.output[0]] = name
        else:  # the module returns a tuple: one picking node per output that is read
            for k, o in enumerate(node.output[:n_outputs]):
                if o and ctx.consumers[o]:
                    pick = _module_name(f"{name}_out{k}", "Output", index, taken)
                    nodes.append((pick, OnnxOp("Output", {"index": k}), [name]))
                    refs[o] = pick
    progress["node"] = None
    for alias, target in ctx.aliases.items():
        if target in refs:
            refs.setdefault(alias, refs[target])
    outputs = []
    for o in graph.output:
        if o.name not in refs:
            if o.name not in ctx.constants:
                raise UnsupportedOperatorError(f"ONNX import: output {o.name!r} is produced by no node")
            value = ctx.constants[o.name]  # a constant output: a node holding it
            refs[o.name] = _module_name(o.name, "Constant", len(nodes), taken)
            nodes.append((refs[o.name], OnnxOp("Identity", {}, ["const"], {"0": {
                "shape": list(value.shape), "dtype": str(value.dtype), "trainable": False}}), []))
            nodes[-1][1].c0.data[...] = value
        outputs.append(refs[o.name])
    built = {n for n, _, _ in nodes}
    if len(inputs) == 1 and all(o in built for o in outputs) and all(ins for _, _, ins in nodes):
        model = _assemble([(n, m, [INPUT if i == inputs[0] else i for i in ins]) for n, m, ins in nodes], outputs)
    else:
        model = OnnxGraph(nodes, inputs, outputs)
    _attach_spec(model, proto, ctx, inputs)
    return model


def _constant_value(node) -> np.ndarray:
    onnx = _onnx()
    a = node.attribute[0]
    if a.name == "value":
        return onnx.numpy_helper.to_array(a.t)
    value = onnx.helper.get_attribute_value(a)
    dtype = {"value_float": np.float32, "value_floats": np.float32, "value_int": np.int64,
             "value_ints": np.int64}.get(a.name)
    if dtype is None:
        raise UnsupportedOperatorError(f"ONNX import: {where(node)}: attribute {a.name!r}")
    return np.array(value, dtype)


def _assemble(nodes: list[tuple[str, nn.Module, list[str]]], outputs: list[str]) -> nn.Module:
    """A Sequential when the nodes form a chain from the input to the one output, else a Graph."""
    chain = len(outputs) == 1 and outputs[0] == (nodes[-1][0] if nodes else None) and all(
        ins == [nodes[k - 1][0] if k else INPUT] for k, (_, _, ins) in enumerate(nodes))
    if chain:
        return nn.Sequential(OrderedDict((n, m) for n, m, _ in nodes))
    return Graph(nodes, outputs)


def _attach_spec(model: nn.Module, proto, ctx: Context, inputs: list[str]) -> None:
    """``model.spec`` (name, per-sample input shape, output activation) where it is known (one input)."""
    from ...architecture import Spec

    if len(inputs) != 1:
        return
    input_name = inputs[0]
    meta = {p.key: p.value for p in proto.metadata_props}
    info = json.loads(meta[SPEC_KEY]) if SPEC_KEY in meta else {}
    shape = info.get("input") or (ctx.shapes.get(input_name) or [None])[1:]
    if shape and all(isinstance(s, int) and s > 0 for s in shape):
        model.spec = Spec(info.get("name") or proto.graph.name or "onnx-model", tuple(shape),
                          info.get("output_activation"))
