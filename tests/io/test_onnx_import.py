"""ONNX import against onnxruntime (the oracle): one-node models of every supported operator and
attribute form, built with onnx.helper, on random inputs; the imported network must give
onnxruntime's values in onnxruntime's dtypes (integers stay integers, float32 stays float32),
and float cases must also train (a backward pass reaches every float input)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pytest

import profondo
from profondo import nn

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from profondo.io.onnx_import import OnnxGraph, UnsupportedOperatorError, import_onnx  # noqa: E402

_TYPES = {np.dtype(np.float32): TensorProto.FLOAT, np.dtype(np.float64): TensorProto.DOUBLE,
          np.dtype(np.int64): TensorProto.INT64, np.dtype(np.int32): TensorProto.INT32,
          np.dtype(np.int8): TensorProto.INT8, np.dtype(np.uint8): TensorProto.UINT8,
          np.dtype(bool): TensorProto.BOOL}


@dataclass
class Op:
    """One node: ``inputs`` are arrays (graph inputs) and ``consts`` arrays (initializers), in
    the node's input order by name; ``out`` the output dtypes (default: the first input's)."""

    op: str
    inputs: dict
    attrs: dict = field(default_factory=dict)
    consts: dict = field(default_factory=dict)
    order: list | None = None  # node input names in order ("" for an omitted optional input)
    out: list | None = None
    opset: int = 17
    atol: float = 1e-5
    grad: bool = True
    id: str = ""
    # onnxruntime has no kernel for a few forms the specification defines: GRU with layout=1 uses
    # onnx's reference implementation (True); LRN of even size or not 4-D a NumPy transcription of
    # the specification's formula (a function of the inputs), as onnx's reference LRN loops over
    # the batch axis instead of the channels
    reference: object = False

    def model(self):
        names = self.order if self.order is not None else [*self.inputs, *self.consts]
        n_out = len(self.out) if self.out else 1
        outputs = [f"y{k}" for k in range(n_out)]
        node = helper.make_node(self.op, names, outputs, name="node", **self.attrs)
        first = next(iter(self.inputs.values()))
        types = self.out or [first.dtype]
        graph = helper.make_graph(
            [node], "one_node",
            [helper.make_tensor_value_info(k, _TYPES[v.dtype], list(v.shape)) for k, v in self.inputs.items()],
            [helper.make_tensor_value_info(o, _TYPES[np.dtype(t)], None) for o, t in zip(outputs, types)],
            [numpy_helper.from_array(v, k) for k, v in self.consts.items()])
        proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", self.opset)])
        proto.ir_version = 8
        return onnx.shape_inference.infer_shapes(proto)  # declares the outputs' shapes, as exporters do


R = np.random.default_rng(0)


def f(*shape, scale=1.0, positive=False):
    x = R.standard_normal(shape).astype(np.float32) * scale
    return np.abs(x) + 0.5 if positive else x


def i(*shape, low=-5, high=5, dtype=np.int64):
    return R.integers(low, high, shape).astype(dtype)


def _pool_cases():
    cases = []
    x2, x1, x3 = f(2, 3, 7, 8), f(2, 3, 9), f(1, 2, 5, 6, 7)
    for op in ("MaxPool", "AveragePool"):
        forms = {
            "k3s2": {"kernel_shape": [3, 3], "strides": [2, 2]},
            "pads": {"kernel_shape": [3, 3], "pads": [1, 1, 1, 1]},
            "uneven_pads": {"kernel_shape": [3, 2], "pads": [0, 1, 2, 0]},
            "wide_pads": {"kernel_shape": [2, 2], "pads": [1, 1, 1, 1]},
            "same_upper": {"kernel_shape": [3, 3], "strides": [2, 2], "auto_pad": "SAME_UPPER"},
            "same_lower": {"kernel_shape": [2, 3], "strides": [2, 2], "auto_pad": "SAME_LOWER"},
            "valid": {"kernel_shape": [2, 2], "auto_pad": "VALID"},
            "ceil": {"kernel_shape": [3, 3], "strides": [2, 2], "ceil_mode": 1},
            "ceil_pads": {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 1, 1, 1], "ceil_mode": 1},
        }
        if op == "AveragePool":
            forms["count_include_pad"] = {"kernel_shape": [3, 3], "pads": [1, 1, 1, 1], "count_include_pad": 1}
            forms["count_include_pad_ceil"] = {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 1, 1, 1],
                                               "count_include_pad": 1, "ceil_mode": 1}
            opset = 19
        else:
            forms["dilations"] = {"kernel_shape": [2, 2], "dilations": [2, 2]}
            forms["dilations_pads_strides"] = {"kernel_shape": [3, 2], "dilations": [2, 1], "strides": [1, 2],
                                               "pads": [1, 0, 2, 1]}
            opset = 12
        for name, attrs in forms.items():
            cases.append(Op(op, {"x": x2}, attrs, opset=opset, id=f"{op}-{name}"))
        cases.append(Op(op, {"x": x1}, {"kernel_shape": [3], "strides": [2], "pads": [1, 1]}, opset=opset,
                        id=f"{op}-1d"))
        cases.append(Op(op, {"x": x3}, {"kernel_shape": [2, 3, 2], "strides": [1, 2, 2]}, opset=opset, id=f"{op}-3d"))
    cases += [
        Op("MaxPool", {"x": x2}, {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 1, 1, 1]},
           out=[np.float32, np.int64], opset=12, id="MaxPool-indices"),
        Op("MaxPool", {"x": x2}, {"kernel_shape": [2, 2], "storage_order": 1}, out=[np.float32, np.int64], opset=12,
           id="MaxPool-indices-column-major"),
        Op("MaxPool", {"x": i(1, 2, 5, 5, dtype=np.int8)}, {"kernel_shape": [2, 2]}, opset=12, id="MaxPool-int8"),
        Op("LpPool", {"x": x2}, {"kernel_shape": [2, 2], "p": 2}, opset=18, id="LpPool"),
        Op("GlobalMaxPool", {"x": x2}, id="GlobalMaxPool"),
        Op("GlobalAveragePool", {"x": x3}, id="GlobalAveragePool-3d"),
    ]
    return cases


def _conv_cases():
    x = f(2, 4, 6, 7)
    return [
        Op("Conv", {"x": x}, {"pads": [0, 1, 2, 1]}, {"w": f(6, 4, 3, 3)}, id="Conv-uneven-pads"),
        Op("Conv", {"x": x}, {"auto_pad": "SAME_UPPER", "strides": [2, 2]}, {"w": f(6, 4, 2, 2), "b": f(6)},
           id="Conv-same-upper"),
        Op("Conv", {"x": f(2, 4, 9)}, {"pads": [1, 2], "dilations": [2], "group": 2}, {"w": f(6, 2, 3)},
           id="Conv-1d"),
        Op("Conv", {"x": x, "w": f(3, 4, 3, 3)}, {"pads": [1, 1, 1, 1]}, id="Conv-runtime-weight"),
        Op("ConvTranspose", {"x": x}, {"strides": [2, 2]}, {"w": f(4, 3, 3, 3)}, id="ConvTranspose-stride2"),
        Op("ConvTranspose", {"x": x}, {"strides": [2, 1], "pads": [1, 0, 0, 1], "output_padding": [1, 0]},
           {"w": f(4, 3, 3, 2), "b": f(3)}, id="ConvTranspose-pads-output-padding"),
        Op("ConvTranspose", {"x": x}, {"group": 2, "dilations": [2, 1]}, {"w": f(4, 2, 2, 3)},
           id="ConvTranspose-groups-dilations"),
        Op("ConvTranspose", {"x": x}, {"strides": [2, 2], "output_shape": [13, 15]}, {"w": f(4, 3, 3, 3)},
           id="ConvTranspose-output-shape"),
        Op("ConvTranspose", {"x": f(2, 4, 5)}, {"strides": [3]}, {"w": f(4, 2, 4)}, id="ConvTranspose-1d"),
    ]


def _elementwise_cases():
    a, b, c = f(2, 3, 4), f(3, 1), f(4)
    ia, ib = i(2, 3), i(3, low=1, high=4)
    cases = [Op(op, {"a": a, "b": b}, id=f"{op}-broadcast") for op in ("Add", "Sub", "Mul", "Div")]
    cases += [Op(op, {"a": ia, "b": ib}, id=f"{op}-int64") for op in ("Add", "Sub", "Mul", "Div")]
    cases += [
        Op("Div", {"a": i(4, dtype=np.int32), "b": np.array([3, -2, 5, 7], np.int32)}, id="Div-int32-truncates"),
        Op("Pow", {"a": f(3, 4, positive=True), "b": f(4)}, id="Pow-float"),
        Op("Pow", {"a": f(3, 4, positive=True)}, consts={"b": np.array(2, np.int64)}, id="Pow-float-int-exponent"),
        Op("Pow", {"a": i(3, 4, low=0, high=4)}, consts={"b": np.array(2.0, np.float32)}, id="Pow-int-float-exponent"),
        Op("Pow", {"a": f(3, positive=True)}, consts={"b": np.array([1.5, 2.0, 3.0], np.float32)},
           opset=15, id="Pow-trainable-exponent"),
        *[Op(op, {"a": a, "b": b, "c": c}, id=f"{op}-variadic") for op in ("Max", "Min", "Sum", "Mean")],
        Op("Max", {"a": ia, "b": ib}, id="Max-int64"), Op("Sum", {"a": a}, id="Sum-one-input"),
        Op("MatMul", {"a": f(2, 3, 4), "b": f(4, 5)}, id="MatMul-two-inputs"),
        Op("MatMul", {"a": f(2, 1, 3, 4), "b": f(3, 4, 2)}, id="MatMul-batched-broadcast"),
        Op("Gemm", {"a": f(3, 4), "b": f(5, 4), "c": f(5)}, {"transB": 1, "alpha": 0.5, "beta": 2.0},
           id="Gemm-runtime-c"),
        Op("Gemm", {"a": f(4, 3)}, {"transA": 1}, {"b": f(4, 5), "c": f(3, 1)}, id="Gemm-transA-column-c"),
        Op("Einsum", {"a": f(2, 3, 4), "b": f(2, 4, 5)}, {"equation": "bij,bjk->bik"}, id="Einsum-batched"),
        Op("Einsum", {"a": f(3, 4)}, {"equation": "ij->j"}, id="Einsum-sum"),
        Op("Einsum", {"a": f(3, 4), "b": f(4)}, {"equation": "ij,j->i"}, id="Einsum-matvec"),
        Op("Where", {"c": R.random((3, 4)) > 0.5, "a": f(3, 4), "b": f(4)}, out=[np.float32], id="Where-broadcast"),
        Op("Where", {"c": R.random((3, 1)) > 0.5, "a": i(3, 4), "b": i(4)}, out=[np.int64], id="Where-int64"),
    ]
    for op in ("Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual"):
        cases.append(Op(op, {"a": ia, "b": ib}, out=[bool], id=f"{op}-int64"))
    cases.append(Op("Less", {"a": a, "b": b}, out=[bool], id="Less-float-broadcast"))
    p, q = R.random((3, 4)) > 0.5, R.random((4,)) > 0.5
    cases += [Op(op, {"a": p, "b": q}, id=f"{op}") for op in ("And", "Or", "Xor")]
    cases.append(Op("Not", {"a": p}, id="Not"))
    x = f(3, 5, scale=2.0)
    unary = {"Neg": {}, "Abs": {}, "Exp": {}, "Sqrt": None, "Log": None, "Reciprocal": None, "Erf": {},
             "Relu": {}, "Sigmoid": {}, "Tanh": {}, "Softplus": {}, "Softsign": {}, "HardSwish": {},
             "Elu": {"alpha": 0.7}, "Selu": {}, "Celu": {"alpha": 1.5}, "HardSigmoid": {"alpha": 0.3, "beta": 0.4},
             "LeakyRelu": {"alpha": 0.2}, "ThresholdedRelu": {"alpha": 0.5}}
    for op, attrs in unary.items():
        xin = f(3, 5, positive=True) if attrs is None else x
        cases.append(Op(op, {"x": xin}, attrs or {}, opset=18 if op == "Celu" else 17, id=op))
    cases += [
        Op("Neg", {"x": i(3, 4, dtype=np.int32)}, id="Neg-int32"), Op("Abs", {"x": i(3, 4)}, id="Abs-int64"),
        Op("Gelu", {"x": x}, opset=20, id="Gelu"), Op("Gelu", {"x": x}, {"approximate": "tanh"}, opset=20,
                                                     id="Gelu-tanh"),
        Op("PRelu", {"x": f(2, 3, 4, 4)}, consts={"slope": f(3, 1, 1)}, id="PRelu-channel-slope"),
        Op("PRelu", {"x": f(2, 3), "slope": f(3)}, id="PRelu-runtime-slope"),
        Op("Clip", {"x": x}, consts={"lo": np.array(-0.5, np.float32), "hi": np.array(0.7, np.float32)},
           opset=13, id="Clip-bounds"),
        Op("Clip", {"x": x}, consts={"lo": np.array(-0.5, np.float32)}, opset=13, id="Clip-min-only"),
        Op("Clip", {"x": x}, {"min": -0.2, "max": 0.3}, opset=6, id="Clip-opset6-attributes"),
        Op("Clip", {"x": i(3, 4, low=-100, high=100, dtype=np.int8)},
           consts={"lo": np.array(-3, np.int8), "hi": np.array(5, np.int8)}, opset=13, id="Clip-int8"),
        Op("Clip", {"x": x}, consts={"hi": np.array(0.1, np.float32)}, order=["x", "", "hi"], opset=13,
           id="Clip-max-only"),
    ]
    return cases


def _shape_cases():
    x = f(2, 3, 4, 5)
    return [
        Op("Softmax", {"x": x}, {"axis": 1}, opset=13, id="Softmax-axis1"),
        Op("Softmax", {"x": x}, {"axis": 1}, opset=11, id="Softmax-opset11-flattened"),
        Op("LogSoftmax", {"x": x}, opset=11, id="LogSoftmax-opset11-default-axis"),
        Op("LogSoftmax", {"x": x}, {"axis": 2}, opset=13, id="LogSoftmax-axis2"),
        Op("Flatten", {"x": x}, {"axis": 2}, id="Flatten-axis2"), Op("Flatten", {"x": x}, {"axis": 0},
                                                                      id="Flatten-axis0"),
        Op("Reshape", {"x": x}, consts={"s": np.array([0, -1, 5], np.int64)}, id="Reshape-zero-copies"),
        Op("Transpose", {"x": x}, {"perm": [2, 0, 3, 1]}, id="Transpose"), Op("Transpose", {"x": x},
                                                                              id="Transpose-default"),
        Op("Concat", {"a": f(2, 3), "b": f(2, 4)}, {"axis": -1}, id="Concat-two-inputs"),
        Op("Concat", {"a": f(2, 3), "b": f(1, 3)}, {"axis": 0}, id="Concat-batch-axis"),
        Op("Concat", {"a": i(2, 3)}, {"axis": 1}, consts={"b": i(2, 2)}, id="Concat-int64"),
        Op("Split", {"x": x}, {"axis": 2}, out=[np.float32] * 2, opset=13, id="Split-equal"),
        Op("Split", {"x": x}, {"axis": 3}, consts={"s": np.array([1, 4], np.int64)}, out=[np.float32] * 2,
           opset=13, id="Split-sizes-input"),
        Op("Split", {"x": x}, {"axis": 3, "split": [2, 3]}, out=[np.float32] * 2, opset=11, id="Split-opset11-attr"),
        Op("Split", {"x": x}, {"axis": 3, "num_outputs": 2}, out=[np.float32] * 2, opset=18,
           id="Split-num-outputs-uneven"),
        Op("Gather", {"x": x}, {"axis": 2}, consts={"k": np.array([[0, -1], [2, 1]], np.int64)},
           id="Gather-negative-indices"),
        Op("Gather", {"x": f(5, 3), "k": i(2, 4, low=0, high=5)}, id="Gather-runtime-indices"),
        Op("GatherElements", {"x": f(3, 4)}, {"axis": 1}, consts={"k": i(3, 2, low=-4, high=4)},
           id="GatherElements"),
        Op("GatherElements", {"x": i(3, 4)}, {"axis": 0}, consts={"k": i(2, 4, low=0, high=3)},
           id="GatherElements-int64"),
        Op("ScatterElements", {"x": f(3, 4), "u": f(3, 2)}, {"axis": 1},
           consts={"k": np.array([[0, 1], [2, 3], [1, 0]], np.int64)}, order=["x", "k", "u"], opset=16,
           id="ScatterElements"),
        Op("ScatterElements", {"x": f(3, 4), "u": f(2, 4)}, {"axis": 0, "reduction": "add"},
           consts={"k": np.array([[0, 1, 2, 0], [0, 1, 2, 0]], np.int64)}, order=["x", "k", "u"], opset=16,
           grad=False, id="ScatterElements-add"),
        Op("Slice", {"x": x}, consts={"s": np.array([1, -1], np.int64), "e": np.array([3, -100], np.int64),
                                      "a": np.array([2, 3], np.int64), "st": np.array([1, -2], np.int64)},
           id="Slice-negative-steps"),
        Op("Slice", {"x": x}, consts={"s": np.array([0], np.int64), "e": np.array([2**62], np.int64)},
           id="Slice-huge-end"),
        Op("Slice", {"x": x}, {"starts": [1], "ends": [3], "axes": [1]}, opset=9, id="Slice-opset9-attributes"),
        Op("Unsqueeze", {"x": f(3, 4)}, consts={"a": np.array([0, -1], np.int64)}, opset=13, id="Unsqueeze"),
        Op("Unsqueeze", {"x": f(3, 4)}, {"axes": [1]}, opset=11, id="Unsqueeze-opset11"),
        Op("Squeeze", {"x": f(3, 1, 4, 1)}, consts={"a": np.array([-1], np.int64)}, opset=13, id="Squeeze-axes"),
        Op("Squeeze", {"x": f(3, 1, 4, 1)}, opset=13, id="Squeeze-all"),
        Op("Shape", {"x": x}, {"start": 1, "end": -1}, out=[np.int64], opset=15, id="Shape-start-end"),
        Op("Size", {"x": x}, out=[np.int64], id="Size"),
        Op("Expand", {"x": f(3, 1)}, consts={"s": np.array([2, 1, 4], np.int64)}, id="Expand"),
        Op("Tile", {"x": f(2, 3)}, consts={"r": np.array([2, 3], np.int64)}, id="Tile"),
        Op("Tile", {"x": i(2, 3)}, consts={"r": np.array([1, 2], np.int64)}, id="Tile-int64"),
        *[Op("Pad", {"x": f(2, 3, 4)}, {"mode": mode}, consts={"p": np.array([0, 1, 2, 0, 2, 1], np.int64)},
             opset=mode_opset, id=f"Pad-{mode}") for mode, mode_opset in
          (("constant", 13), ("reflect", 13), ("edge", 13), ("wrap", 19))],
        Op("Pad", {"x": f(2, 3, 4)}, consts={"p": np.array([1, -1], np.int64), "v": np.array(2.5, np.float32),
                                              "ax": np.array([2], np.int64)}, opset=18, id="Pad-axes-value-crop"),
        Op("Pad", {"x": i(2, 3)}, consts={"p": np.array([1, 1, 0, 2], np.int64)}, opset=13, id="Pad-int64"),
        Op("DepthToSpace", {"x": f(2, 8, 3, 3)}, {"blocksize": 2}, id="DepthToSpace-DCR"),
        Op("DepthToSpace", {"x": f(2, 8, 3, 3)}, {"blocksize": 2, "mode": "CRD"}, id="DepthToSpace-CRD"),
        Op("SpaceToDepth", {"x": f(2, 2, 4, 6)}, {"blocksize": 2}, id="SpaceToDepth"),
        *_resize_cases(),
        Op("Trilu", {"x": f(2, 4, 5)}, id="Trilu-upper"),
        Op("Trilu", {"x": f(2, 4, 5)}, {"upper": 0}, consts={"k": np.array(-1, np.int64)}, id="Trilu-lower-k"),
        Op("Range", {"s": np.array(1, np.int64)}, consts={"l": np.array(10, np.int64), "d": np.array(3, np.int64)},
           id="Range-int64"),
        Op("Range", {"s": np.array(0.5, np.float32)}, consts={"l": np.array(-2.0, np.float32),
                                                              "d": np.array(-0.75, np.float32)},
           grad=False, id="Range-float-negative-delta"),
        Op("CumSum", {"x": f(3, 4)}, consts={"a": np.array(1, np.int64)}, id="CumSum"),
        Op("CumSum", {"x": f(3, 4)}, {"exclusive": 1, "reverse": 1}, consts={"a": np.array(0, np.int64)},
           id="CumSum-exclusive-reverse"),
        Op("CumSum", {"x": i(3, 4, dtype=np.int32)}, {"exclusive": 1}, consts={"a": np.array(1, np.int32)},
           id="CumSum-int32-exclusive"),
        Op("TopK", {"x": f(3, 6)}, consts={"k": np.array([2], np.int64)}, out=[np.float32, np.int64],
           id="TopK-largest"),
        Op("TopK", {"x": f(3, 6)}, {"axis": 0, "largest": 0}, consts={"k": np.array([2], np.int64)},
           out=[np.float32, np.int64], id="TopK-smallest-axis0"),
        Op("TopK", {"x": np.array([[1, 3, 3, 2, 3]], np.int64)}, consts={"k": np.array([3], np.int64)},
           out=[np.int64, np.int64], id="TopK-ties-int64"),
        Op("TopK", {"x": f(3, 6)}, {"k": 3}, out=[np.float32, np.int64], opset=9, id="TopK-opset9-attribute-k"),
        Op("Pad", {"x": f(2, 3)}, {"pads": [0, 1, 1, 2], "value": 1.5}, opset=7, id="Pad-opset7-attributes"),
        Op("Split", {"x": x}, {"axis": 1, "split": [1, 2]}, out=[np.float32] * 2, opset=7, id="Split-opset7"),
        Op("Unsqueeze", {"x": f(3)}, {"axes": [0, 2]}, opset=7, id="Unsqueeze-opset7"),
        Op("ReduceMean", {"x": f(2, 3)}, {"axes": [-1]}, opset=7, id="ReduceMean-opset7"),
        Op("Softmax", {"x": f(2, 3, 4)}, opset=7, id="Softmax-opset7-default-axis"),
        Op("ArgMax", {"x": np.array([[1, 3, 3], [2, 2, 0]], np.float32)}, {"axis": 1}, out=[np.int64],
           id="ArgMax-ties-first"),
        Op("ArgMax", {"x": np.array([[1, 3, 3], [2, 2, 0]], np.float32)}, {"axis": 1, "select_last_index": 1,
                                                                          "keepdims": 0}, out=[np.int64],
           id="ArgMax-select-last"),
        Op("ArgMin", {"x": f(3, 4)}, {"axis": 0}, out=[np.int64], id="ArgMin"),
        Op("ConstantOfShape", {"s": np.array([2, 3], np.int64)},
           {"value": numpy_helper.from_array(np.array([4], np.int32))}, out=[np.int32], id="ConstantOfShape-int32"),
        Op("Cast", {"x": f(3, 4, scale=3.0)}, {"to": TensorProto.INT32}, out=[np.int32], id="Cast-to-int32"),
        Op("Cast", {"x": i(3, 4)}, {"to": TensorProto.FLOAT}, out=[np.float32], id="Cast-int-to-float"),
        Op("Cast", {"x": f(3, 4)}, {"to": TensorProto.BOOL}, out=[bool], id="Cast-to-bool"),
        Op("CastLike", {"x": i(3, 4), "t": f(1)}, out=[np.float32], opset=15, id="CastLike"),
        Op("Identity", {"x": f(3, 4)}, id="Identity-only"),
    ]


def _resize_cases():
    x = f(1, 2, 5, 6)
    up, down = np.array([1, 1, 2, 1.5], np.float32), np.array([1, 1, 0.6, 0.5], np.float32)
    forms = {
        "nearest-default": ({}, up, None), "nearest-asymmetric-floor": ({"coordinate_transformation_mode": "asymmetric",
                                                                         "nearest_mode": "floor"}, up, None),
        "nearest-round-prefer-ceil-down": ({"nearest_mode": "round_prefer_ceil"}, down, None),
        "nearest-align-corners-ceil": ({"coordinate_transformation_mode": "align_corners", "nearest_mode": "ceil"},
                                       up, None),
        "linear-half-pixel-down": ({"mode": "linear"}, down, None),
        "linear-pytorch-half-pixel": ({"mode": "linear", "coordinate_transformation_mode": "pytorch_half_pixel"}, up,
                                      None),
        "linear-align-corners-sizes": ({"mode": "linear", "coordinate_transformation_mode": "align_corners"}, None,
                                       np.array([1, 2, 7, 4], np.int64)),
        "cubic": ({"mode": "cubic"}, up, None),
        "cubic-exclude-outside-a": ({"mode": "cubic", "exclude_outside": 1, "cubic_coeff_a": -0.5}, down, None),
        "linear-half-pixel-symmetric": ({"mode": "linear", "coordinate_transformation_mode": "half_pixel_symmetric"},
                                        np.array([1, 1, 1.7, 0.8], np.float32), None),
    }
    cases = []
    for name, (attrs, scales, sizes) in forms.items():
        consts = {"roi": np.array([], np.float32), "scales": scales} if sizes is None else {"sizes": sizes}
        order = ["x", "roi", "scales"] if sizes is None else ["x", "", "", "sizes"]
        if sizes is not None:
            consts = {"sizes": sizes}
        cases.append(Op("Resize", {"x": x}, attrs, consts, order=order, opset=19, id=f"Resize-{name}"))
    cases += [
        Op("Resize", {"x": x}, {"mode": "linear", "axes": [2, 3], "keep_aspect_ratio_policy": "not_larger"},
           {"sizes": np.array([8, 8], np.int64)}, order=["x", "", "", "sizes"], opset=18,
           id="Resize-axes-keep-aspect-not-larger"),
        Op("Resize", {"x": i(1, 1, 3, 4, low=0, high=255, dtype=np.uint8)}, {},
           {"roi": np.array([], np.float32), "scales": up}, order=["x", "roi", "scales"], opset=13,
           id="Resize-nearest-uint8"),
    ]
    return cases


def _reduce_cases():
    x = f(2, 3, 4, positive=True)
    cases = []
    for op in ("ReduceMean", "ReduceMax", "ReduceMin", "ReduceSum", "ReduceProd", "ReduceL1", "ReduceL2",
               "ReduceLogSumExp", "ReduceSumSquare"):
        cases += [Op(op, {"x": x}, {"axes": [1], "keepdims": 0}, opset=11, id=f"{op}-opset11-attr"),
                  Op(op, {"x": x}, consts={"a": np.array([0, -1], np.int64)}, opset=18, id=f"{op}-axes-input"),
                  Op(op, {"x": x}, opset=18, id=f"{op}-all-axes")]
    cases += [
        Op("ReduceSum", {"x": x}, consts={"a": np.array([], np.int64)}, opset=13, id="ReduceSum-empty-axes-all"),
        Op("ReduceSum", {"x": x}, {"noop_with_empty_axes": 1}, consts={"a": np.array([], np.int64)}, opset=13,
           id="ReduceSum-empty-axes-noop"),
        Op("ReduceSum", {"x": i(2, 3)}, {"keepdims": 0}, consts={"a": np.array([1], np.int64)}, opset=13,
           id="ReduceSum-int64"),
        Op("ReduceMax", {"x": i(2, 3, dtype=np.int32)}, opset=18, id="ReduceMax-int32"),
        Op("ReduceProd", {"x": np.array([[0.0, 2.0, 3.0], [1.0, 0.5, 4.0]], np.float32)}, {"axes": [1]}, opset=13,
           id="ReduceProd-with-zero"),
    ]
    return cases


def _lrn_spec(x, size, alpha=1e-4, beta=0.75, bias=1.0):
    """ONNX's LRN, word for word: square_sum[n, c] = sum(X[n, i]^2) for i in
    [max(0, c - floor((size-1)/2)), min(C-1, c + ceil((size-1)/2))]."""
    square_sum = np.zeros_like(x, np.float64)
    channels = x.shape[1]
    for c in range(channels):
        lo, hi = max(0, c - (size - 1) // 2), min(channels - 1, c + -(-(size - 1) // 2))
        square_sum[:, c] = (x[:, lo:hi + 1].astype(np.float64) ** 2).sum(1)
    return [(x / (bias + alpha / size * square_sum) ** beta).astype(x.dtype)]


def _norm_and_loss_cases():
    x = f(2, 6, 3, 3)
    labels = np.array([[0, 2, 1], [4, 3, 2]], np.int64)
    return [
        Op("LayerNormalization", {"x": f(2, 3, 4)}, consts={"g": f(4), "b": f(4)}, id="LayerNormalization"),
        Op("LayerNormalization", {"x": f(2, 3, 4)}, {"axis": 1, "epsilon": 1e-3}, consts={"g": f(3, 4)},
           id="LayerNormalization-axis1-no-bias"),
        Op("LayerNormalization", {"x": f(2, 3, 4)}, consts={"g": f(4), "b": f(4)},
           out=[np.float32, np.float32, np.float32], id="LayerNormalization-mean-invstd"),
        Op("InstanceNormalization", {"x": x}, {"epsilon": 1e-3}, consts={"s": f(6), "b": f(6)},
           id="InstanceNormalization"),
        Op("LRN", {"x": x}, {"size": 5, "alpha": 0.3, "beta": 0.6, "bias": 2.0}, id="LRN-odd"),
        Op("LRN", {"x": x}, {"size": 4, "alpha": 0.3}, reference=lambda x: _lrn_spec(x, 4, 0.3), id="LRN-even"),
        Op("LRN", {"x": f(2, 4, 5)}, {"size": 3}, reference=lambda x: _lrn_spec(x, 3), id="LRN-3d-defaults"),
        Op("BatchNormalization", {"x": f(2, 3, 4, 4)}, consts={"s": f(3), "b": f(3), "m": f(3),
                                                               "v": f(3, positive=True)}, id="BatchNormalization"),
        Op("Dropout", {"x": f(3, 4)}, {"ratio": 0.3}, opset=11, id="Dropout-opset11-inference"),
        Op("NegativeLogLikelihoodLoss", {"x": f(3, 5), "t": np.array([1, 0, 4], np.int64)}, id="NLL-mean"),
        Op("NegativeLogLikelihoodLoss", {"x": f(2, 5, 3), "t": labels}, {"reduction": "sum", "ignore_index": 2},
           id="NLL-sum-ignore-index-multidim"),
        Op("NegativeLogLikelihoodLoss", {"x": f(3, 5), "t": np.array([1, 0, 4], np.int64)}, {"reduction": "none"},
           consts={"w": f(5, positive=True)}, id="NLL-none-weights"),
        Op("SoftmaxCrossEntropyLoss", {"x": f(3, 5), "t": np.array([1, 0, 4], np.int64)}, id="SoftmaxCE-mean"),
        Op("SoftmaxCrossEntropyLoss", {"x": f(2, 5, 3), "t": labels}, {"ignore_index": 3},
           consts={"w": f(5, positive=True)}, out=[np.float32, np.float32], id="SoftmaxCE-weights-log-prob"),
    ]


def _recurrent_cases():
    steps, batch, feat, hidden = 4, 2, 3, 5
    x = f(steps, batch, feat)
    cases = []
    for lbr in (0, 1):
        for direction in ("forward", "reverse", "bidirectional"):
            d = 2 if direction == "bidirectional" else 1
            cases.append(Op("GRU", {"x": x}, {"hidden_size": hidden, "linear_before_reset": lbr, "direction": direction},
                            {"W": f(d, 3 * hidden, feat), "R": f(d, 3 * hidden, hidden), "B": f(d, 6 * hidden)},
                            out=[np.float32, np.float32], id=f"GRU-lbr{lbr}-{direction}"))
    cases += [
        Op("GRU", {"x": f(batch, steps, feat), "h0": f(batch, 1, hidden)}, {"hidden_size": hidden, "layout": 1},
           {"W": f(1, 3 * hidden, feat), "R": f(1, 3 * hidden, hidden)}, order=["x", "W", "R", "", "", "h0"],
           out=[np.float32, np.float32], opset=14, reference=True, id="GRU-layout1-initial-state"),
        Op("GRU", {"x": x}, {"hidden_size": hidden, "clip": 0.5}, {"W": f(1, 3 * hidden, feat),
                                                                  "R": f(1, 3 * hidden, hidden)},
           out=[np.float32], id="GRU-clip-Y-only"),
        Op("LSTM", {"x": x}, {"hidden_size": hidden}, {"W": f(1, 4 * hidden, feat), "R": f(1, 4 * hidden, hidden),
                                                       "B": f(1, 8 * hidden)},
           out=[np.float32, np.float32, np.float32], id="LSTM-all-outputs"),
        *[Op("LSTM", {"x": x}, {"hidden_size": hidden, "direction": direction, **extra},
             {"W": f(d, 4 * hidden, feat), "R": f(d, 4 * hidden, hidden), "B": f(d, 8 * hidden)},
             out=[np.float32, np.float32, np.float32], id=f"LSTM-{direction}-{tag}")
          for direction, d, extra, tag in (("reverse", 1, {}, "plain"), ("forward", 1, {"clip": 0.4}, "clip"),
                                           ("bidirectional", 2, {"input_forget": 1}, "input-forget"))],
        Op("LSTM", {"x": x, "h0": f(2, batch, hidden), "c0": f(2, batch, hidden)},
           {"hidden_size": hidden, "direction": "bidirectional"},
           {"W": f(2, 4 * hidden, feat), "R": f(2, 4 * hidden, hidden), "B": f(2, 8 * hidden), "P": f(2, 3 * hidden)},
           order=["x", "W", "R", "B", "", "h0", "c0", "P"], out=[np.float32, np.float32, np.float32],
           id="LSTM-bidirectional-peepholes-initial-states"),
        Op("LSTM", {"x": f(batch, steps, feat)}, {"hidden_size": hidden, "layout": 1, "direction": "reverse"},
           {"W": f(1, 4 * hidden, feat), "R": f(1, 4 * hidden, hidden)}, out=[np.float32, np.float32],
           opset=14, reference=True, id="LSTM-layout1-reverse"),
    ]
    return cases


CASES = [*_pool_cases(), *_conv_cases(), *_elementwise_cases(), *_shape_cases(), *_reduce_cases(),
         *_norm_and_loss_cases(), *_recurrent_cases()]


def _oracle(proto, inputs: dict, reference=False) -> list[np.ndarray]:
    if callable(reference):
        return reference(*inputs.values())
    if reference:
        from onnx.reference import ReferenceEvaluator

        return [np.asarray(o) for o in ReferenceEvaluator(proto).run(None, dict(inputs))]
    return ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, dict(inputs))


def _run_profondo(net, case):
    args = [profondo.tensor(v) if v.dtype.kind == "f" else profondo.from_numpy(v) for v in case.inputs.values()]
    for a in args:
        if a.dtype.kind == "f" and case.grad:
            a.requires_grad = True
    out = net(*args)
    return args, list(out) if isinstance(out, tuple) else [out]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_one_node_models_agree_with_onnxruntime(case):
    proto = case.model()
    expected = _oracle(proto, case.inputs, case.reference)
    net = import_onnx(proto)
    net.eval()
    args, got = _run_profondo(net, case)
    assert len(got) == len(expected), f"{case.id}: {len(got)} outputs, onnxruntime {len(expected)}"
    for k, (g, e) in enumerate(zip(got, expected)):
        assert g.numpy().dtype == e.dtype, f"{case.id} output {k}: dtype {g.numpy().dtype}, onnxruntime {e.dtype}"
        assert g.shape == e.shape, f"{case.id} output {k}: shape {g.shape}, onnxruntime {e.shape}"
        np.testing.assert_allclose(g.numpy(), e, rtol=1e-5, atol=case.atol, err_msg=f"{case.id} output {k}")
    floats = [g for g in got if g.dtype.kind == "f" and g.requires_grad]
    if case.grad and floats:  # the imported node trains: gradients reach the float inputs
        total = sum((g * profondo.tensor(np.random.default_rng(1).standard_normal(g.shape).astype(np.float32))).sum()
                    for g in floats)
        total.backward()
        for a in args:
            if a.requires_grad:
                assert a.grad is not None and np.isfinite(a.grad.numpy()).all(), f"{case.id}: no gradient"


# --- graphs of several inputs and outputs --------------------------------------------------------

def _graph(nodes, inputs, outputs, inits=(), opset=17):
    graph = helper.make_graph(nodes, "g", inputs, outputs, [numpy_helper.from_array(v, k) for k, v in inits])
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    proto.ir_version = 8
    return onnx.shape_inference.infer_shapes(proto)


def _vi(name, shape, t=TensorProto.FLOAT):
    return helper.make_tensor_value_info(name, t, shape)


def test_two_inputs_two_outputs_by_position_and_by_name_and_trainable():
    nodes = [helper.make_node("MatMul", ["a", "w"], ["m"]), helper.make_node("Add", ["m", "b"], ["s"]),
             helper.make_node("Relu", ["s"], ["y"]), helper.make_node("Concat", ["a", "b"], ["z"], axis=1)]
    w = f(3, 3)
    proto = _graph(nodes, [_vi("a", ["N", 3]), _vi("b", ["N", 3])], [_vi("y", None), _vi("z", None)], [("w", w)])
    net = import_onnx(proto)
    assert isinstance(net, OnnxGraph) and net.input_names == ["a", "b"]
    a, b = f(4, 3), f(4, 3)
    want = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"]).run(None,
                                                                                                    {"a": a, "b": b})
    for call in (lambda: net(profondo.tensor(a), profondo.tensor(b)),
                 lambda: net(b=profondo.tensor(b), a=profondo.tensor(a)),
                 lambda: net(profondo.tensor(a), b=profondo.tensor(b))):
        for g, e in zip(call(), want):
            np.testing.assert_allclose(g.numpy(), e, rtol=1e-6, atol=1e-6)
    with pytest.raises(TypeError, match=r"missing input\(s\) \['b'\]"):
        net(profondo.tensor(a))
    with pytest.raises(TypeError, match="unknown input 'c'"):
        net(profondo.tensor(a), c=profondo.tensor(b))
    y, z = net(profondo.tensor(a), profondo.tensor(b))
    (y.sum() + z.sum()).backward()
    params = dict(net.named_parameters())
    assert len(params) == 1 and next(iter(params.values())).grad is not None
    assert np.abs(next(iter(params.values())).grad.numpy()).sum() > 0


def test_graph_returning_its_input_and_a_constant():
    nodes = [helper.make_node("Identity", ["x"], ["y"]), helper.make_node("Identity", ["c"], ["k"])]
    proto = _graph(nodes, [_vi("x", ["N", 2])], [_vi("y", None), _vi("k", None)], [("c", f(3))])
    net = import_onnx(proto)
    x = f(2, 2)
    y, k = net(profondo.tensor(x))
    np.testing.assert_array_equal(y.numpy(), x)
    want = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})
    np.testing.assert_array_equal(k.numpy(), want[1])


def test_lstm_whose_first_output_is_unused_returns_the_state_not_a_tuple():
    steps, hidden = 3, 4
    node = helper.make_node("LSTM", ["x", "W", "R"], ["", "h"], hidden_size=hidden)
    proto = _graph([node], [_vi("x", [steps, 2, 3])], [_vi("h", None)],
                   [("W", f(1, 4 * hidden, 3)), ("R", f(1, 4 * hidden, hidden))])
    x = f(steps, 2, 3)
    want = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    got = import_onnx(proto)(profondo.tensor(x))
    assert isinstance(got, profondo.Tensor)
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-5, atol=1e-5)


def test_multi_input_graph_saves_and_loads_its_config():
    nodes = [helper.make_node("Mul", ["a", "b"], ["y"])]
    proto = _graph(nodes, [_vi("a", [2, 3]), _vi("b", [3])], [_vi("y", None)])
    net = import_onnx(proto)
    again = OnnxGraph.from_config(net.get_config())
    a, b = profondo.tensor(f(2, 3)), profondo.tensor(f(3))
    np.testing.assert_array_equal(again(a, b).numpy(), net(a, b).numpy())


def test_torch_two_input_model_gradients_match_torch():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)

    class Two(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = torch.nn.Linear(4, 3)
            self.conv = torch.nn.Conv2d(2, 3, 3, padding=1)

        def forward(self, v, img):
            pooled = torch.nn.functional.avg_pool2d(self.conv(img), 2, ceil_mode=True)
            return self.fc(v) * pooled.mean((2, 3)), torch.nn.functional.gelu(v)

    model = Two().eval()
    v, img = torch.randn(2, 4), torch.randn(2, 2, 5, 5)
    import io

    buf = io.BytesIO()
    torch.onnx.export(model, (v, img), buf, input_names=["v", "img"], output_names=["y", "g"], opset_version=17,
                      dynamo=False)
    net = import_onnx(buf.getvalue())
    pv, pimg = profondo.tensor(v.numpy(), requires_grad=True), profondo.tensor(img.numpy(), requires_grad=True)
    y, g = net(pv, img=pimg)
    tv, timg = v.clone().requires_grad_(), img.clone().requires_grad_()
    ty, tg = model(tv, timg)
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(g.numpy(), tg.detach().numpy(), rtol=1e-5, atol=1e-5)
    (y.sum() * 2 + (g * g).sum()).backward()
    (ty.sum() * 2 + (tg * tg).sum()).backward()
    np.testing.assert_allclose(pv.grad.numpy(), tv.grad.numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(pimg.grad.numpy(), timg.grad.numpy(), rtol=1e-4, atol=1e-5)
    grads = {k: p.grad.numpy() for k, p in net.named_parameters()}
    assert len(grads) == 4 and all(np.abs(gr).sum() > 0 for gr in grads.values())
    np.testing.assert_allclose(sorted(np.abs(gr).sum() for gr in grads.values()),
                               sorted(np.abs(p.grad.numpy()).sum() for p in model.parameters()), rtol=1e-4)


def test_lrn_imports_as_the_layer_and_exports_back():
    from profondo.io.onnx_export import export_onnx

    proto = Op("LRN", {"x": f(2, 6, 3, 3)}, {"size": 5, "alpha": 0.3, "beta": 0.6, "bias": 2.0}).model()
    net = import_onnx(proto)
    assert isinstance(net, nn.Sequential) and isinstance(net[0], nn.LocalResponseNorm)
    assert (net[0].size, net[0].alpha, net[0].beta, net[0].k) == (5, 0.3, 0.6, 2.0)
    again = export_onnx(nn.Sequential(net[0]), input_shape=(6, 3, 3))
    assert [n.op_type for n in again.graph.node] == ["LRN"]
    with pytest.raises(ValueError, match="of even size 4"):
        export_onnx(nn.Sequential(nn.LocalResponseNorm(4)), input_shape=(6, 3, 3))


def test_three_d_convolutions_are_refused_before_anything_runs():
    node = helper.make_node("Conv", ["x", "w"], ["y"], name="conv3d")
    proto = _graph([node], [_vi("x", [1, 2, 4, 4, 4])], [_vi("y", None)], [("w", f(3, 2, 2, 2, 2))])
    with pytest.raises(UnsupportedOperatorError, match=r"node 'conv3d' \(Conv\): a 3-D convolution \(weight of rank 5\)"):
        import_onnx(proto)


def test_unsupported_recurrent_forms_are_named():
    node = helper.make_node("LSTM", ["x", "W", "R"], ["y"], name="lstm9", hidden_size=2,
                            activations=["Relu", "Tanh", "Tanh"])
    proto = _graph([node], [_vi("x", [3, 1, 2])], [_vi("y", None)], [("W", f(1, 8, 2)), ("R", f(1, 8, 2))])
    with pytest.raises(UnsupportedOperatorError, match=r"node 'lstm9' \(LSTM\): activations=\['Relu', 'Tanh', 'Tanh'\]"):
        import_onnx(proto)


# Operators whose gradients come from new backward code or compositions: checked by central
# differences in float64 on the case's own inputs (constants included, as trainable inputs).
GRADCHECKED = ["Erf", "Gelu", "Gelu-tanh", "Softplus", "Elu", "Selu", "Celu", "HardSwish", "PRelu-channel-slope",
               "ReduceProd-with-zero", "ReduceL2-axes-input", "ReduceLogSumExp-all-axes", "Einsum-batched",
               "Einsum-sum", "Einsum-matvec", "ScatterElements", "GatherElements", "Conv-uneven-pads", "Conv-1d",
               "ConvTranspose-stride2", "ConvTranspose-pads-output-padding", "ConvTranspose-groups-dilations",
               "ConvTranspose-1d", "MaxPool-dilations_pads_strides", "AveragePool-ceil_pads", "AveragePool-3d",
               "LpPool", "LayerNormalization", "InstanceNormalization", "LRN-even", "CumSum-exclusive-reverse",
               "Pad-reflect", "Pad-wrap", "Pad-axes-value-crop", "Tile", "Trilu-lower-k", "DepthToSpace-CRD",
               "SpaceToDepth", "Split-num-outputs-uneven", "TopK-largest", "NLL-sum-ignore-index-multidim",
               "SoftmaxCE-weights-log-prob", "GRU-lbr0-bidirectional", "GRU-lbr1-reverse",
               "LSTM-bidirectional-peepholes-initial-states", "LSTM-bidirectional-input-forget", "Softmax-opset11-flattened",
               "Where-broadcast", "Resize-cubic-exclude-outside-a", "Resize-linear-half-pixel-down", "Pow-trainable-exponent", "Max-variadic", "Mean-variadic"]


@pytest.mark.parametrize("name", GRADCHECKED)
def test_gradients_of_general_forms_by_central_differences(name):
    from profondo.gradcheck import gradcheck
    from profondo.io.onnx_import.converters import compute_fn

    case = next(c for c in CASES if c.id == name)
    values = {**case.inputs, **case.consts}
    names = case.order if case.order is not None else list(values)
    attrs = dict(case.attrs)
    if case.op == "Split":
        attrs.setdefault("_n_outputs", len(case.out))
    if case.op in ("Softmax", "LogSoftmax"):
        attrs["_opset"] = case.opset
    fn = compute_fn(case.op)
    arrays = [values[n] if n else None for n in names]
    # settings (Pad's value, a loss's class weights) are constants, not differentiated
    settings = {"Pad": {"v"}, "NegativeLogLikelihoodLoss": {"w"}, "SoftmaxCrossEntropyLoss": {"w"},
                "Resize": {"roi", "scales"}}.get(case.op, ())
    floats = [k for k, a in enumerate(arrays) if a is not None and a.dtype.kind == "f" and names[k] not in settings]

    def run(*xs):
        it = iter(xs)
        args = [next(it) if k in floats else (None if a is None else profondo.from_numpy(a.astype(np.float64)
                                                                                          if a.dtype.kind == "f" else a))
                for k, a in enumerate(arrays)]
        while args and args[-1] is None:
            args.pop()
        out = fn(attrs, *args)
        out = out[0] if isinstance(out, tuple) else out
        return out

    inputs = [profondo.tensor(arrays[k].astype(np.float64), requires_grad=True) for k in floats]
    assert gradcheck(run, inputs, atol=1e-5, rtol=1e-3)


def test_readme_lists_the_operators_of_the_converter_table():
    from pathlib import Path

    from profondo.io.onnx_import.converters import operator_list

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    start = readme.index("<!-- onnx-import-operators")
    section = readme[readme.index("-->", start) + 3:readme.index("<!-- /onnx-import-operators -->")].strip()
    assert section == operator_list(), ("README's ONNX operator list differs from CONVERTERS; replace it with "
                                        "profondo.io.onnx_import.converters.operator_list()")


def test_a_multi_input_network_saves_as_a_checkpoint_and_loads_back(tmp_path):
    from profondo.io.model import load_model
    from profondo.train.state import save_training_state

    nodes = [helper.make_node("MatMul", ["a", "w"], ["m"]), helper.make_node("Add", ["m", "b"], ["y"])]
    proto = _graph(nodes, [_vi("a", ["N", 3]), _vi("b", ["N", 2])], [_vi("y", None)], [("w", f(3, 2))])
    net = import_onnx(proto)
    path = save_training_state(tmp_path / "two.ckpt", net, extra={"module": {
        "class_name": type(net).__name__, "config": net.get_config()}})
    again = load_model(path)[0]
    a, b = profondo.tensor(f(4, 3)), profondo.tensor(f(4, 2))
    np.testing.assert_array_equal(again(a, b=b).numpy(), net(a, b).numpy())


def test_constant_settings_are_buffers_and_weights_are_parameters():
    case = next(c for c in CASES if c.id == "Resize-linear-half-pixel-down")
    net = import_onnx(case.model())
    assert not list(net.parameters())
    assert sorted(k.split(".")[-1] for k in dict(net.named_buffers())) == ["c1", "c2"]  # roi, scales
    case = next(c for c in CASES if c.id == "LayerNormalization")
    assert len(list(import_onnx(case.model()).parameters())) == 2  # scale and bias train
