"""Damaged and hostile ONNX files end in profondo's OnnxImportError, refused before any large allocation."""

from __future__ import annotations

import numpy as np
import pytest
from tests.memory import peak_growth

from profondo.backend.limits import FileFormatError, set_max_file_bytes

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper  # noqa: E402

from profondo.io.onnx_import import OnnxImportError, import_onnx  # noqa: E402


def _model(nodes, initializers=(), out_shape=None):
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, out_shape)], list(initializers))
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_bytes_that_are_not_a_model_are_an_onnx_import_error(tmp_path):
    path = tmp_path / "junk.onnx"
    path.write_bytes(b"\x08\x07\x12\xff\xff\xff\xff\x0f garbage")
    with pytest.raises(OnnxImportError, match="junk.onnx: not a readable ONNX model"):
        import_onnx(path)
    with pytest.raises(OnnxImportError, match="the bytes given: not a readable ONNX model"):
        import_onnx(b"\xff" * 40)


def test_constant_of_shape_2_pow_40_is_refused_before_allocation():
    shape = helper.make_tensor("shape", TensorProto.INT64, [1], [2**40])
    nodes = [helper.make_node("ConstantOfShape", ["shape"], ["big"], name="bomb",
                              value=helper.make_tensor("v", TensorProto.FLOAT, [1], [1.0])),
             helper.make_node("Add", ["x", "big"], ["y"], name="add")]
    previous = set_max_file_bytes(256 * 2**20)
    try:
        with peak_growth() as grown:
            with pytest.raises(OnnxImportError, match=r"node 'bomb' \(ConstantOfShape\): .*needs more memory than "
                                                      r"the limit of 256 MiB"):
                import_onnx(_model(nodes, [shape]), check=False)
    finally:
        set_max_file_bytes(previous)
    assert (grown() or 0) < 64 * 2**20


def test_an_initializer_declaring_more_than_it_holds_is_refused():
    w = TensorProto(name="w", dims=[2**20, 2**20], data_type=TensorProto.FLOAT, raw_data=np.ones(4, np.float32).tobytes())
    nodes = [helper.make_node("MatMul", ["x", "w"], ["y"], name="mm")]
    with pytest.raises(FileFormatError, match=r"initializer 'w' of shape \[1048576, 1048576\] declares 4 TiB, "
                                              r"but the file holds only 16 bytes"):
        import_onnx(_model(nodes, [w]), check=False)


def test_a_node_whose_conversion_fails_raw_is_named():
    # Two constants that do not broadcast, folded at import: NumPy's own error, named by its node.
    a = helper.make_tensor("a", TensorProto.FLOAT, [2], [1.0, 2.0])
    b = helper.make_tensor("b", TensorProto.FLOAT, [3], [1.0, 2.0, 3.0])
    nodes = [helper.make_node("Add", ["a", "b"], ["k"], name="fold_bad"), helper.make_node("Add", ["x", "k"], ["y"])]
    with pytest.raises(OnnxImportError, match=r"node 'fold_bad' \(Add\): ValueError"):
        import_onnx(_model(nodes, [a, b]), check=False)
