"""``profondo export``, ``profondo import`` and ``profondo bench``."""

import json

import numpy as np
import pytest

import profondo
from profondo.architecture import to_dict, zoo
from profondo.cli import main
from profondo.edge import EdgeModel
from profondo.io.model import load_model
from profondo.train.state import save_training_state

onnx = pytest.importorskip("onnx")


def _forward(model, x):
    with profondo.no_grad():
        return model.eval()(profondo.tensor(x)).numpy()


@pytest.fixture
def checkpoint(tmp_path):
    profondo.manual_seed(0)
    model = zoo.load("fashion-mnist-cnn")
    return save_training_state(tmp_path / "model.ckpt", model), model


def test_export_onnx_then_import_gives_the_same_network(tmp_path, checkpoint, capsys):
    path, model = checkpoint
    assert main(["export", str(path), "--onnx", str(tmp_path / "m.onnx"), "--opset", "18"]) == 0
    assert "opset 18" in capsys.readouterr().out
    assert main(["import", str(tmp_path / "m.onnx"), "--out", str(tmp_path / "back.ckpt")]) == 0
    assert "architecture file" in capsys.readouterr().out
    back, ckpt = load_model(tmp_path / "back.ckpt")  # the ordinary loader: the architecture came back
    assert to_dict(back) == to_dict(model) and ckpt.meta["extra"]["source"].endswith("m.onnx")
    x = np.random.default_rng(0).standard_normal((2, 1, 28, 28)).astype(np.float32)
    np.testing.assert_allclose(_forward(back, x), _forward(model, x), rtol=0, atol=1e-6)


def test_import_of_a_network_without_architecture_file_keeps_its_configuration(tmp_path, capsys):
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    nodes = [helper.make_node("MatMul", ["x", "w"], ["h"]), helper.make_node("Mul", ["h", "s"], ["m"]),
             helper.make_node("Tanh", ["m"], ["y"])]
    graph = helper.make_graph(nodes, "scaled", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4])],
                              [numpy_helper.from_array(rng.standard_normal((3, 4)).astype(np.float32), "w"),
                               numpy_helper.from_array(rng.standard_normal(4).astype(np.float32), "s")])
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    proto.ir_version = 8
    onnx.save(proto, tmp_path / "scaled.onnx")
    assert main(["import", str(tmp_path / "scaled.onnx"), "--out", str(tmp_path / "s.ckpt")]) == 0
    assert "module configuration" in capsys.readouterr().out
    model, _ = load_model(tmp_path / "s.ckpt")
    x = rng.standard_normal((5, 3)).astype(np.float32)
    w, scale = (numpy_helper.to_array(t) for t in proto.graph.initializer)
    expected = np.tanh((x @ w) * scale)
    np.testing.assert_allclose(_forward(model, x), expected, rtol=1e-5, atol=1e-6)
    assert main(["export", str(tmp_path / "s.ckpt"), "--onnx", str(tmp_path / "again.onnx")]) == 0


def test_export_edge_plans_float_and_int8(tmp_path, checkpoint, capsys):
    path, model = checkpoint
    assert main(["export", str(path), "--edge", str(tmp_path / "f.edge")]) == 0
    calibration = np.random.default_rng(1).random((50, 1, 28, 28), np.float32)
    np.save(tmp_path / "calib.npy", calibration)
    assert main(["export", str(path), "--edge", str(tmp_path / "q.edge"), "--int8", "--calibrate",
                 str(tmp_path / "calib.npy"), "--calibration-size", "40"]) == 0
    out = capsys.readouterr().out
    assert "float32 plan" in out and "int8 plan" in out
    x = calibration[:3]
    f32, int8 = EdgeModel.load(tmp_path / "f.edge"), EdgeModel.load(tmp_path / "q.edge")
    np.testing.assert_allclose(f32(x), _forward(model, x), rtol=0, atol=1e-5)
    assert int8.precision == "int8" and np.abs(int8(x) - f32(x)).max() < 0.05
    assert (tmp_path / "q.edge").stat().st_size < (tmp_path / "f.edge").stat().st_size / 3
    assert main(["export", str(path), "--edge", str(tmp_path / "x.edge"), "--int8"]) == 1
    assert "profondo: error: --int8 needs calibration inputs" in capsys.readouterr().err
    assert main(["export", str(path)]) == 1
    assert "--onnx FILE and/or --edge FILE" in capsys.readouterr().err
    assert not (tmp_path / "x.edge").exists()


def test_export_onnx_int8_writes_a_qdq_model_that_onnxruntime_runs_with_integer_kernels(tmp_path, checkpoint,
                                                                                       capsys):
    ort = pytest.importorskip("onnxruntime")
    path, model = checkpoint
    calibration = np.random.default_rng(1).random((50, 1, 28, 28), np.float32)
    np.save(tmp_path / "calib.npy", calibration)
    assert main(["export", str(path), "--onnx", str(tmp_path / "q.onnx"), "--int8", "--calibrate",
                 str(tmp_path / "calib.npy"), "--calibration-size", "40"]) == 0
    out = capsys.readouterr().out
    assert "int8 QDQ (onnxruntime's integer kernels: QGemm x" in out and "QLinearConv x" in out
    proto = onnx.load(tmp_path / "q.onnx")
    ops = {n.op_type for n in proto.graph.node}
    assert {"QuantizeLinear", "DequantizeLinear", "Conv"} <= ops
    x = calibration[:8]
    got = ort.InferenceSession(str(tmp_path / "q.onnx"), providers=["CPUExecutionProvider"]).run(None, {"input": x})[0]
    want = _forward(model, x)
    assert np.abs(got - want).max() < 0.05 * np.abs(want).max()
    assert main(["export", str(path), "--onnx", str(tmp_path / "x.onnx"), "--int8"]) == 1
    assert "--int8 needs calibration inputs" in capsys.readouterr().err and not (tmp_path / "x.onnx").exists()


def test_bench_prints_a_table_and_writes_json(tmp_path, capsys):
    assert main(["bench", "--models", "mlp-mnist", "--repeats", "1", "--batch", "8",
                 "--json", str(tmp_path / "b.json")]) == 0
    table = capsys.readouterr().out
    assert "batch-1 latency" in table and "batch-8 throughput" in table and "profondo-int8" in table
    results = json.loads((tmp_path / "b.json").read_text())
    (row,) = results["rows"]
    engines = set(row["latency_ms_batch1"])
    assert {"profondo-eager", "profondo-f32", "profondo-int8"} <= engines
    assert all(v > 0 for v in row["latency_ms_batch1"].values())
    assert "onnxruntime-int8" in engines or "onnxruntime" not in engines
    for engine in engines - {"profondo-int8", "onnxruntime-int8"}:  # same float network everywhere
        assert row["max_abs_diff_vs_f32"][engine] < 1e-4, engine


def test_bench_checkpoints_must_be_name_equals_path(capsys):
    assert main(["bench", "--models", "mlp-mnist", "--checkpoint", "no-equals-sign"]) == 1
    assert "--checkpoint expected NAME=CKPT" in capsys.readouterr().err


def test_bench_reports_test_accuracy_of_every_engine_for_a_checkpoint(tmp_path, capsys):
    from profondo.architecture import from_dict

    profondo.manual_seed(0)
    model = from_dict({"name": "digits-mlp", "input": [1, 8, 8],
                       "layers": [{"flatten": {}}, {"dense": {"units": 10, "activation": "softmax"}}]})
    path = save_training_state(tmp_path / "d.ckpt", model)
    assert main(["bench", "--models", "digits-mlp", "--checkpoint", f"digits-mlp={path}", "--evaluate", "digits",
                 "--engines", "profondo-f32,onnxruntime,onnxruntime-int8", "--repeats", "1", "--batch", "8",
                 "--json", str(tmp_path / "b.json")]) == 0
    out = capsys.readouterr().out
    assert "test accuracy" in out and "digits-mlp (digits)" in out
    (row,) = json.loads((tmp_path / "b.json").read_text())["rows"]
    accuracy = row["test_accuracy"]
    assert set(accuracy) == {"profondo-f32", "onnxruntime", "onnxruntime-int8"}
    assert accuracy["profondo-f32"] == accuracy["onnxruntime"]  # one float network, two engines
    assert abs(accuracy["onnxruntime-int8"] - accuracy["profondo-f32"]) < 0.05
