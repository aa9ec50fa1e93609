"""Every failure of a user's input ends in one ``profondo: error:`` line and exit status 1
(or argparse's usage message and 2), never a traceback; ``--debug`` shows the traceback."""

import pickle
import subprocess
import sys
import zipfile

import numpy as np
import pytest

from profondo import cli
from profondo.cli import build_parser, main

NET = "input: [1, 8, 8]\nlayers:\n  - flatten\n  - dense: {units: 10}\n"


@pytest.fixture
def files(tmp_path):
    """Wrong files of every kind a user hands over by mistake."""
    f = {}
    f["png"] = tmp_path / "digit.png"
    f["png"].write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(64))
    f["onnx"] = tmp_path / "net.onnx"
    f["onnx"].write_bytes(b"\x08\x07\x12\x07pytorch" + bytes(32))
    f["empty"] = tmp_path / "empty.ckpt"
    f["empty"].write_bytes(b"")
    f["truncated"] = tmp_path / "truncated.ckpt"
    f["truncated"].write_bytes(b"PK\x03\x04" + bytes(10))
    f["pickled"] = tmp_path / "pickled.npz"  # a checkpoint-like archive whose metadata is a pickle
    np.savez(f["pickled"], __meta__=np.array([{"epoch": 1}], dtype=object))
    f["bad_meta"] = tmp_path / "bad_meta.ckpt"
    with zipfile.ZipFile(f["bad_meta"], "w") as z:
        z.writestr("__meta__.npy", b"not an npy")
    f["pickle"] = tmp_path / "model.pkl"
    f["pickle"].write_bytes(pickle.dumps({"a": 1}))
    f["text"] = tmp_path / "notes.txt"
    f["text"].write_text("hello\n")
    f["net"] = tmp_path / "net.yaml"
    f["net"].write_text(NET)
    f["bad_yaml"] = tmp_path / "bad.yaml"
    f["bad_yaml"].write_text("input: [1, 8, 8\nlayers: {{{\n")
    f["deep_yaml"] = tmp_path / "deep.yaml"
    f["deep_yaml"].write_text("input: " + "[" * 5000 + "]" * 5000 + "\n")
    f["dir"] = tmp_path / "folder"
    f["dir"].mkdir()
    f["out"] = tmp_path / "run"
    return f


def _invocations(f):
    out = str(f["out"])
    return [
        ["train", "--val", "-5", "--out", out], ["train", "--limit", "-1", "--out", out],
        ["train", "--epochs", "0", "--out", out], ["train", "--batch-size", "0", "--out", out],
        ["train", "--lr", "-1", "--out", out], ["train", "--lr", "nan", "--out", out],
        ["train", "--optimizer", "adm", "--out", out], ["train", "--device", "tpu", "--out", out],
        ["train", "--data-dir", str(f["out"] / "nowhere"), "--out", out], ["train", "--data", "nosuch", "--out", out],
        ["train", str(f["bad_yaml"]), "--out", out], ["train", str(f["text"]), "--out", out],
        ["train", "--threads", "-2", "--out", out], ["train", "--shift", "-1", "--out", out],
        ["summary", str(f["deep_yaml"])], ["summary", str(f["bad_yaml"])], ["summary", str(f["dir"])],
        ["summary", "lenet5", "--input", "1,x"],
        *[["eval", str(f[k])] for k in ("png", "onnx", "empty", "truncated", "pickled", "bad_meta", "pickle",
                                               "text", "dir")],
        ["eval", str(f["out"] / "none.ckpt")],
        *[["predict", str(f[k]), str(f["png"])] for k in ("png", "onnx", "empty", "truncated")],
        *[["export", str(f[k]), "--onnx", str(f["out"] / "x.onnx")] for k in ("png", "onnx", "empty", "dir")],
        ["export", str(f["png"])],
        *[["import", str(f[k]), "--out", str(f["out"] / "x.ckpt")] for k in ("png", "text", "empty", "dir")],
        ["finetune", str(f["png"]), "--data", "digits", "--classes", "10"],
        ["finetune", str(f["onnx"]), "--data", "digits", "--classes", "0"],
        ["features", str(f["text"]), "--data", "digits", "--layer", "fc1"],
        ["lm", "--data-dir", str(f["out"] / "nowhere")], ["lm", "--steps", "-1"], ["lm", "--dropout", "1.5"],
        ["sentiment", "--epochs", "0"], ["seq2seq", "dates", "--epochs", "-3"], ["seq2seq", "dates", "--beam", "0"],
        ["rl", "eval", str(f["png"])], ["rl", "eval", str(f["out"] / "none.ckpt")],
        ["rl", "dqn", "CartPole-v1", "--gamma", "2"], ["rl", "q-learning", "FrozenLake-v1", "--episodes", "0"],
        ["bench", "--repeats", "0"],
    ]


def _one_error(code: int, err: str, argv) -> None:
    assert "Traceback" not in err, (argv, err)
    assert code in (1, 2), (argv, code, err)
    if code == 1:
        assert err.count("profondo: error:") == 1 and err.startswith("profondo: error: "), (argv, err)
        assert len(err.splitlines()[0]) > len("profondo: error: ") + 5, (argv, err)
    else:
        assert "usage: profondo" in err and "error:" in err, (argv, err)


def test_many_bad_invocations_end_in_one_message(files, capsys):
    for argv in _invocations(files):
        code = main(argv)
        _one_error(code, capsys.readouterr().err, argv)
        assert not (files["out"] / "last.ckpt").exists(), argv


def test_range_errors_name_the_flag_and_the_value(files, capsys):
    for flag, value, expected in (("--val", "-5", "a non-negative integer"), ("--limit", "-1", "a non-negative integer"),
                                  ("--epochs", "0", "a positive integer"), ("--lr", "0", "a positive number")):
        assert main(["train", flag, value, "--out", str(files["out"])]) == 2
        assert f"argument {flag}: expected {expected}, received '{value}'" in capsys.readouterr().err
    assert main(["train", "--data-dir", str(files["out"] / "nowhere")]) == 2
    assert "does not exist" in capsys.readouterr().err  # a typo never falls back to the installed data


@pytest.mark.parametrize("error", [pickle.UnpicklingError("invalid load key, 'x'."), MemoryError(),
                                   RecursionError("maximum recursion depth exceeded"), EOFError(),
                                   IsADirectoryError(21, "Is a directory", "runs"), FloatingPointError("loss nan"),
                                   KeyError("no layer 'fc9'"), ZeroDivisionError("division by zero"),
                                   type("DecodeError", (Exception,), {"__module__": "google.protobuf.message"})("x")])
def test_any_exception_of_a_command_is_one_line(error, capsys):
    def fails(args):
        raise error

    args = build_parser().parse_args(["summary", "lenet5"])
    args.run = fails
    assert cli.run(args) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("profondo: error: ") and "Traceback" not in err
    if isinstance(error, KeyError):
        assert err == "profondo: error: no layer 'fc9'\n"  # the message, not the KeyError's repr


@pytest.mark.parametrize("argv", [["--debug", "summary", "no-such-net"], ["summary", "no-such-net", "--debug"]])
def test_debug_raises_the_original_error(argv):
    with pytest.raises(cli.CommandError, match="no architecture file"):
        main(argv)


def test_a_closed_pipe_ends_quietly(tmp_path):
    """``profondo summary vgg16 | head -1``: the reader leaves; no BrokenPipeError traceback."""
    done = subprocess.Popen([sys.executable, "-m", "profondo.cli", "summary", "vgg16"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    done.stdout.close()  # before the command writes: every write meets a closed pipe
    err = done.stderr.read().decode()
    done.wait(timeout=120)
    assert "Traceback" not in err and "BrokenPipe" not in err, err
    assert done.returncode == 1


def test_json_output_to_a_folder_is_a_user_error(tmp_path, capsys):
    (tmp_path / "out.json").mkdir()
    code = main(["seq2seq", "dates", "--n-train", "50", "--n-test", "5", "--epochs", "1", "--hidden", "4",
                 "--quiet", "--json", str(tmp_path / "out.json"), "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err
    _one_error(code, err, "json into a folder")
    assert code == 1 and "out.json" in err


def test_a_damaged_onnx_file_is_named_in_the_message(files, capsys):
    pytest.importorskip("onnx")
    assert main(["import", str(files["onnx"]), "--out", str(files["out"] / "x.ckpt")]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"profondo: error: ONNX import: {files['onnx']}: not a readable ONNX model (")
    assert "Traceback" not in err and err.count("\n") == 1
    assert not (files["out"] / "x.ckpt").exists()
