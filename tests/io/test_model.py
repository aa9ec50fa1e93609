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
