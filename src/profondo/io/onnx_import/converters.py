"""The one table of ONNX operators the importer reads: op type -> :class:`Converter`.

Adding an operator is one entry: ``compute`` evaluates it on Tensors (the general
:class:`~profondo.io.onnx_import.OnnxOp` form, and constant folding at import); ``layer``
builds one of profondo's own layers where the node's form matches one (a Conv with constant
weights is a Conv2d) and returns None otherwise, falling back to ``compute``. An entry needs
at least one of them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from ... import functional as F
from ... import nn
from . import layers
from . import ops as O


class Converter(NamedTuple):
    compute: Callable | None = None  # fn(attrs, *tensors) -> tensor(s)
    layer: Callable | None = None  # fn(ctx, node, attrs, index) -> (module, dynamic input names) | None


CONVERTERS: dict[str, Converter] = {
    # arithmetic (integer operands are shape arithmetic, computed exactly)
    "Add": Converter(O.binary(lambda a, b: a + b), layers.add),
    "Sub": Converter(O.binary(lambda a, b: a - b)),
    "Mul": Converter(O.binary(lambda a, b: a * b)),
    "Div": Converter(O.binary(O.divide)),
    "Pow": Converter(lambda attrs, a, b: F.pow(a, b)),
    "Neg": Converter(lambda attrs, x: -x),
    "Exp": Converter(O.unary(F.exp)), "Log": Converter(O.unary(F.log)),
    "Sqrt": Converter(O.unary(F.sqrt)), "Abs": Converter(O.unary(F.abs)),
    "MatMul": Converter(lambda attrs, a, b: F.matmul(a, b), layers.matmul),
    "Gemm": Converter(O.gemm, layers.gemm),
    # layers
    "Conv": Converter(layer=layers.conv),
    "MaxPool": Converter(layer=layers.pool), "AveragePool": Converter(layer=layers.pool),
    "GlobalAveragePool": Converter(O.global_average_pool, layers.global_pool),
    "BatchNormalization": Converter(layer=layers.batch_norm),
    "Dropout": Converter(layer=layers.dropout),
    "LSTM": Converter(layer=layers.recurrent), "GRU": Converter(layer=layers.recurrent),
    # activations
    "Relu": Converter(O.unary(F.relu), layers.layer(nn.ReLU)),
    "Sigmoid": Converter(O.unary(F.sigmoid), layers.layer(nn.Sigmoid)),
    "Tanh": Converter(O.unary(F.tanh), layers.layer(nn.Tanh)),
    "LeakyRelu": Converter(lambda attrs, x: F.leaky_relu(x, attrs.get("alpha", 0.01)), layers.leaky_relu),
    "Clip": Converter(O.clip, layers.clip),
    "Softmax": Converter(O.along_axis(F.softmax), layers.softmax),
    "LogSoftmax": Converter(O.along_axis(F.log_softmax), layers.softmax),
    # shapes and indexing
    "Flatten": Converter(O.flatten, layers.flatten),
    "Reshape": Converter(O.reshape), "Transpose": Converter(O.transpose),
    "Concat": Converter(lambda attrs, *xs: F.concat(xs, attrs["axis"]), layers.concat),
    "Gather": Converter(O.gather, layers.gather),
    "Slice": Converter(O.slice_), "Unsqueeze": Converter(O.unsqueeze), "Squeeze": Converter(O.squeeze),
    "Shape": Converter(O.shape), "Expand": Converter(O.expand),
    "ConstantOfShape": Converter(O.constant_of_shape), "Cast": Converter(O.cast),
    # reductions
    "ReduceMean": Converter(O.reduce(F.mean)), "ReduceMax": Converter(O.reduce(F.amax)),
    "ReduceSum": Converter(O.reduce(F.sum)),
}
"""ONNX op type -> :class:`Converter` (extend to import a new operator)."""

HANDLED_BY_THE_IMPORTER = ("Constant", "Identity")  # values, not computations: read while walking the graph

OUTPUT = "Output"  # OnnxOp's pseudo-operator: one output of a multi-output node (an imported LSTM's Y_h)

def supported_ops() -> list[str]:
    """Every ONNX operator the importer reads now (entries added to :data:`CONVERTERS` included)."""
    return sorted({*CONVERTERS, *HANDLED_BY_THE_IMPORTER})


def compute_ops() -> list[str]:
    """Every operator an :class:`~profondo.io.onnx_import.OnnxOp` can compute now."""
    return sorted({*(op for op, c in CONVERTERS.items() if c.compute is not None), OUTPUT})


SUPPORTED = supported_ops()
"""The ONNX operators of the built-in table (:func:`supported_ops` follows later additions)."""


def compute_fn(op: str) -> Callable | None:
    """The Tensor function of ``op`` (the general form of a node), None where it has none."""
    if op == OUTPUT:
        return O.output
    entry = CONVERTERS.get(op)
    return None if entry is None else entry.compute


OPS: dict[str, Callable] = {**{op: c.compute for op, c in CONVERTERS.items() if c.compute is not None},
                            OUTPUT: O.output}
"""ONNX op type -> ``fn(attrs, *inputs)`` on Tensors (a view of :data:`CONVERTERS`)."""
