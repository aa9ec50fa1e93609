"""``profondo summary``, ``train``, ``eval`` and ``predict``, run as a user runs them."""

import json

import numpy as np
import pytest

from profondo.cli import main


def test_summary_of_a_zoo_file_counts_lenet5(capsys):
    assert main(["summary", "lenet5"]) == 0
    out = capsys.readouterr().out
    assert "conv1" in out and "61,706" in out


def test_unknown_architecture_is_a_user_error_that_lists_the_zoo(capsys):
    assert main(["summary", "no-such-net"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("profondo: error: no architecture file 'no-such-net'") and "lenet5" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_a_bad_input_shape_is_a_user_error(capsys):
    assert main(["summary", "lenet5", "--input", "1,twenty"]) == 1
    assert "--input expected a shape such as 3,32,32, received '1,twenty'" in capsys.readouterr().err


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


def test_resume_without_a_checkpoint_is_a_user_error(tmp_path, capsys):
    from profondo.data import DatasetNotFoundError, load_dataset

    try:
        load_dataset("digits", "train")
    except (DatasetNotFoundError, ImportError) as e:
        pytest.skip(f"digits not available: {e}")
    (tmp_path / "net.yaml").write_text("input: [1, 8, 8]\nlayers:\n  - dense: {units: 10}\n")
    code = main(["train", str(tmp_path / "net.yaml"), "--data", "digits", "--out", str(tmp_path / "run"),
                 "--resume", "--quiet"])
    assert code == 1
    assert f"profondo: error: --resume, but {tmp_path / 'run' / 'last.ckpt'} does not exist" in capsys.readouterr().err


def test_a_missing_checkpoint_is_a_user_error(tmp_path, capsys):
    assert main(["eval", str(tmp_path / "none.ckpt")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("profondo: error: ") and "none.ckpt" in err and "Traceback" not in err
