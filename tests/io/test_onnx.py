"""ONNX export (checked by onnx.checker, run by onnxruntime) and import (round trips, PyTorch's
exports, hand-written graphs of every supported operator, trainability)."""

import io
import os
import warnings

import numpy as np
import pytest
from tests.conftest import randomize_batch_norms

import profondo
from profondo import nn
from profondo.functional import cross_entropy
from profondo.nn.graph import Add, Concat, Graph

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from profondo.architecture import to_dict, zoo  # noqa: E402
from profondo.io.onnx_export import DEFAULT_OPSET, export_onnx  # noqa: E402
from profondo.io.onnx_import import SUPPORTED, OnnxOp, UnsupportedOperatorError, import_onnx  # noqa: E402

SMALL_ZOO = ["lenet5", "mlp-mnist", "convnetjs-cifar10", "fashion-mnist-cnn", "resnet-small"]
BIG_ZOO = ["alexnet", "vgg16"]
SLOW = pytest.mark.skipif(not os.environ.get("PROFONDO_SLOW_TESTS"), reason="set PROFONDO_SLOW_TESTS=1")
try:
    from profondo.nn import recurrent
except ImportError:
    recurrent = None
needs_recurrent = pytest.mark.skipif(recurrent is None, reason="profondo.nn.recurrent is not installed")



def _zoo(name):
    profondo.manual_seed(0)
    return randomize_batch_norms(zoo.load(name)).eval()


def _forward(model, x):
    with profondo.no_grad():
        out = model(profondo.tensor(x) if x.dtype.kind == "f" else profondo.from_numpy(x))
    return out.numpy()


def _ort(proto, x):
    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: x})


def _inputs(shape, n=3, seed=1):
    return np.random.default_rng(seed).standard_normal((n, *shape)).astype(np.float32)


def _skeleton(proto):
    """The model with its initializers declared as typed graph inputs and their data left out: the
    checker and shape inference see every node, type and shape without copying VGG-16's 550 MB."""
    g = proto.graph
    inputs = [*g.input, *(helper.make_tensor_value_info(t.name, t.data_type, list(t.dims)) for t in g.initializer)]
    light = helper.make_model(helper.make_graph(g.node, g.name, inputs, g.output), opset_imports=proto.opset_import)
    light.ir_version = proto.ir_version
    return light


# --- export ------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", SMALL_ZOO)
def test_export_of_zoo_model_runs_in_onnxruntime_within_1e5(name):
    model = _zoo(name)
    proto = export_onnx(model)  # onnx.checker with full_check runs inside
    assert proto.opset_import[0].version == DEFAULT_OPSET and proto.graph.input[0].name == "input"
    x = _inputs(model.spec.input)
    (out,) = _ort(proto, x)
    np.testing.assert_allclose(out, _forward(model, x), rtol=0, atol=1e-5)


@pytest.mark.parametrize("name", BIG_ZOO)
def test_big_zoo_models_pass_the_checker_and_shape_inference(name, monkeypatch):
    for layer in (nn.Conv2d, nn.Linear):  # the structure is under test: skip drawing 138M random weights
        monkeypatch.setattr(layer, "reset_parameters", lambda self: None)
    model = zoo.load(name)
    proto = export_onnx(model, check=False)
    light = _skeleton(proto)
    onnx.checker.check_model(light, full_check=True)
    inferred = onnx.shape_inference.infer_shapes(light, strict_mode=True)
    dims = inferred.graph.output[0].type.tensor_type.shape.dim
    assert [d.dim_param or d.dim_value for d in dims] == ["N", 1000]
    n_weights = sum(int(np.prod(t.dims)) for t in proto.graph.initializer if not t.name.endswith(".ratio"))
    assert n_weights == sum(p.numel() for p in model.parameters())


@SLOW
@pytest.mark.parametrize("name", BIG_ZOO)
def test_big_zoo_models_numerically(name):
    model = _zoo(name)
    proto = export_onnx(model)
    x = _inputs(model.spec.input, n=1)
    (out,) = _ort(proto, x)
    np.testing.assert_allclose(out, _forward(model, x), rtol=0, atol=1e-5)


@pytest.mark.parametrize("opset", [13, 18])
def test_older_opsets_export_and_run(opset):
    model = _zoo("fashion-mnist-cnn")
    proto = export_onnx(model, opset=opset)
    assert proto.opset_import[0].version == opset
    x = _inputs(model.spec.input)
    np.testing.assert_allclose(_ort(proto, x)[0], _forward(model, x), rtol=0, atol=1e-5)


def test_export_of_every_supported_layer_in_a_graph(tmp_path):
    profondo.manual_seed(3)
    net = Graph([
        ("conv", nn.Conv2d(4, 8, 3, stride=2, padding=1, dilation=1, groups=2), ["input"]),
        ("dil", nn.Conv2d(8, 8, 3, padding=2, dilation=2, bias=False), ["conv"]),
        ("bn", nn.BatchNorm2d(8), ["dil"]),
        ("lrelu", nn.LeakyReLU(0.2), ["bn"]),
        ("avg", nn.AvgPool2d(3, stride=1, padding=1), ["lrelu"]),
        ("max", nn.MaxPool2d(3, stride=1, padding=1), ["conv"]),
        ("sum", Add(), ["avg", "max", "conv"]),
        ("relu6", nn.ReLU6(), ["sum"]),
        ("cat", Concat(1), ["relu6", "sum"]),
        ("gap", nn.GlobalAvgPool2d(), ["cat"]),
        ("bn1", nn.BatchNorm1d(16), ["gap"]),
        ("fc", nn.Linear(16, 6), ["bn1"]),
        ("tanh", nn.Tanh(), ["fc"]),
        ("sig", nn.Sigmoid(), ["fc"]),
        ("drop", nn.Dropout(0.3), ["sig"]),
        ("soft", nn.Softmax(1), ["drop"]),
        ("logsoft", nn.LogSoftmax(-1), ["tanh"]),
    ], outputs=["soft", "logsoft"])
    randomize_batch_norms(net).eval()
    path = tmp_path / "graph.onnx"
    proto = export_onnx(net, path, input_shape=(4, 9, 9))
    assert path.exists() and len(proto.graph.output) == 2
    x = _inputs((4, 9, 9))
    expected = [o.numpy() for o in net(profondo.tensor(x))]
    for got, want in zip(_ort(proto, x), expected):
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-5)
    back = import_onnx(path).eval()
    for got, want in zip(back(profondo.tensor(x)), expected):
        np.testing.assert_allclose(got.numpy(), want, rtol=0, atol=1e-6)


def test_linear_on_sequences_and_flatten_ranges_export():
    net = nn.Sequential(nn.Linear(5, 3), nn.ReLU(), nn.Flatten(1, 2), nn.Linear(12, 2))
    proto = export_onnx(net, input_shape=(4, 5))
    x = _inputs((4, 5))
    np.testing.assert_allclose(_ort(proto, x)[0], _forward(net, x), rtol=0, atol=1e-6)
    assert isinstance(import_onnx(proto)[0], nn.Linear)  # MatMul + Add come back as one Linear


def test_embedding_exports_as_gather_of_int64_indices():
    net = nn.Sequential(nn.Embedding(11, 4), nn.Flatten(), nn.Linear(12, 2))
    proto = export_onnx(net, input_shape=(3,))
    assert proto.graph.input[0].type.tensor_type.elem_type == TensorProto.INT64
    x = np.random.default_rng(0).integers(0, 11, (5, 3)).astype(np.int64)
    np.testing.assert_allclose(_ort(proto, x)[0], _forward(net, x), rtol=0, atol=1e-6)
    back = import_onnx(proto)
    assert isinstance(back[0], nn.Embedding)
    np.testing.assert_allclose(_forward(back, x), _forward(net, x), rtol=0, atol=1e-6)


@needs_recurrent
@pytest.mark.parametrize("cls", ["LSTM", "GRU"])
def test_recurrent_layers_export(cls):
    profondo.manual_seed(1)
    layer = getattr(recurrent, cls)(5, 4, num_layers=2, bidirectional=True, batch_first=True)
    proto = export_onnx(layer, input_shape=(6, 5))
    x = _inputs((6, 5))
    with profondo.no_grad():
        expected = layer(profondo.tensor(x))[0].numpy()
    np.testing.assert_allclose(_ort(proto, x)[0], expected, rtol=0, atol=1e-5)


def test_export_lists_every_unsupported_module_and_checks_arguments():
    class Custom(nn.Module):
        def forward(self, x):
            return x

    net = nn.Sequential(nn.Linear(4, 4), Custom(), nn.Sequential(nn.ReLU(), Custom()))
    with pytest.raises(ValueError, match=r"2 module\(s\): 1 \(Custom\), 2\.1 \(Custom\)"):
        export_onnx(net, input_shape=(4,))
    with pytest.raises(ValueError, match="pass input_shape"):
        export_onnx(nn.Sequential(nn.Linear(4, 4)))
    with pytest.raises(ValueError, match="opset 7 is not supported"):
        export_onnx(nn.Sequential(nn.Linear(4, 4)), input_shape=(4,), opset=7)
    with pytest.raises(ValueError, match=r"layer '0' \(Linear\).*last axis has 4 features"):
        export_onnx(nn.Sequential(nn.Linear(4, 4)), input_shape=(5,))


# --- import ----------------------------------------------------------------------------------
@pytest.mark.parametrize("name", SMALL_ZOO)
def test_zoo_round_trip_keeps_names_weights_architecture_and_outputs(name):
    model = _zoo(name)
    back = import_onnx(export_onnx(model)).eval()
    assert type(back) is type(model)
    assert to_dict(back) == to_dict(model)  # same architecture file, softmax output included
    original, restored = model.state_dict(), back.state_dict()
    assert list(restored) == list(original)
    for key, value in original.items():
        np.testing.assert_array_equal(restored[key], value, err_msg=key)
    x = _inputs(model.spec.input)
    np.testing.assert_allclose(_forward(back, x), _forward(model, x), rtol=0, atol=1e-6)


def _assert_trainable(net, x, n_classes, tol=0.0):
    """Every parameter receives a gradient, and one SGD step changes the outputs."""
    net.train()
    y = np.arange(len(x)) % n_classes
    params = list(net.parameters())
    assert params
    loss = cross_entropy(net(profondo.tensor(x) if x.dtype.kind == "f" else profondo.from_numpy(x)), y)
    loss.backward()
    missing = [n for n, p in net.named_parameters() if p.grad is None or not np.any(p.grad.numpy())]
    assert not missing, f"no gradient reached {missing}"
    net.eval()
    before = _forward(net, x)
    profondo.optim.SGD(params, lr=0.1).step()
    assert np.abs(_forward(net, x) - before).max() > tol


def _torch_export(model, x, **kwargs):
    torch = pytest.importorskip("torch")
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model.eval(), (x,), buffer, dynamo=False, opset_version=17, input_names=["x"],
                          dynamic_axes={"x": {0: "N"}}, **kwargs)
    return onnx.load_from_string(buffer.getvalue())


def test_torch_cnn_imports_matches_torch_and_trains():
    torch = pytest.importorskip("torch")
    tnn = torch.nn
    torch.manual_seed(0)

    class Net(tnn.Module):
        def __init__(self):
            super().__init__()
            self.c1, self.bn = tnn.Conv2d(3, 8, 3, padding=1), tnn.BatchNorm2d(8)
            self.c2 = tnn.Conv2d(8, 8, 3, padding=1, groups=2)
            self.fc, self.drop = tnn.Linear(8 * 4 * 4, 10), tnn.Dropout(0.2)

        def forward(self, x):
            y = torch.relu(self.bn(self.c1(x)))
            y = tnn.functional.leaky_relu(self.c2(y), 0.1) + y
            y = tnn.functional.max_pool2d(y, 2)
            y = torch.cat([y, tnn.functional.avg_pool2d(y, 3, 1, 1)], 1)[:, :8]
            y = y.view(y.size(0), -1)  # Shape, Gather, Unsqueeze, Concat, Reshape
            z = self.fc(self.drop(y))
            return torch.softmax(z, -1) * 2 - torch.sigmoid(z) / 3 + tnn.functional.relu6(z) + torch.tanh(z)

    model = Net()
    with torch.no_grad():
        model.bn.running_mean.uniform_(-0.2, 0.2)
        model.bn.running_var.uniform_(0.5, 2.0)
    x = torch.randn(2, 3, 8, 8)
    proto = _torch_export(model, x, training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=False)
    ops = {n.op_type for n in proto.graph.node}
    assert {"BatchNormalization", "Shape", "Reshape", "Concat", "Slice", "Clip"} <= ops
    net = import_onnx(proto).eval()
    kinds = {type(m) for m in net.modules()}
    assert {nn.Conv2d, nn.BatchNorm2d, nn.Linear, nn.ReLU6, Add, Concat} <= kinds
    with torch.no_grad():
        expected = model.eval()(torch.from_numpy(_inputs((3, 8, 8), 5))).numpy()
    np.testing.assert_allclose(_forward(net, _inputs((3, 8, 8), 5)), expected, rtol=0, atol=1e-5)
    _assert_trainable(net, _inputs((3, 8, 8), 4), 10)


def test_torch_mlp_and_folded_conv_bn_import():
    torch = pytest.importorskip("torch")
    tnn = torch.nn
    torch.manual_seed(1)
    model = tnn.Sequential(tnn.Conv2d(1, 4, 3), tnn.BatchNorm2d(4), tnn.ReLU(), tnn.AdaptiveAvgPool2d(1),
                           tnn.Flatten(), tnn.Linear(4, 16), tnn.Tanh(), tnn.Linear(16, 3))
    x = torch.randn(2, 1, 6, 6)
    net = import_onnx(_torch_export(model, x))  # eval export: BatchNorm folded into the Conv
    assert [type(m) for m in net] == [nn.Conv2d, nn.ReLU, nn.GlobalAvgPool2d, nn.Linear, nn.Tanh, nn.Linear]
    with torch.no_grad():
        expected = model(torch.from_numpy(_inputs((1, 6, 6)))).numpy()
    np.testing.assert_allclose(_forward(net, _inputs((1, 6, 6))), expected, rtol=0, atol=1e-5)
    _assert_trainable(net, _inputs((1, 6, 6), 4), 3)


@needs_recurrent
def test_torch_embedding_lstm_gru_import_matches_torch_and_trains():
    torch = pytest.importorskip("torch")
    tnn = torch.nn
    torch.manual_seed(2)

    class Seq(tnn.Module):
        def __init__(self):
            super().__init__()
            self.emb = tnn.Embedding(20, 6)
            self.lstm = tnn.LSTM(6, 5, batch_first=True, bidirectional=True)
            self.gru = tnn.GRU(10, 4)
            self.out = tnn.Linear(4, 3)

        def forward(self, x):
            y, _ = self.lstm(self.emb(x))
            y, _ = self.gru(y.transpose(0, 1))
            return self.out(torch.tanh(y[-1]))

    model = Seq()
    tokens = np.random.default_rng(0).integers(0, 20, (3, 7)).astype(np.int64)
    proto = _torch_export(model, torch.from_numpy(tokens))
    assert {"LSTM", "GRU", "Gather", "Shape"} <= {n.op_type for n in proto.graph.node}
    net = import_onnx(proto).eval()
    assert any(type(m).__name__ == "OnnxLSTM" for m in net.modules())
    with torch.no_grad():
        expected = model(torch.from_numpy(tokens)).numpy()
    np.testing.assert_allclose(_forward(net, tokens), expected, rtol=0, atol=1e-5)
    _assert_trainable(net, tokens, 3)


def _model(nodes, inputs, outputs, initializers=(), opset=17):
    graph = helper.make_graph(nodes, "hand", inputs, outputs,
                              [numpy_helper.from_array(np.asarray(v), k) for k, v in initializers])
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    proto.ir_version = 8
    proto = onnx.shape_inference.infer_shapes(proto)  # declares the outputs' shapes
    onnx.checker.check_model(proto)
    return proto


def _f32(rng, *shape):
    return rng.standard_normal(shape).astype(np.float32)


def test_hand_written_graph_of_general_operators_matches_onnxruntime():
    rng = np.random.default_rng(0)
    x_info = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 4, 4])
    inits = [("w", _f32(rng, 6, 3, 3, 3)), ("gB", _f32(rng, 24, 5)), ("gC", _f32(rng, 5)),
             ("s", _f32(rng, 1, 6, 1, 1)), ("d", np.float32(2.5)), ("k", np.array([2, -1], np.int64)),
             ("idx", np.array([0, 2], np.int64)), ("lo", np.float32(-0.5)), ("hi", np.float32(0.7)),
             ("scale", rng.uniform(0.5, 2, 5).astype(np.float32)), ("bias", _f32(rng, 5)),
             ("mean", _f32(rng, 5)), ("var", rng.uniform(0.5, 2, 5).astype(np.float32)),
             ("cat", _f32(rng, 1, 6, 2, 2)), ("shape", np.array([0, -1], np.int64))]
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1], strides=[2, 2]),  # (N, 6, 2, 2)
        helper.make_node("Mul", ["c", "s"], ["m"]),
        helper.make_node("Sub", ["m", "d"], ["sub"]),
        helper.make_node("Div", ["sub", "d"], ["div"]),
        helper.make_node("Transpose", ["div"], ["t"], perm=[0, 2, 3, 1]),  # (N, 2, 2, 6)
        helper.make_node("Transpose", ["t"], ["t2"], perm=[0, 3, 1, 2]),
        helper.make_node("Concat", ["t2", "cat"], ["cc"], axis=0),  # a constant appended on the batch axis
        helper.make_node("Flatten", ["cc"], ["f"], axis=2),  # (N+1 * 6, 4)
        helper.make_node("Reshape", ["cc", "shape"], ["r"]),  # (N+1, 24)
        helper.make_node("Gemm", ["r", "gB", "gC"], ["g"], alpha=0.5, beta=2.0),  # transB=0, scaled
        helper.make_node("BatchNormalization", ["g", "scale", "bias", "mean", "var"], ["bn"], epsilon=1e-3),
        helper.make_node("Clip", ["bn", "lo", "hi"], ["clip"]),
        helper.make_node("Gather", ["clip", "idx"], ["gat"], axis=1),  # columns 0 and 2
        helper.make_node("GlobalAveragePool", ["c"], ["gap"]),  # (N, 6, 1, 1), kept 4-D
        helper.make_node("Reshape", ["f", "k"], ["r2"]),
        helper.make_node("Transpose", ["r2"], ["r2t"], perm=[1, 0]),
        helper.make_node("MatMul", ["r2", "r2t"], ["mm"]),  # two dynamic operands
    ]
    outputs = [helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in ("gat", "gap", "mm")]
    proto = _model(nodes, [x_info], outputs, inits)
    net = import_onnx(proto).eval()
    ops = sorted(m.op for m in net.modules() if isinstance(m, OnnxOp))
    assert ops == ["Clip", "Concat", "Div", "Flatten", "Gather", "GlobalAveragePool", "MatMul", "Mul", "Reshape",
                   "Reshape", "Sub", "Transpose", "Transpose", "Transpose"]
    assert {nn.Conv2d, nn.Linear, nn.BatchNorm1d} <= {type(m) for m in net.modules()}
    x = _inputs((3, 4, 4), 2)
    got = [o.numpy() for o in net(profondo.tensor(x))]
    for g, want in zip(got, _ort(proto, x)):
        np.testing.assert_allclose(g, want, rtol=1e-5, atol=1e-5)
    _assert_trainable_graph(net, x)
    again = export_onnx(net, input_shape=(3, 4, 4))  # imported OnnxOps export back as their nodes
    for g, want in zip(got, _ort(again, x)):
        np.testing.assert_allclose(g, want, rtol=1e-5, atol=1e-5)


def _assert_trainable_graph(net, x):
    out = net(profondo.tensor(x))
    loss = sum((o * o).sum() for o in out[1:]) + out[0].sum()
    loss.backward()
    assert all(p.grad is not None for p in net.parameters())
    assert any(isinstance(p, nn.Parameter) for m in net.modules() if isinstance(m, OnnxOp)
               for p in m._parameters.values())


@needs_recurrent
@pytest.mark.parametrize("op", ["LSTM", "GRU"])
def test_onnx_recurrent_nodes_with_initial_states_match_onnxruntime(op):
    rng = np.random.default_rng(5)
    g, hidden, features, steps, dirs = (4 if op == "LSTM" else 3), 3, 2, 5, 2
    inits = [("W", _f32(rng, dirs, g * hidden, features)), ("R", _f32(rng, dirs, g * hidden, hidden)),
             ("B", _f32(rng, dirs, 2 * g * hidden))]
    x_info = helper.make_tensor_value_info("x", TensorProto.FLOAT, [steps, 2, features])
    h0 = rng.standard_normal((dirs, 2, hidden)).astype(np.float32)
    inits.append(("h0", h0))
    inputs = ["x", "W", "R", "B", "", "h0"]
    if op == "LSTM":
        inits.append(("c0", _f32(rng, dirs, 2, hidden)))
        inputs.append("c0")
    attrs = {"hidden_size": hidden, "direction": "bidirectional"}
    if op == "GRU":
        attrs["linear_before_reset"] = 1
    outs = ["Y", "Y_h"] + (["Y_c"] if op == "LSTM" else [])
    node = helper.make_node(op, inputs, outs, **attrs)
    proto = _model([node], [x_info], [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in outs], inits)
    net = import_onnx(proto).eval()
    x = _inputs((2, features), steps)
    for got, want in zip(net(profondo.tensor(x)), _ort(proto, x)):
        np.testing.assert_allclose(got.numpy(), want, rtol=0, atol=1e-5)


def test_unsupported_operators_are_listed_all_at_once():
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4])
    nodes = [helper.make_node("Sinh", ["x"], ["a"], name="sinh1"), helper.make_node("Relu", ["a"], ["b"]),
             helper.make_node("Sinh", ["b"], ["c"]), helper.make_node("Mish", ["c"], ["y"], name="mish")]
    proto = _model(nodes, [x], [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], opset=18)
    with pytest.raises(UnsupportedOperatorError, match=r"2 unsupported operator\(s\): Mish \(1x, e\.g\. 'mish'\); "
                                                       r"Sinh \(2x, e\.g\. 'sinh1'\)"):
        import_onnx(proto)
    assert {"Conv", "Gemm", "MatMul", "LSTM", "GRU", "Gather", "Clip", "Dropout", "BatchNormalization"} <= set(SUPPORTED)


def test_unsupported_forms_name_the_node_attribute_and_value_before_anything_runs():
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 1, 5, 5])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    nodes = [helper.make_node("Cast", ["x"], ["s"], name="to_text", to=TensorProto.STRING),
             helper.make_node("TopK", ["x", "k"], ["y", "i"], name="top", sorted=0),
             helper.make_node("Relu", ["x"], ["r"], name="odd", flavour=1)]
    graph = helper.make_graph(nodes, "g", [x], [y], [numpy_helper.from_array(np.array([2], np.int64), "k")])
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])  # the checker refuses `flavour`
    with pytest.raises(UnsupportedOperatorError, match=r"3 unsupported attribute form\(s\): node 'to_text' \(Cast\): "
                                                       r"to=8 is not supported.*node 'top' \(TopK\): sorted=0 is not "
                                                       r"supported.*node 'odd' \(Relu\): attribute flavour=1"):
        import_onnx(proto, check=False)


def test_same_auto_pad_and_constant_folding():
    rng = np.random.default_rng(2)
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 2, 6, 6])
    nodes = [helper.make_node("Transpose", ["wt"], ["w"], perm=[1, 0, 2, 3]),  # folded at import
             helper.make_node("Conv", ["x", "w"], ["c"], auto_pad="SAME_UPPER"),
             helper.make_node("Relu", ["c"], ["y"])]
    proto = _model(nodes, [x], [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                   [("wt", _f32(rng, 2, 4, 3, 3))])
    net = import_onnx(proto)
    assert isinstance(net, nn.Sequential) and [type(m) for m in net] == [nn.Conv2d, nn.ReLU]
    xv = _inputs((2, 6, 6))
    np.testing.assert_allclose(_forward(net, xv), _ort(proto, xv)[0], rtol=0, atol=1e-5)


def test_elementwise_and_shape_operators_match_onnxruntime():
    rng = np.random.default_rng(7)
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4, 6])
    inits = [("two", np.float32(2.0)), ("one", np.float32(1.0)), ("axes", np.array([1], np.int64)),
             ("starts", np.array([0, 5], np.int64)), ("ends", np.array([3, 0], np.int64)),
             ("slice_axes", np.array([1, 2], np.int64)), ("steps", np.array([2, -2], np.int64)),
             ("target", np.array([1, 3, 2, 3], np.int64)), ("w", _f32(rng, 6, 5))]
    nodes = [
        helper.make_node("Abs", ["x"], ["abs"]), helper.make_node("Neg", ["abs"], ["neg"]),
        helper.make_node("Exp", ["neg"], ["exp"]),  # exp(-|x|)
        helper.make_node("Pow", ["x", "two"], ["sq"]), helper.make_node("Add", ["sq", "one"], ["sq1"]),
        helper.make_node("Sqrt", ["sq1"], ["root"]), helper.make_node("Log", ["root"], ["log"]),
        helper.make_node("Shape", ["x"], ["shape"]),
        helper.make_node("ConstantOfShape", ["shape"], ["halves"],
                         value=numpy_helper.from_array(np.array([0.5], np.float32))),
        helper.make_node("Add", ["exp", "halves"], ["shifted"]),
        helper.make_node("Mul", ["shifted", "log"], ["prod"]),
        helper.make_node("Cast", ["prod"], ["cast"], to=TensorProto.FLOAT),
        helper.make_node("Unsqueeze", ["cast", "axes"], ["un"]), helper.make_node("Squeeze", ["un", "axes"], ["sq2"]),
        helper.make_node("Slice", ["sq2", "starts", "ends", "slice_axes", "steps"], ["sl"]),  # (N, 2, 3)
        helper.make_node("Unsqueeze", ["sl", "axes"], ["sl4"]),  # (N, 1, 2, 3)
        helper.make_node("Expand", ["sl4", "target"], ["big"]),  # (N, 3, 2, 3)
        helper.make_node("LeakyRelu", ["big"], ["lr"], alpha=0.3),
        helper.make_node("Sigmoid", ["lr"], ["sig"]), helper.make_node("Softmax", ["sig"], ["soft"], axis=1),
        helper.make_node("MatMul", ["x", "w"], ["mm"]), helper.make_node("LogSoftmax", ["mm"], ["lsm"], axis=-1),
    ]
    outs = [helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in ("soft", "lsm")]
    proto = _model(nodes, [x], outs, inits)
    net = import_onnx(proto).eval()
    xv = _inputs((4, 6), 3)
    for got, want in zip(net(profondo.tensor(xv)), _ort(proto, xv)):
        assert got.shape == want.shape
        np.testing.assert_allclose(got.numpy(), want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("cell", ["gru", "lstm"])
@pytest.mark.parametrize("output", ["last", "mean", "max"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_token_models_from_architecture_files_export_and_import(cell, output, bidirectional):
    """Embedding -> recurrent layer summarised over time (nn.Recurrent) -> dense, as imdb-bigru."""
    from profondo import architecture

    d = {"name": "tokens", "input": [9], "layers": [{"embedding": {"vocab": 30, "dim": 5, "padding_idx": 0}},
                                                    {cell: {"hidden": 4, "bidirectional": bidirectional, "output": output}},
                                                    {"dense": {"units": 3}}]}
    profondo.manual_seed(0)
    model = architecture.from_dict(d).eval()
    x = np.random.default_rng(1).integers(0, 30, (3, 9))
    expected = model(profondo.tensor(x)).numpy()
    proto = export_onnx(model, input_shape=(9,))
    session = ort.InferenceSession(proto.SerializeToString())
    np.testing.assert_allclose(session.run(None, {session.get_inputs()[0].name: x})[0], expected, atol=1e-5)
    np.testing.assert_allclose(import_onnx(proto).eval()(profondo.tensor(x)).numpy(), expected, atol=1e-6)


def test_the_imdb_zoo_model_exports():
    model = zoo.load("imdb-bigru").eval()
    x = np.random.default_rng(0).integers(0, 20002, (2, 400))
    session = ort.InferenceSession(export_onnx(model).SerializeToString())
    np.testing.assert_allclose(session.run(None, {session.get_inputs()[0].name: x})[0],
                               model(profondo.tensor(x)).numpy(), atol=1e-5)


def test_int8_qdq_export_runs_on_integer_kernels_close_to_float():
    pytest.importorskip("onnxruntime")
    from profondo.io.onnx_export import integer_kernels, quantize_onnx

    profondo.manual_seed(0)
    model = _zoo("lenet5")
    proto = export_onnx(model)
    calibration = _inputs((1, 28, 28), n=64)
    quantized = quantize_onnx(proto, calibration)
    kernels = integer_kernels(quantized)
    assert kernels.get("QLinearConv") == 2 and kernels.get("QGemm", 0) + kernels.get("QLinearMatMul", 0) >= 3
    assert "QLinearConv" not in integer_kernels(proto)
    x = _inputs((1, 28, 28), n=16, seed=3)
    want, got = _ort(proto, x)[0], _ort(quantized, x)[0]
    assert np.abs(got - want).max() < 0.05 * np.abs(want).max()
    with pytest.raises(ValueError, match=r"expected calibration inputs of shape \(n, 1, 28, 28\), received \(4, 28, 28\)"):
        quantize_onnx(proto, np.zeros((4, 28, 28), np.float32))


@pytest.mark.parametrize("upsample", [nn.Upsample(scale_factor=2), nn.Upsample(scale_factor=(3, 2))],
                         ids=["x2", "x3-by-x2"])
def test_upsample_by_whole_factors_comes_back_as_upsample(upsample):
    net = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), upsample).eval()
    proto = export_onnx(net, input_shape=(1, 4, 5))
    (resize,) = [n for n in proto.graph.node if n.op_type == "Resize"]
    attrs = {a.name: a.s.decode() for a in resize.attribute}
    assert attrs == {"mode": "nearest", "coordinate_transformation_mode": "asymmetric", "nearest_mode": "floor"}
    back = import_onnx(proto)
    (layer,) = [m for m in back.modules() if isinstance(m, nn.Upsample)]
    assert layer.scale_factor == upsample.scale_factor
    x = profondo.tensor(np.random.default_rng(0).standard_normal((2, 1, 4, 5)).astype(np.float32))
    np.testing.assert_allclose(back.eval()(x).numpy(), net(x).numpy(), rtol=0, atol=1e-6)


def test_upsample_to_a_size_exports_with_axes_and_runs_in_onnxruntime():
    net = nn.Sequential(nn.Upsample(size=(7, 9))).eval()
    proto = export_onnx(net, input_shape=(2, 3, 4))
    x = np.random.default_rng(1).standard_normal((2, 2, 3, 4)).astype(np.float32)
    expected = net(profondo.tensor(x)).numpy()
    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    np.testing.assert_array_equal(session.run(None, {"input": x})[0], expected)
    np.testing.assert_array_equal(import_onnx(proto).eval()(profondo.tensor(x)).numpy(), expected)
    with pytest.raises(ValueError, match="opset 18"):
        export_onnx(net, input_shape=(2, 3, 4), opset=17)
