"""``profondo finetune`` and ``profondo features``."""

import json

import numpy as np
import pytest

import profondo
from profondo import architecture
from profondo.cli import main
from profondo.io.model import load_model
from profondo.train.state import save_training_state

SMALL = {"name": "small", "input": [1, 8, 8], "layers": [
    {"name": "conv1", "conv": {"filters": 4, "size": 3, "pad": 1, "bias": False}},
    {"name": "bn1", "batchnorm": None}, "relu",
    {"name": "pool1", "pool": {"type": "max", "size": 2}},
    {"name": "conv2", "conv": {"filters": 6, "size": 3, "pad": 1, "bias": False}},
    {"name": "bn2", "batchnorm": None}, "relu",
    {"name": "fc1", "dense": {"units": 16, "activation": "relu"}},
    {"name": "fc2", "dense": {"units": 4}}]}


def run(*argv) -> int:
    return main([str(a) for a in argv])


def test_finetune_and_features_commands(tmp_path, capsys):
    pytest.importorskip("sklearn")  # the digits data set ships with scikit-learn
    profondo.manual_seed(0)
    net = architecture.from_dict(SMALL)
    ckpt = save_training_state(tmp_path / "pre.ckpt", net)

    out = tmp_path / "ft"
    assert run("finetune", ckpt, "--data", "digits", "--classes", 10, "--freeze-until", "conv1", "--lr-mult",
               "conv2=0.5", "--epochs", 3, "--limit", 400, "--lr", 3e-3, "--quiet", "--out", out) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["train_images"] == 400 and metrics["test_images"] == 449 and metrics["test_accuracy"] > 0.3
    tuned, _ = load_model(out / "last.ckpt")
    assert tuned.fc2.out_features == 10
    np.testing.assert_array_equal(tuned.conv1.weight.numpy(), net.conv1.weight.numpy())  # frozen
    assert not np.array_equal(tuned.conv2.weight.numpy(), net.conv2.weight.numpy())

    assert run("features", out / "last.ckpt", "--layer", "fc1", "--data", "digits", "--svm", "--logreg",
               "--limit", 300, "--quiet", "--save", tmp_path / "f.npz") == 0
    printed = capsys.readouterr().out
    assert "fc1 activations: 16 features for 300 training and 449 test images" in printed
    assert "linear SVM (scikit-learn): test accuracy" in printed and "logistic regression (profondo)" in printed
    with np.load(tmp_path / "f.npz") as saved:
        assert saved["x_train"].shape == (300, 16) and saved["y_test"].shape == (449,)


@pytest.mark.parametrize("argv, message", [
    (["finetune", "{ckpt}", "--data", "digits", "--classes", 10, "--lr-mult", "conv2"], "LAYER=MULT"),
    (["features", "{ckpt}", "--layer", "fc7", "--data", "digits"], "no layer named 'fc7'"),
    (["finetune", "{ckpt}", "--data", "digits", "--classes", 10, "--freeze-until", "2"],
     "no layer named '2' in the Sequential; its layers: conv1, bn1, relu1, pool1, conv2, bn2, relu2, fc1_flatten"),
    (["features", "{mlp}", "--layer", "dense1", "--data", "digits"],
     r"expects inputs of shape (16,), the data set has (1, 8, 8)"),
    (["features", "{ckpt}", "--layer", "fc1", "--data", "mnist", "--data-dir", "{tmp}"], "not found"),
    (["finetune", "{ckpt}", "--data", "digits", "--classes", 3], "--classes 3, but digits has labels 0..9"),
])
def test_user_errors_exit_1_with_one_message(tmp_path, capsys, argv, message):
    pytest.importorskip("sklearn")
    ckpt = save_training_state(tmp_path / "pre.ckpt", architecture.from_dict(SMALL))
    mlp = save_training_state(tmp_path / "mlp.ckpt",
                              architecture.from_dict({"input": [16], "layers": [{"dense": {"units": 2}}]}))
    paths = {"{ckpt}": ckpt, "{mlp}": mlp, "{tmp}": tmp_path}
    assert run(*(paths.get(a, a) for a in argv)) == 1
    err = capsys.readouterr().err
    assert err.startswith("profondo: error: ") and message in err and "Traceback" not in err
