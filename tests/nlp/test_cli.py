import argparse
import json

import pytest

from profondo.nlp import datasets as D
from profondo.nlp.cli import add_nlp_parser, main


def test_commands_are_registered_with_run_defaults():
    parser = argparse.ArgumentParser()
    add_nlp_parser(parser.add_subparsers(dest="command"))
    for argv in (["lm", "--steps", "5"], ["sentiment", "--epochs", "1"], ["seq2seq", "words", "--beam", "3"]):
        args = parser.parse_args(argv)
        assert callable(args.run)


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
    assert main(["sentiment", "--data-dir", str(tmp_path / "none"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "profondo sentiment: Movie reviews not found" in err and str(tmp_path / "none") in err


def test_options_that_do_not_apply_are_refused():
    with pytest.raises(SystemExit, match="--dictionary does not apply to dates_task"):
        main(["seq2seq", "dates", "--dictionary", "eng-deu"])
