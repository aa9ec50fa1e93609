"""Contract: every Module class in ``profondo.nn.__all__`` has an ONNX exporter whose operators
import back to the same outputs (checked by a real round trip on a small instance), or is
declared not exportable with its reason in ``onnx_export.NOT_EXPORTABLE``."""

import inspect

import numpy as np
import pytest
from tests.conftest import nn_module_classes, randomize_batch_norms

import profondo
from profondo import nn
from profondo.nn.graph import Add, Concat, Graph

onnx = pytest.importorskip("onnx")

from profondo.io.onnx_export import CONTAINERS, EXPORTERS, NOT_EXPORTABLE, export_onnx  # noqa: E402
from profondo.io.onnx_import import SUPPORTED, import_onnx  # noqa: E402

# class -> (a small network using it, per-sample input shape, input kind)
EXAMPLES = {
    nn.Conv2d: lambda: (nn.Conv2d(4, 6, 3, stride=2, padding=1, groups=2), (4, 7, 7), "float"),
    nn.Linear: lambda: (nn.Linear(5, 3), (5,), "float"),
    nn.MaxPool2d: lambda: (nn.MaxPool2d(3, stride=2, padding=1), (2, 7, 7), "float"),
    nn.AvgPool2d: lambda: (nn.AvgPool2d(3, stride=1, padding=1), (2, 5, 5), "float"),
    nn.GlobalAvgPool2d: lambda: (nn.GlobalAvgPool2d(), (3, 4, 4), "float"),
    nn.BatchNorm1d: lambda: (randomize_batch_norms(nn.BatchNorm1d(5)), (5,), "float"),
    nn.BatchNorm2d: lambda: (randomize_batch_norms(nn.BatchNorm2d(3)), (3, 4, 4), "float"),
    nn.Flatten: lambda: (nn.Sequential(nn.Flatten(), nn.Linear(12, 2)), (3, 2, 2), "float"),
    nn.Dropout: lambda: (nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.3)), (4,), "float"),
    nn.Identity: lambda: (nn.Sequential(nn.Linear(4, 3), nn.Identity()), (4,), "float"),
    nn.ReLU: lambda: (nn.ReLU(), (6,), "float"),
    nn.ReLU6: lambda: (nn.Sequential(nn.Linear(4, 4), nn.ReLU6()), (4,), "float"),
    nn.LeakyReLU: lambda: (nn.LeakyReLU(0.2), (6,), "float"),
    nn.Sigmoid: lambda: (nn.Sigmoid(), (6,), "float"),
    nn.Tanh: lambda: (nn.Tanh(), (6,), "float"),
    nn.Softmax: lambda: (nn.Softmax(1), (6,), "float"),
    nn.LogSoftmax: lambda: (nn.LogSoftmax(-1), (6,), "float"),
    nn.Embedding: lambda: (nn.Sequential(nn.Embedding(11, 4), nn.Flatten()), (3,), "index"),
    nn.LSTM: lambda: (nn.LSTM(5, 4, num_layers=2, bidirectional=True, batch_first=True), (6, 5), "float"),
    nn.GRU: lambda: (nn.GRU(5, 4, bidirectional=True), (6, 5), "float"),
    nn.Recurrent: lambda: (nn.Recurrent("lstm", 5, 4, bidirectional=True, output="last"), (6, 5), "float"),
    Add: lambda: (Graph([("fc", nn.Linear(4, 4), ["input"]), ("add", Add(), ["fc", "input"])], ["add"]), (4,),
                  "float"),
    Concat: lambda: (Graph([("fc", nn.Linear(4, 3), ["input"]), ("cat", Concat(1), ["fc", "input"])], ["cat"]),
                     (4,), "float"),
    nn.Sequential: lambda: (nn.Sequential(nn.Linear(4, 3), nn.Tanh()), (4,), "float"),
    nn.Upsample: lambda: (nn.Sequential(nn.Conv2d(2, 3, 3, padding=1), nn.Upsample(scale_factor=(2, 3))), (2, 3, 4),
                          "float"),
    nn.LocalResponseNorm: lambda: (nn.LocalResponseNorm(5, alpha=0.3, beta=0.6, k=2.0), (7, 3, 3), "float"),
    Graph: lambda: (Graph([("a", nn.Linear(4, 3), ["input"]), ("b", nn.Sigmoid(), ["a"]), ("c", nn.Tanh(), ["a"])],
                          ["b", "c"]), (4,), "float"),
}



def _outputs(model, x):
    with profondo.no_grad():
        out = model(profondo.tensor(x) if x.dtype.kind == "f" else profondo.from_numpy(x))
    if isinstance(out, tuple) and isinstance(model, (nn.LSTM, nn.GRU, nn.RNN)):  # (output, state): the output
        out = out[0]
    return [o.numpy() for o in (out if isinstance(out, tuple) else (out,))]


def _inputs(shape, kind):
    rng = np.random.default_rng(1)
    if kind == "index":
        return rng.integers(0, 11, (3, *shape)).astype(np.int64)
    return rng.standard_normal((3, *shape)).astype(np.float32)


@pytest.mark.parametrize("cls", nn_module_classes(), ids=lambda c: c.__name__)
def test_every_nn_class_exports_and_imports_back_or_says_why_not(cls):
    if cls in NOT_EXPORTABLE:
        reason = NOT_EXPORTABLE[cls]
        assert isinstance(reason, str) and len(reason) > 20, f"{cls.__name__}: the reason must be a sentence"
        assert cls not in EXPORTERS, f"{cls.__name__} is declared not exportable but has an exporter"
        return
    assert cls in EXPORTERS or cls in CONTAINERS, (
        f"{cls.__name__} (in profondo.nn.__all__) has no ONNX exporter in onnx_export.EXPORTERS and is not "
        "declared in onnx_export.NOT_EXPORTABLE with a reason")
    assert cls in EXAMPLES, f"{cls.__name__}: add a small instance to EXAMPLES in this test"
    profondo.manual_seed(0)
    model, shape, kind = EXAMPLES[cls]()
    assert any(type(m) is cls for m in model.modules()), f"{cls.__name__}: the example does not use the class"
    model.eval()
    proto = export_onnx(model, input_shape=shape)
    ops = {n.op_type for n in proto.graph.node}
    assert ops <= set(SUPPORTED), f"{cls.__name__} exports operators with no importer: {sorted(ops - set(SUPPORTED))}"
    x = _inputs(shape, kind)
    back = import_onnx(proto).eval()
    expected, got = _outputs(model, x), _outputs(back, x)
    assert len(got) == len(expected), f"{cls.__name__}: {len(expected)} outputs before, {len(got)} after"
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g, e, rtol=0, atol=1e-5, err_msg=f"{cls.__name__}: the round trip changed outputs")
    ort = pytest.importorskip("onnxruntime")
    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    for g, e in zip(session.run(None, {"input": x}), expected):
        np.testing.assert_allclose(g, e, rtol=0, atol=1e-5, err_msg=f"{cls.__name__}: onnxruntime disagrees")


def test_declared_classes_are_refused_with_their_reason():
    with pytest.raises(ValueError, match="ONNX's RNN operator has no importer") as err:
        export_onnx(nn.Sequential(nn.RNN(4, 3)), input_shape=(5, 4))
    assert "1 module(s): 0 (RNN)" in str(err.value)
    with pytest.raises(ValueError, match=r"cell='rnn'.*ONNX's RNN operator"):
        export_onnx(nn.Recurrent("rnn", 4, 3), input_shape=(5, 4))


def test_the_tables_name_only_real_layers():
    for table in (EXPORTERS, NOT_EXPORTABLE):
        for cls in table:
            assert inspect.isclass(cls) and issubclass(cls, nn.Module), f"{cls!r} is not a Module class"
    assert not EXPORTERS.keys() & NOT_EXPORTABLE.keys()


def test_one_table_entry_is_all_an_operator_needs(monkeypatch):
    """An operator added to CONVERTERS is read at once: the supported list, import and training."""
    from onnx import TensorProto, helper

    from profondo import functional as F
    from profondo.io.onnx_import import CONVERTERS, Converter, supported_ops

    x_info = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3])
    y_info = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 3])
    graph = helper.make_graph([helper.make_node("Sinh", ["x"], ["y"], name="sinh")], "g", [x_info], [y_info])
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    with pytest.raises(ValueError, match=r"unsupported operator\(s\): Sinh"):
        import_onnx(proto)
    monkeypatch.setitem(CONVERTERS, "Sinh", Converter(lambda attrs, x: (F.exp(x) - F.exp(-x)) * 0.5))
    assert "Sinh" in supported_ops()
    x = np.linspace(-3, 3, 6, dtype=np.float32).reshape(2, 3)
    got = import_onnx(proto)(profondo.tensor(x)).numpy()
    np.testing.assert_allclose(got, np.sinh(x), rtol=1e-6)
