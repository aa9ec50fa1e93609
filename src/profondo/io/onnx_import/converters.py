"""The one table of ONNX operators the importer reads: op type -> :class:`Converter`.

Adding an operator is one entry: ``compute`` evaluates it on Tensors (the general
:class:`~profondo.io.onnx_import.OnnxOp` form, and constant folding at import); ``layer``
builds one of profondo's own layers where the node's form matches one (a Conv with constant
weights is a Conv2d) and returns None otherwise, falling back to ``compute``. An entry needs
at least one of them. ``attrs`` names the attributes the entry reads: each maps to None (any
value ONNX allows) or the values it supports; a node with any other attribute, or another
value, is refused at import, naming the node, the attribute and the value, before anything
runs. (None for ``attrs``: the entry does not check its attributes.)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from ... import nn
from . import layers, windows
from . import ops as O


class Converter(NamedTuple):
    compute: Callable | None = None  # fn(attrs, *tensors) -> tensor(s)
    layer: Callable | None = None  # fn(ctx, node, attrs, index) -> (module, dynamic input names) | None
    attrs: dict | None = None  # attribute -> None (any value) or the supported values


NONE: dict = {}  # an operator without attributes
# TensorProto types with a NumPy dtype: not STRING (8), the complex types, bfloat16 or the float8s
NUMERIC_TYPES = (1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 13)
_POOL = {"kernel_shape": None, "strides": None, "pads": None, "auto_pad": None, "ceil_mode": None,
         "dilations": None}
_REDUCE = {"axes": None, "keepdims": None, "noop_with_empty_axes": None}
_ARG = {"axis": None, "keepdims": None, "select_last_index": None}
_CONV = {"kernel_shape": None, "strides": None, "pads": None, "auto_pad": None, "dilations": None, "group": None}
_RNN = {"hidden_size": None, "direction": None, "layout": None, "linear_before_reset": None, "clip": None,
        "activations": None, "activation_alpha": None, "activation_beta": None, "input_forget": None}
_LOSS = {"reduction": None, "ignore_index": None}


def _add(a, b):
    return a + b


CONVERTERS: dict[str, Converter] = {
    # arithmetic: broadcasting; integer operands stay integers of their type
    "Add": Converter(O.binary(_add), layers.add, NONE),
    "Sub": Converter(O.binary(lambda a, b: a - b), None, NONE),
    "Mul": Converter(O.binary(lambda a, b: a * b), None, NONE),
    "Div": Converter(O.binary(lambda a, b: a / b, O.int_divide), None, NONE),
    "Pow": Converter(O.pow_, None, NONE),
    "Max": Converter(O.variadic(lambda a, b: O.F.maximum(a, b), np.maximum), None, NONE),
    "Min": Converter(O.variadic(lambda a, b: O.F.minimum(a, b), np.minimum), None, NONE),
    "Sum": Converter(O.variadic(_add, np.add), None, NONE),
    "Mean": Converter(O.mean_, None, NONE),
    "Neg": Converter(O.unary(lambda x: -x, np.negative), None, NONE),
    "Abs": Converter(O.unary(O.F.abs, np.abs), None, NONE),
    "Reciprocal": Converter(O.unary(lambda x: 1.0 / x), None, NONE),
    "Exp": Converter(O.unary(O.F.exp), None, NONE), "Log": Converter(O.unary(O.F.log), None, NONE),
    "Sqrt": Converter(O.unary(O.F.sqrt), None, NONE), "Erf": Converter(O.unary(O.erf), None, NONE),
    "MatMul": Converter(O.matmul, layers.matmul, NONE),
    "Gemm": Converter(O.gemm, layers.gemm, {"alpha": None, "beta": None, "transA": None, "transB": None}),
    "Einsum": Converter(O.einsum, None, {"equation": None}),
    # comparisons and logic (boolean results)
    "Equal": Converter(O.compare(np.equal), None, NONE), "Less": Converter(O.compare(np.less), None, NONE),
    "Greater": Converter(O.compare(np.greater), None, NONE),
    "LessOrEqual": Converter(O.compare(np.less_equal), None, NONE),
    "GreaterOrEqual": Converter(O.compare(np.greater_equal), None, NONE),
    "Not": Converter(O.logical(np.logical_not), None, NONE), "And": Converter(O.logical(np.logical_and), None, NONE),
    "Or": Converter(O.logical(np.logical_or), None, NONE), "Xor": Converter(O.logical(np.logical_xor), None, NONE),
    "Where": Converter(O.where, None, NONE),
    # layers
    "Conv": Converter(windows.conv, layers.conv, _CONV),
    "ConvTranspose": Converter(windows.conv_transpose, None, {**_CONV, "output_padding": None, "output_shape": None}),
    "MaxPool": Converter(windows.max_pool, layers.pool, {**_POOL, "storage_order": None}),
    "AveragePool": Converter(windows.average_pool, layers.pool, {**_POOL, "count_include_pad": None}),
    "LpPool": Converter(windows.lp_pool, None, {**_POOL, "p": None}),
    "GlobalAveragePool": Converter(O.global_pool("mean"), layers.global_pool, NONE),
    "GlobalMaxPool": Converter(O.global_pool("max"), None, NONE),
    "BatchNormalization": Converter(layer=layers.batch_norm, attrs={"epsilon": None, "momentum": None,
                                                                    "training_mode": (0,), "spatial": (1,)}),
    "InstanceNormalization": Converter(O.instance_norm, None, {"epsilon": None}),
    "LayerNormalization": Converter(O.layer_norm, None, {"axis": None, "epsilon": None, "stash_type": (1,)}),
    "LRN": Converter(O.lrn, layers.lrn, {"size": None, "alpha": None, "beta": None, "bias": None}),
    "Dropout": Converter(layer=layers.dropout, attrs={"ratio": None, "seed": None}),
    "LSTM": Converter(O.lstm, layers.recurrent, _RNN),
    "GRU": Converter(O.gru, layers.recurrent, _RNN),
    # activations
    "Relu": Converter(O.unary(O.F.relu), layers.layer(nn.ReLU), NONE),
    "Sigmoid": Converter(O.unary(O.F.sigmoid), layers.layer(nn.Sigmoid), NONE),
    "Tanh": Converter(O.unary(O.F.tanh), layers.layer(nn.Tanh), NONE),
    "LeakyRelu": Converter(O.leaky_relu, layers.leaky_relu, {"alpha": None}),
    "PRelu": Converter(O.prelu, None, NONE),
    "Elu": Converter(O.elu, None, {"alpha": None}), "Celu": Converter(O.celu, None, {"alpha": None}),
    "Selu": Converter(O.selu, None, {"alpha": None, "gamma": None}),
    "Gelu": Converter(O.gelu, None, {"approximate": ("none", "tanh")}),
    "Softplus": Converter(O.unary(lambda x: O.softplus({}, x)), None, NONE),
    "Softsign": Converter(O.unary(lambda x: O.softsign({}, x)), None, NONE),
    "HardSigmoid": Converter(O.hard_sigmoid, None, {"alpha": None, "beta": None}),
    "HardSwish": Converter(O.hard_swish, None, NONE),
    "ThresholdedRelu": Converter(O.thresholded_relu, None, {"alpha": None}),
    "Clip": Converter(O.clip, layers.clip, {"min": None, "max": None}),
    "Softmax": Converter(O.softmax_op(False), layers.softmax, {"axis": None}),
    "LogSoftmax": Converter(O.softmax_op(True), layers.softmax, {"axis": None}),
    # shapes and indexing
    "Flatten": Converter(O.flatten, layers.flatten, {"axis": None}),
    "Reshape": Converter(O.reshape, None, {"allowzero": None}),
    "Transpose": Converter(O.transpose, None, {"perm": None}),
    "Concat": Converter(O.concat, layers.concat, {"axis": None}),
    "Split": Converter(O.split, None, {"axis": None, "split": None, "num_outputs": None}),
    "Gather": Converter(O.gather, layers.gather, {"axis": None}),
    "GatherElements": Converter(O.gather_elements, None, {"axis": None}),
    "ScatterElements": Converter(O.scatter_elements, None, {"axis": None, "reduction": None}),
    "Slice": Converter(O.slice_, None, {"starts": None, "ends": None, "axes": None}),
    "Unsqueeze": Converter(O.unsqueeze, None, {"axes": None}),
    "Squeeze": Converter(O.squeeze, None, {"axes": None}),
    "Shape": Converter(O.shape, None, {"start": None, "end": None}), "Size": Converter(O.size, None, NONE),
    "Expand": Converter(O.expand, None, NONE), "Tile": Converter(O.tile, None, NONE),
    "Pad": Converter(O.pad, None, {"mode": ("constant", "reflect", "edge", "wrap"), "pads": None, "value": None}),
    "DepthToSpace": Converter(O.depth_to_space, None, {"blocksize": None, "mode": ("DCR", "CRD")}),
    "Resize": Converter(O.resize, layers.resize, {
        "mode": ("nearest", "linear", "cubic"), "nearest_mode": None, "cubic_coeff_a": None, "exclude_outside": None,
        "coordinate_transformation_mode": ("half_pixel", "half_pixel_symmetric", "pytorch_half_pixel",
                                           "align_corners", "asymmetric"),
        "antialias": (0,), "axes": None, "keep_aspect_ratio_policy": None, "extrapolation_value": None}),
    "SpaceToDepth": Converter(O.space_to_depth, None, {"blocksize": None}),
    "Trilu": Converter(O.trilu, None, {"upper": None}),
    "Range": Converter(O.range_, None, NONE),
    "CumSum": Converter(O.cumsum, None, {"exclusive": None, "reverse": None}),
    "TopK": Converter(O.topk, None, {"axis": None, "largest": None, "sorted": (1,), "k": None}),
    "ArgMax": Converter(O.arg_reduce(np.argmax), None, _ARG),
    "ArgMin": Converter(O.arg_reduce(np.argmin), None, _ARG),
    "ConstantOfShape": Converter(O.constant_of_shape, None, {"value": None}),
    "Cast": Converter(O.cast, None, {"to": NUMERIC_TYPES, "saturate": None}),
    "CastLike": Converter(O.cast_like, None, {"saturate": None}),
    "Identity": Converter(O.identity, None, NONE),
    # reductions (axes an attribute, or an input from opset 18; ReduceSum's from 13)
    "ReduceMean": Converter(O.reduce("mean"), None, _REDUCE), "ReduceMax": Converter(O.reduce("max"), None, _REDUCE),
    "ReduceMin": Converter(O.reduce("min"), None, _REDUCE), "ReduceSum": Converter(O.reduce("sum"), None, _REDUCE),
    "ReduceProd": Converter(O.reduce("prod"), None, _REDUCE), "ReduceL1": Converter(O.reduce("l1"), None, _REDUCE),
    "ReduceL2": Converter(O.reduce("l2"), None, _REDUCE),
    "ReduceLogSumExp": Converter(O.reduce("logsumexp"), None, _REDUCE),
    "ReduceSumSquare": Converter(O.reduce("sumsquare"), None, _REDUCE),
    # losses
    "NegativeLogLikelihoodLoss": Converter(O.nll_loss, None, _LOSS),
    "SoftmaxCrossEntropyLoss": Converter(O.softmax_cross_entropy, None, _LOSS),
}
"""ONNX op type -> :class:`Converter` (extend to import a new operator)."""

HANDLED_BY_THE_IMPORTER = ("Constant",)  # a value, not a computation: read while walking the graph

OUTPUT = "Output"  # OnnxOp's pseudo-operator: one output of a multi-output node (an imported LSTM's Y_h)

# Operators whose outputs are several tensors; the rest return one.
MULTI_OUTPUT = ("Split", "TopK", "MaxPool", "LayerNormalization", "SoftmaxCrossEntropyLoss", "GRU", "LSTM")


def supported_ops() -> list[str]:
    """Every ONNX operator the importer reads now (entries added to :data:`CONVERTERS` included)."""
    return sorted({*CONVERTERS, *HANDLED_BY_THE_IMPORTER})


def compute_ops() -> list[str]:
    """Every operator an :class:`~profondo.io.onnx_import.OnnxOp` can compute now."""
    return sorted({*(op for op, c in CONVERTERS.items() if c.compute is not None), OUTPUT})


def operator_list() -> str:
    """The README's list of supported operators, generated from the table (a test keeps the
    README's section equal to it): the operators that become profondo layers where their form
    matches one, then every operator."""
    layered = sorted(op for op, c in CONVERTERS.items() if c.layer is not None)
    ops = supported_ops()
    return (f"{len(ops)} operators (opsets 7 to 21). Imported as profondo layers where the node's form is "
            f"the layer's: {', '.join(layered)}; everything else (and every other form) as a general node "
            f"of profondo operators that still trains.\n\n" + ", ".join(f"`{op}`" for op in ops))


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
