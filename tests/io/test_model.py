"""load_model (profondo.io.model): rebuilding a model from a checkpoint, without training code
and without the ONNX importer unless the checkpoint holds an imported ONNX network."""

import subprocess
import sys
import textwrap

import numpy as np
import pytest

import profondo
from profondo import nn
from profondo.architecture import zoo
from profondo.io.model import architecture_of, load_model
from profondo.train.state import save_training_state


def _run(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_old_import_paths_are_the_same_function():
    import profondo.train as train
    import profondo.train.state as state

    assert train.load_model is state.load_model is load_model
    assert state.architecture_of is architecture_of


def test_loading_a_model_imports_neither_training_nor_onnx():
    out = _run("""
        import sys
        import profondo.io.model, profondo.train.state
        print(sorted(m for m in sys.modules if m.startswith("profondo.io.onnx")))
    """)
    assert out.strip() == "[]", f"expected no ONNX module imported, received {out.strip()}"


def test_an_architecture_checkpoint_comes_back_with_its_weights(tmp_path):
    profondo.manual_seed(0)
    model = zoo.load("lenet5").eval()
    save_training_state(tmp_path / "m.ckpt", model, epoch=3)
    back, ckpt = load_model(tmp_path / "m.ckpt")
    x = profondo.randn(2, *model.spec.input)
    np.testing.assert_array_equal(back.eval()(x).numpy(), model(x).numpy())
    assert ckpt.meta["epoch"] == 3 and back.spec.input == model.spec.input


def test_an_imported_onnx_network_loads_in_a_fresh_process(tmp_path):
    pytest.importorskip("onnx")
    from profondo.io.onnx_export import export_onnx
    from profondo.io.onnx_import import import_onnx

    profondo.manual_seed(0)
    net = nn.LSTM(5, 4, bidirectional=True, batch_first=True)
    imported = import_onnx(export_onnx(net, input_shape=(6, 5))).eval()
    assert architecture_of(imported) is None  # OnnxLSTM and OnnxOp nodes: no architecture-file form
    config = {"class_name": type(imported).__name__, "config": imported.get_config(), "input": [6, 5]}
    save_training_state(tmp_path / "onnx.ckpt", imported, extra={"module": config})
    x = np.random.default_rng(0).standard_normal((2, 6, 5)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    with profondo.no_grad():
        np.save(tmp_path / "want.npy", imported(profondo.tensor(x)).numpy())
    out = _run(f"""
        import sys
        import numpy as np
        import profondo
        from profondo.io.model import load_model
        assert "profondo.io.onnx_import" not in sys.modules
        model, _ = load_model({str(tmp_path / "onnx.ckpt")!r})
        with profondo.no_grad():
            got = model.eval()(profondo.tensor(np.load({str(tmp_path / "x.npy")!r}))).numpy()
        print(np.abs(got - np.load({str(tmp_path / "want.npy")!r})).max(), model.spec.input)
    """)
    diff, _, shape = out.strip().partition(" ")
    assert float(diff) == 0.0 and shape == "(6, 5)"


def test_a_weights_only_checkpoint_says_how_to_load_it(tmp_path):
    class Custom(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(2, 2)

        def forward(self, x):
            return self.fc(x) * 2

    try:
        save_training_state(tmp_path / "w.ckpt", Custom())
        with pytest.raises(ValueError, match="weights only.*load_state_dict"):
            load_model(tmp_path / "w.ckpt")
    finally:
        nn.Module._registry.remove(Custom)


def test_a_class_name_pointing_at_a_command_module_runs_no_command(tmp_path):
    # load_model imports only modules of profondo's layer packages for a configuration, never the
    # command line's __main__ (which, imported, would run the command and exit).
    config = {"class_name": "profondo.cli.__main__.Evil", "config": {}}
    save_training_state(tmp_path / "evil.ckpt", nn.Linear(2, 2), extra={"module": config})
    out = _run(f"""
        import sys
        from profondo.io.model import load_model
        sys.argv = ["profondo", "--version"]  # what the command would print if it ran
        try:
            load_model({str(tmp_path / "evil.ckpt")!r})
        except ValueError as e:
            print("refused:", e, "imported:", "profondo.cli.__main__" in sys.modules)
    """)
    assert out.startswith("refused:") and "Evil" in out and "profondo 0.1" not in out
    assert "which is not a profondo layer" in out and out.strip().endswith("imported: False")


# An architecture dict without names, as a checkpoint stores it; the old builder named its modules by
# position: 0 Conv2d, 1 ReLU, 2 BatchNorm2d, 3 MaxPool2d, 4 Flatten, 5 Linear, 6 ReLU, 7 Linear.
UNNAMED = {"name": "old", "input": [1, 6, 6], "layers": [
    {"conv": {"filters": 3, "size": 3, "activation": "relu"}}, "batchnorm", {"pool": {"type": "max", "size": 2}},
    {"dense": {"units": 5, "activation": "relu"}}, {"dense": {"units": 2}}]}


def _old_checkpoint(path, rng):
    """A checkpoint as written before unnamed layers were named by kind: weights keyed by position."""
    from profondo.io.checkpoint import Checkpoint, write_checkpoint

    w = {"0.weight": rng.standard_normal((3, 1, 3, 3)), "0.bias": rng.standard_normal(3),
         "2.weight": rng.uniform(0.5, 1.5, 3), "2.bias": rng.standard_normal(3),
         "2.running_mean": rng.standard_normal(3), "2.running_var": rng.uniform(0.5, 2, 3),
         "2.num_batches_tracked": np.array(7), "5.weight": rng.standard_normal((5, 12)),
         "5.bias": rng.standard_normal(5), "7.weight": rng.standard_normal((2, 5)), "7.bias": rng.standard_normal(2)}
    w = {k: v.astype(np.float32) if v.dtype == np.float64 else v for k, v in w.items()}
    write_checkpoint(path, Checkpoint({"model": w}, {"epoch": 1, "step": 3, "architecture": UNNAMED}))
    return w


def test_a_checkpoint_of_index_named_layers_loads_by_position(tmp_path):
    w = _old_checkpoint(tmp_path / "old.ckpt", np.random.default_rng(0))
    model, _ = load_model(tmp_path / "old.ckpt")
    assert [n for n, _ in model.named_children()] == [
        "conv1", "conv1_relu", "batchnorm1", "pool1", "dense1_flatten", "dense1", "dense1_relu", "dense2"]
    state = model.state_dict()
    for old, new in [("0.weight", "conv1.weight"), ("2.running_var", "batchnorm1.running_var"),
                     ("2.num_batches_tracked", "batchnorm1.num_batches_tracked"), ("7.bias", "dense2.bias")]:
        np.testing.assert_array_equal(np.asarray(state[new].data if hasattr(state[new], "data") else state[new]), w[old])
    # the same computation written out with the old positions' weights
    model.eval()
    x = np.random.default_rng(1).standard_normal((2, 1, 6, 6)).astype(np.float32)
    h = model.conv1(profondo.tensor(x)).numpy()
    np.testing.assert_allclose(h[0, 0, 0, 0], (x[0, 0, :3, :3] * w["0.weight"][0, 0]).sum() + w["0.bias"][0], rtol=1e-5)
    assert model(profondo.tensor(x)).shape == (2, 2)


def test_the_trainer_resumes_a_checkpoint_of_index_named_layers(tmp_path):
    from profondo import optim
    from profondo.architecture import from_dict
    from profondo.train import Trainer

    w = _old_checkpoint(tmp_path / "old.ckpt", np.random.default_rng(2))
    model = from_dict(UNNAMED)
    trainer = Trainer(model, optim.SGD(model.parameters(), 0.1), progress=False)
    assert trainer.resume(tmp_path / "old.ckpt") == 1
    np.testing.assert_array_equal(model.dense1.weight.numpy(), w["5.weight"])
    np.testing.assert_array_equal(model.batchnorm1.running_mean.numpy(), w["2.running_mean"])


def test_index_keys_that_fit_no_module_still_fail_loading():
    from profondo.architecture import from_dict
    from profondo.architecture.build import upgrade_state_dict

    model = from_dict(UNNAMED)
    state = {k: v for k, v in model.state_dict().items()}
    assert upgrade_state_dict(model, state) is state  # the new naming: nothing to rename
    wrong = {"9.weight": np.zeros((2, 5), np.float32)}  # no 10th module: left as it is, for load_state_dict
    assert upgrade_state_dict(model, wrong) is wrong
    with pytest.raises(RuntimeError, match="unexpected keys.*9.weight"):
        model.load_state_dict(upgrade_state_dict(model, wrong))
    # an nn.Sequential built in Python keeps PyTorch's index keys: nothing is renamed
    seq = nn.Sequential(nn.Linear(2, 2))
    assert list(seq.state_dict()) == ["0.weight", "0.bias"]
    assert upgrade_state_dict(seq, seq.state_dict()).keys() == seq.state_dict().keys()
