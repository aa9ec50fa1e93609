"""What converters see while a model is imported: constants, inferred shapes, consumers."""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

import numpy as np

from ...backend.limits import FileFormatError
from ..onnx_export import _onnx


class OnnxImportError(FileFormatError):
    """An ONNX model that cannot be imported: a damaged file, a node that fails to convert (the
    message names it), a model that asks for more memory than the cap."""


class UnsupportedOperatorError(OnnxImportError):
    """The ONNX model uses operators (or forms of them) that the importer cannot build."""


OnnxImportError.__module__ = UnsupportedOperatorError.__module__ = "profondo.io.onnx_import"


class Context:
    """Constants, inferred shapes, consumers, and the nodes merged into earlier modules."""

    def __init__(self, proto) -> None:
        onnx = _onnx()
        self.graph = proto.graph
        self.opset = next((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), 1)
        self.constants: dict[str, np.ndarray] = {}
        self.trainable: set[str] = set()  # constants that are float initializers: Parameters
        for init in self.graph.initializer:
            array = onnx.numpy_helper.to_array(init)
            self.constants[init.name] = array
            if array.dtype.kind == "f":
                self.trainable.add(init.name)
        try:
            inferred = onnx.shape_inference.infer_shapes(proto).graph
        except Exception:  # a model shape inference cannot follow still imports; ranks come from elsewhere
            inferred = self.graph
        self.shapes: dict[str, list[int | None] | None] = {}
        for vi in [*inferred.value_info, *inferred.input, *inferred.output]:
            t = vi.type.tensor_type
            self.shapes[vi.name] = ([d.dim_value if d.HasField("dim_value") else None for d in t.shape.dim]
                                    if t.HasField("shape") else None)
        self.consumers: Counter = Counter(i for n in self.graph.node for i in n.input if i)
        self.consumers.update(o.name for o in self.graph.output)
        self.fused: set[int] = set()  # nodes merged into an earlier module
        self.aliases: dict[str, str] = {}  # output of a fused node -> the value that replaces it

    def const(self, name: str) -> np.ndarray | None:
        return self.constants.get(name) if name else None

    def rank(self, name: str) -> int | None:
        shape = self.shapes.get(name)
        return None if shape is None else len(shape)

    def only_consumer(self, value: str, index: int):
        """The single node (after ``index``) reading ``value``, when no one else does."""
        if self.consumers[value] != 1:
            return None, None
        for j in range(index + 1, len(self.graph.node)):
            if value in self.graph.node[j].input:
                return j, self.graph.node[j]
        return None, None


def f32(v) -> float:
    """A float32 read back as the shortest Python float that rounds to it (1e-05, not 9.99999974e-06)."""
    return float(str(np.float32(v)))


def node_attrs(node) -> dict[str, Any]:
    """Node attributes as JSON-able Python values (tensors as {"values", "dtype", "shape"})."""
    onnx = _onnx()
    out = {}
    for a in node.attribute:
        v = onnx.helper.get_attribute_value(a)
        if isinstance(v, float):
            v = f32(v)
        elif isinstance(v, bytes):
            v = v.decode()
        elif isinstance(v, onnx.TensorProto):
            arr = onnx.numpy_helper.to_array(v)
            v = {"values": arr.reshape(-1).tolist(), "dtype": str(arr.dtype), "shape": list(arr.shape)}
        elif isinstance(v, list):
            v = [x.decode() if isinstance(x, bytes) else x for x in v]
        out[a.name] = v
    return out


def where(node) -> str:
    return f"node {node.name!r} ({node.op_type})" if node.name else f"a {node.op_type} node"


def symmetric_pads(node, attrs, ctx: Context, spatial: int = 2) -> tuple[int, ...]:
    """Symmetric padding per spatial axis from ``pads`` or ``auto_pad``."""
    auto = attrs.get("auto_pad", "NOTSET")
    pads = attrs.get("pads", [0] * 2 * spatial)
    if auto in ("SAME_UPPER", "SAME_LOWER"):
        shape = ctx.shapes.get(node.input[0])
        kernel, strides = attrs.get("kernel_shape"), attrs.get("strides", [1] * spatial)
        if shape is None or any(s is None for s in shape[2:]) or kernel is None:
            raise UnsupportedOperatorError(f"{where(node)}: auto_pad={auto} needs a known input size")
        dil = attrs.get("dilations", [1] * spatial)
        total = [max((math.ceil(n / s) - 1) * s + (k - 1) * d + 1 - n, 0)
                 for n, s, k, d in zip(shape[2:], strides, kernel, dil)]
        pads = [t // 2 for t in total] + [t - t // 2 for t in total]
    elif auto == "VALID":
        pads = [0] * 2 * spatial
    if list(pads[:spatial]) != list(pads[spatial:]):
        raise UnsupportedOperatorError(f"{where(node)}: asymmetric pads {pads} (begin != end); profondo pads "
                                       "both sides of an axis equally")
    return tuple(int(p) for p in pads[:spatial])


def need_const(ctx: Context, node, i: int, what: str) -> np.ndarray:
    array = ctx.const(node.input[i]) if len(node.input) > i else None
    if array is None:
        raise UnsupportedOperatorError(f"{where(node)}: the {what} (input {i}) must be a constant (an initializer)")
    return array


def set_param(module_param, array: np.ndarray) -> None:
    module_param.data[...] = array.astype(module_param.data.dtype, copy=False)
