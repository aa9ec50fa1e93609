"""The frozen inference path: NumPy-only runtime, batch-norm folding, fusion, buffer reuse, files."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from tests.conftest import randomize_batch_norms

import profondo
from profondo import nn
from profondo.architecture import zoo
from profondo.edge import EdgeModel, PlanError, freeze
from profondo.edge import runtime as runtime_module
from profondo.nn.graph import Add, Concat, Graph

SMALL_ZOO = ["lenet5", "mlp-mnist", "convnetjs-cifar10", "fashion-mnist-cnn", "resnet-small"]



def _eager(model, x):
    with profondo.no_grad():
        out = model.eval()(profondo.tensor(x))
    return [o.numpy() for o in out] if isinstance(out, tuple) else out.numpy()


def _inputs(shape, n=3, seed=1):
    return np.random.default_rng(seed).standard_normal((n, *shape)).astype(np.float32)


def test_runtime_imports_nothing_but_numpy():
    source = Path(runtime_module.__file__)
    code = (f"import importlib.util, sys\n"
            f"spec = importlib.util.spec_from_file_location('runtime', {str(source)!r})\n"
            f"m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)\n"
            f"print(sorted(k for k in sys.modules if k.startswith('profondo')))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=source.parent.parent.parent.parent)  # not on profondo's path
    assert out.stdout.strip() == "[]"
    imports = [line.split()[1] for line in source.read_text().splitlines() if line.startswith(("import ", "from "))]
    assert set(imports) <= {"__future__", "json", "os", "tempfile", "time", "collections.abc", "numpy"}


@pytest.mark.parametrize("name", SMALL_ZOO)
def test_frozen_zoo_models_match_eager_profondo(name):
    profondo.manual_seed(0)
    model = randomize_batch_norms(zoo.load(name))
    edge = freeze(model)
    ops = [s["op"] for s in edge.plan["steps"]]
    assert "scale_shift" not in ops  # every batch norm follows a convolution: folded away
    assert "act" not in ops  # every ReLU fused into the step before it
    x = _inputs(model.spec.input)
    np.testing.assert_allclose(edge(x), _eager(model, x), rtol=0, atol=1e-5)


def test_fashion_cnn_plan_has_no_batch_norm_and_no_dropout():
    model = zoo.load("fashion-mnist-cnn")
    kinds = [type(m) for m in model]
    assert nn.BatchNorm2d in kinds and nn.Dropout in kinds and model.conv1.bias is None
    expected = [{nn.Conv2d: "conv", nn.MaxPool2d: "maxpool", nn.Flatten: "flatten", nn.Linear: "linear"}[k]
                for k in kinds if k not in (nn.BatchNorm2d, nn.Dropout, nn.ReLU)]
    edge = freeze(model)
    assert [s["op"] for s in edge.plan["steps"]] == expected
    assert all(s["act"] == {"kind": "relu"} for s in edge.plan["steps"] if s["op"] == "conv")
    assert "conv1.bias" in edge.arrays  # the folded batch norm gave the bias-free convolution a bias


def test_every_kernel_against_eager_in_a_graph():
    profondo.manual_seed(4)
    net = Graph([
        ("bn0", nn.BatchNorm2d(4), ["input"]),  # nothing before it to fold into: a scale-and-shift step
        ("conv", nn.Conv2d(4, 8, 3, stride=2, padding=1, groups=2), ["bn0"]),
        ("dil", nn.Conv2d(8, 8, 3, padding=2, dilation=2, bias=False), ["conv"]),
        ("point", nn.Conv2d(8, 8, 1), ["conv"]),
        ("lrelu", nn.LeakyReLU(0.2), ["dil"]),
        ("avg", nn.AvgPool2d(3, stride=1, padding=1), ["lrelu"]),
        ("max", nn.MaxPool2d(3, stride=2, padding=1), ["point"]),
        ("sum", Add(), ["avg", "point", "conv"]),
        ("relu6", nn.ReLU6(), ["sum"]),
        ("tiled", nn.MaxPool2d(2), ["relu6"]),
        ("cat", Concat(1), ["tiled", "max"]),
        ("gap", nn.GlobalAvgPool2d(), ["cat"]),
        ("fc", nn.Linear(16, 6), ["gap"]),
        ("bn1", nn.BatchNorm1d(6), ["fc"]),  # folded into fc
        ("sig", nn.Sigmoid(), ["bn1"]),
        ("tanh", nn.Tanh(), ["bn1"]),  # bn1's output read twice: no fusion into fc
        ("drop", nn.Dropout(0.5), ["tanh"]),
        ("soft", nn.Softmax(1), ["drop"]),
        ("logsoft", nn.LogSoftmax(1), ["sig"]),
    ], outputs=["soft", "logsoft", "sum"])
    randomize_batch_norms(net)
    edge = freeze(net, (4, 8, 8))
    ops = [s["op"] for s in edge.plan["steps"]]
    assert ops.count("scale_shift") == 1 and len(ops) == len(net.nodes) - 3  # bn1, drop and lrelu are gone
    acts = [s["name"] for s in edge.plan["steps"] if s["op"] == "act"]
    assert acts == ["relu6", "sig", "tanh", "soft", "logsoft"]  # each reads a value that is read elsewhere too
    x = _inputs((4, 8, 8), 5)
    for got, want in zip(edge(x), _eager(net, x)):
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-5)


def test_buffers_are_allocated_once_per_batch_size_and_reused():
    model = zoo.load("lenet5")
    edge = freeze(model)
    a, b = _inputs((1, 28, 28), 4, seed=1), _inputs((1, 28, 28), 4, seed=2)
    first = edge.run(a, copy=False)
    second = edge.run(b, copy=False)
    assert first is second  # the same output buffer, refilled
    buffers = [id(s) for s in edge._bound[4][1][1:] if s is not None]
    np.testing.assert_allclose(edge(a), _eager(model, a), rtol=0, atol=1e-5)  # nothing stale from b
    np.testing.assert_allclose(edge(b), _eager(model, b), rtol=0, atol=1e-5)
    assert [id(s) for s in edge._bound[4][1][1:] if s is not None] == buffers
    edge(a[:1])
    assert sorted(edge._bound) == [1, 4]
    edge.release()
    assert not edge._bound


def test_outputs_are_copies_unless_asked():
    edge = freeze(zoo.load("mlp-mnist"))
    x = _inputs((1, 28, 28), 2)
    out = edge(x)
    out[...] = 0
    assert np.any(edge(x) != 0)


def test_save_and_load_round_trip_without_pickle(tmp_path):
    profondo.manual_seed(0)
    model = randomize_batch_norms(zoo.load("resnet-small"))
    edge = freeze(model)
    size = edge.save(tmp_path / "resnet.edge")
    assert size == (tmp_path / "resnet.edge").stat().st_size
    back = EdgeModel.load(tmp_path / "resnet.edge")
    x = _inputs((3, 32, 32), 2)
    np.testing.assert_array_equal(back(x), edge(x))
    with np.load(tmp_path / "resnet.edge", allow_pickle=False) as npz:
        assert "__plan__" in npz.files
    assert "resnet-small" in repr(back) and "float32" in repr(back)


def test_errors_name_what_was_expected(tmp_path):
    edge = freeze(zoo.load("lenet5"))
    with pytest.raises(PlanError, match=r"expected input of shape \(N, 1, 28, 28\), received \(2, 28, 28\)"):
        edge(np.zeros((2, 28, 28), np.float32))

    class Custom(nn.Module):
        def forward(self, x):
            return x

    with pytest.raises(ValueError, match=r"2 module\(s\): 1 \(Custom\), 2 \(Embedding\)"):
        freeze(nn.Sequential(nn.Linear(3, 3), Custom(), nn.Embedding(3, 3)), (3,))
    with pytest.raises(ValueError, match="pass input_shape"):
        freeze(nn.Sequential(nn.Linear(3, 3)))
    bad = dict(edge.plan, steps=[dict(edge.plan["steps"][0], op="fft")])
    with pytest.raises(PlanError, match="unknown op 'fft'"):
        EdgeModel(bad, edge.arrays)
    (tmp_path / "junk.edge").write_bytes(b"not a zip")
    with pytest.raises(PlanError, match="not an edge model file"):
        EdgeModel.load(tmp_path / "junk.edge")


def test_a_saved_plan_gets_the_permissions_of_any_new_file(tmp_path):
    import os

    edge = freeze(zoo.load("mlp-mnist"))
    old = os.umask(0o022)
    try:
        edge.save(tmp_path / "mlp.edge")
    finally:
        os.umask(old)
    assert (tmp_path / "mlp.edge").stat().st_mode & 0o777 == 0o644
    assert [p.name for p in tmp_path.iterdir()] == ["mlp.edge"]


@pytest.mark.parametrize("upsample", [nn.Upsample(scale_factor=1.5), nn.Upsample(size=(4, 11)),
                                      nn.Upsample(scale_factor=(2, 0.5))], ids=["x1.5", "size-4x11", "x2-by-x0.5"])
def test_upsample_kernel_uses_pytorchs_nearest_rows(upsample):
    from profondo.edge.freeze import freeze

    net = nn.Sequential(nn.Conv2d(2, 2, 1), upsample, nn.Sigmoid()).eval()  # the sigmoid fuses into the step
    x = np.random.default_rng(0).standard_normal((3, 2, 5, 6)).astype(np.float32)
    edge = freeze(net, (2, 5, 6))
    np.testing.assert_allclose(edge(x), net(profondo.tensor(x)).numpy(), rtol=0, atol=1e-6)


@pytest.mark.parametrize("form", ["im2col", "im2col-blocked", "auto"])
def test_convolution_forms_of_a_frozen_plan_agree(form, monkeypatch):
    """Forced to either convolution form, or measuring both over its first calls, a frozen plan
    gives the eager model's output on every call."""
    from profondo.backend import conv as settings

    monkeypatch.setattr(settings, "forward", form)
    profondo.manual_seed(0)
    model = randomize_batch_norms(zoo.load("convnetjs-cifar10"))
    edge = freeze(model)
    x = _inputs(model.spec.input, n=5)
    expected = _eager(model, x)
    for _ in range(8):  # past the six measured calls of "auto"
        np.testing.assert_allclose(edge(x), expected, rtol=0, atol=1e-5)


def test_a_standalone_runtime_runs_every_convolution_as_one_gemm(monkeypatch):
    monkeypatch.setattr(runtime_module, "CONV_BLOCKS", None)
    profondo.manual_seed(0)
    model = zoo.load("lenet5")
    edge = EdgeModel(freeze(model).plan, freeze(model).arrays)
    x = _inputs(model.spec.input)
    np.testing.assert_allclose(edge(x), _eager(model, x), rtol=0, atol=1e-5)
