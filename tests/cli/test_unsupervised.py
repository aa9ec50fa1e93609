"""``profondo rbm`` and ``profondo pretrain``: options reach the task, results come back as JSON,
mistakes end with status 1 and one message."""

from __future__ import annotations

import json

import pytest

from profondo.cli import main

pytest.importorskip("sklearn")
pytest.importorskip("matplotlib")


def test_rbm_command(tmp_path, capsys):
    out, results = tmp_path / "rbm", tmp_path / "r.json"
    assert main(["rbm", "--hidden", "8", "--epochs", "2", "--sample-steps", "5", "--persistent", "--out", str(out),
                 "--json", str(results), "--quiet"]) == 0
    result = json.loads(results.read_text())
    assert result["hidden"] == 8 and result["epochs"] == 2 and (out / "samples.png").exists()
    assert main(["rbm", "--hidden", "8", "--epochs", "3", "--out", str(out), "--resume", "--quiet",
                 "--json", str(results)]) == 0
    assert [row["epoch"] for row in json.loads(results.read_text())["history"]] == [1, 2, 3]
    assert main(["rbm", "--out", str(tmp_path / "empty"), "--resume", "--quiet"]) == 1
    assert "does not exist" in capsys.readouterr().err


def test_pretrain_command_and_its_help(tmp_path, capsys):
    results = tmp_path / "r.json"
    assert main(["pretrain", "sda", "--data", "digits", "--hidden", "16", "--pretrain-epochs", "1",
                 "--finetune-epochs", "1", "--no-baseline", "--svm-labels", "200", "--out", str(tmp_path),
                 "--json", str(results), "--quiet"]) == 0
    result = json.loads(results.read_text())
    assert result["model"] == "sda" and "scratch" not in result and result["sizes"] == [64, 16]
    assert main(["pretrain", "--help"]) == 0
    text = capsys.readouterr().out
    assert "(500, 500, 2000)" in text and "--no-baseline" in text
    assert main(["pretrain", "dbn", "--hidden", "5x"]) == 2


def test_autoencoder_command_trains_an_architecture_file(tmp_path, capsys):
    import yaml

    from profondo.io.model import load_model

    arch = tmp_path / "ae.yaml"
    arch.write_text(yaml.safe_dump({
        "name": "ae-digits", "input": [1, 8, 8],
        "layers": [{"conv": {"filters": 4, "size": 3, "pad": 1, "activation": "relu"}},
                   {"pool": {"type": "max", "size": 2}}, {"upsample": 2},
                   {"conv": {"filters": 1, "size": 3, "pad": 1, "activation": "sigmoid"}}]}))
    out, results = tmp_path / "run", tmp_path / "r.json"
    assert main(["autoencoder", "--arch", str(arch), "--data", "digits", "--epochs", "2", "--corruption", "mask",
                 "--train-limit", "300", "--test-limit", "100", "--out", str(out), "--json", str(results),
                 "--quiet"]) == 0
    result = json.loads(results.read_text())
    assert result["corruption"] == "mask" and len(result["train_losses"]) == 2 and result["test_images"] == 100
    assert result["train_losses"][1] < result["train_losses"][0]
    assert (out / "reconstructions.png").exists()
    assert load_model(out / "model.ckpt")[0].output_shape((1, 8, 8)) == (1, 8, 8)
    assert main(["autoencoder", "--arch", "lenet5", "--data", "digits", "--quiet", "--out", str(tmp_path / "x")]) == 1
    assert "an autoencoder's output has its input's shape (1, 28, 28), this network's is (10,)" in capsys.readouterr().err
    assert main(["autoencoder", "--arch", "no-such-file", "--quiet", "--out", str(tmp_path / "y")]) == 1
    assert "no architecture file 'no-such-file'" in capsys.readouterr().err
