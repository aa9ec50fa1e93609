import json

import numpy as np
import pytest

from profondo.cli import main


def test_summary_of_a_zoo_file_counts_lenet5(capsys):
    assert main(["summary", "lenet5"]) == 0
    out = capsys.readouterr().out
    assert "conv1" in out and "61,706" in out


def test_unknown_architecture_lists_the_zoo():
    with pytest.raises(SystemExit, match="lenet5"):
        main(["summary", "no-such-net"])


def test_train_eval_predict_on_a_slice_of_mnist(tmp_path, capsys):
    from profondo.data import DatasetNotFoundError, load_dataset

    try:
        test = load_dataset("mnist", "test")
    except DatasetNotFoundError as e:
        pytest.skip(f"MNIST not installed: {e}")
    out = tmp_path / "run"
    assert main(["train", "mlp-mnist", "--epochs", "2", "--limit", "2000", "--val", "500", "--out", str(out),
                 "--quiet", "--shift", "0"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["epochs"] == 2 and metrics["test_accuracy"] > 0.8
    assert (out / "last.ckpt").exists() and (out / "history.csv").exists() and (out / "summary.txt").exists()
    # resuming a finished run trains nothing more and keeps the epoch count
    assert main(["train", "mlp-mnist", "--epochs", "2", "--limit", "2000", "--val", "500", "--out", str(out),
                 "--quiet", "--resume", "--shift", "0"]) == 0
    capsys.readouterr()
    assert main(["eval", str(out / "last.ckpt"), "--quiet"]) == 0
    text = capsys.readouterr().out
    assert "accuracy" in text and "recall" in text
    np.save(tmp_path / "digit.npy", test.x[0])
    assert main(["predict", str(out / "last.ckpt"), str(tmp_path / "digit.npy")]) == 0
    line = capsys.readouterr().out
    assert line.startswith(str(tmp_path / "digit.npy")) and "%" in line
