"""``profondo lm``, ``sentiment`` and ``seq2seq``."""

import json

from profondo.cli import build_parser, main
from profondo.cli.nlp import cmd_lm, cmd_sentiment, cmd_seq2seq
from profondo.nlp import datasets as D


def test_commands_are_registered_with_their_functions():
    parser = build_parser()
    for argv, command in ((["lm", "--steps", "5"], cmd_lm), (["sentiment", "--epochs", "1"], cmd_sentiment),
                          (["seq2seq", "words", "--beam", "3"], cmd_seq2seq)):
        assert parser.parse_args(argv).run is command


def test_dates_end_to_end_writes_results(tmp_path):
    out = tmp_path / "dates.json"
    code = main(["seq2seq", "dates", "--n-train", "200", "--n-test", "20", "--epochs", "1", "--hidden", "8",
                 "--beam", "2", "--quiet", "--json", str(out), "--save", str(tmp_path / "dates.npz")])
    result = json.loads(out.read_text())
    assert code == 0 and result["test_size"] == 20
    assert {"greedy_exact_match", "greedy_char_accuracy", "beam2_exact_match"} <= set(result)
    assert (tmp_path / "dates.npz").exists()


def test_missing_data_exits_with_a_message(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PROFONDO_DATA", str(tmp_path))
    monkeypatch.setattr(D, "_package_dir", lambda module: [])
    (tmp_path / "empty").mkdir()
    assert main(["sentiment", "--data-dir", str(tmp_path / "empty"), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("profondo: error: Movie reviews not found") and str(tmp_path / "empty") in err
    assert "Traceback" not in err


def test_options_that_do_not_apply_are_refused(capsys):
    assert main(["seq2seq", "dates", "--dictionary", "eng-deu"]) == 1
    assert "profondo: error: --dictionary does not apply to dates_task" in capsys.readouterr().err


def test_a_run_writes_its_checkpoint_and_results_into_its_folder(tmp_path, capsys):
    out = tmp_path / "dates"
    argv = ["seq2seq", "dates", "--n-train", "100", "--n-test", "10", "--epochs", "1", "--hidden", "8", "--beam", "2",
            "--quiet", "--out", str(out)]
    assert main(argv) == 0
    assert (out / "model.ckpt").exists() and json.loads((out / "metrics.json").read_text())["test_size"] == 10
    capsys.readouterr()
    assert main(argv) == 1  # a second run into the same folder is refused, before it trains
    assert f"{out} already holds a run (model.ckpt, metrics.json)" in capsys.readouterr().err
    assert main([*argv, "--overwrite"]) == 0
