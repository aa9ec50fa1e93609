"""The ``profondo`` command as a whole: exit statuses, ``--version``, ``--help`` with every
default, defaults read from the library, process settings and start-up cost."""

import argparse
import dataclasses
import subprocess
import sys

import pytest

import profondo
from profondo import cli
from profondo.cli import build_parser, main
from profondo.cli import rl as rl_cli


def _subparsers(parser: argparse.ArgumentParser, path=()):
    """(command path, parser) of every command and sub-command."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield (*path, name), sub
                yield from _subparsers(sub, (*path, name))


def _option(parser: argparse.ArgumentParser, dest: str) -> argparse.Action:
    (action,) = [a for a in parser._actions if a.dest == dest and a.option_strings]
    return action


def _command(*path: str) -> argparse.ArgumentParser:
    return dict(_subparsers(build_parser()))[path]


def test_version(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"profondo {profondo.__version__}"


def test_usage_errors_exit_2(capsys):
    assert main([]) == 2
    assert main(["no-such-command"]) == 2
    assert main(["train", "--epochs", "many"]) == 2
    assert main(["rl", "dqn"]) == 2  # the environment is missing
    err = capsys.readouterr().err
    assert "usage: profondo" in err and "argument --epochs: expected a positive integer, received 'many'" in err


def test_a_user_error_exits_1_with_one_line_and_no_traceback(capsys):
    assert main(["summary", "no-such-net"]) == 1
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("profondo: error: no architecture file 'no-such-net'")


def test_debug_shows_the_traceback(monkeypatch):
    monkeypatch.setenv("PROFONDO_DEBUG", "1")
    with pytest.raises(cli.CommandError, match="no architecture file"):
        main(["summary", "no-such-net"])


def test_the_console_script_and_python_dash_m_agree():
    done = subprocess.run([sys.executable, "-m", "profondo.cli", "summary", "no-such-net"], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 1 and done.stderr.startswith("profondo: error: ") and "Traceback" not in done.stderr
    done = subprocess.run([sys.executable, "-m", "profondo.cli", "--version"], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == f"profondo {profondo.__version__}"


def test_every_argument_of_every_command_has_help_text():
    missing = [(path, a.dest) for path, parser in _subparsers(build_parser()) for a in parser._actions
               if not a.help and not isinstance(a, argparse._SubParsersAction)]
    assert not missing


def test_train_help_names_the_recipe():
    text = " ".join(_command("train").format_help().split())
    for shown in ("(default: 12)", "(default: 64)", "(default: adam)", "(default: 0.001)", "(default: 2)",
                  "(default: 5000)", "cosine (from --lr to 0 over --epochs)", "(default: cosine)", "--test-limit",
                  "--overwrite", "--early-stopping"):
        assert shown in text, shown


def test_help_shows_every_default():
    """Every option whose parser default is a value says it in --help; options whose default
    is None name theirs in their own text, or have none (an optional input)."""
    checked = 0
    for path, parser in _subparsers(build_parser()):
        text = " ".join(parser.format_help().split())
        for action in parser._actions:
            if not action.option_strings or action.default in (None, False, [], argparse.SUPPRESS):
                continue
            assert f"(default: {action.default})" in text, (path, action.dest, action.default)
            checked += 1
    assert checked > 30


def test_every_dqn_config_field_is_an_option_with_the_librarys_default():
    from profondo.rl.dqn import DQNConfig

    dqn = _command("rl", "dqn")
    text = " ".join(dqn.format_help().split())
    defaults = rl_cli.dqn_defaults()
    config = DQNConfig()
    for field in dataclasses.fields(DQNConfig):
        if field.name == "epsilon":
            for part, name in (("start", "epsilon_start"), ("end", "epsilon_end"), ("decay", "epsilon_decay"),
                               ("kind", "epsilon_schedule")):
                assert defaults[name] == getattr(config.epsilon, part), name
                _option(dqn, name)
            continue
        assert defaults[field.name] == getattr(config, field.name), field.name
        action = _option(dqn, field.name)
        assert action.default is None  # a run file's value must win over an unspoken default
        assert f"(default: {getattr(config, field.name)})" in text, field.name


def test_a_dqn_run_uses_the_librarys_config_when_no_option_is_given():
    from profondo.rl.dqn import DQNConfig

    args = build_parser().parse_args(["rl", "dqn", "CartPole-v1"])
    options = rl_cli._options(args, rl_cli.dqn_defaults())
    assert {name: options[name] for name in rl_cli.dqn_config_options()} == {
        f.name: getattr(DQNConfig(), f.name) for f in dataclasses.fields(DQNConfig) if f.name != "epsilon"}


def test_q_learning_defaults_are_the_agents():
    from profondo.rl.schedule import EpsilonSchedule
    from profondo.rl.tabular import QLearning

    defaults = rl_cli.q_defaults()
    for name in ("lr", "lr_end", "gamma"):
        assert defaults[name] == cli.common.library_default(QLearning, name)
    assert defaults["epsilon_start"] == EpsilonSchedule().start
    assert defaults["epsilon_schedule"] == EpsilonSchedule().kind


def test_training_defaults_are_the_librarys():
    from profondo import transfer
    from profondo.data import DataLoader
    from profondo.edge.bench import run_benchmark
    from profondo.io.onnx_export import DEFAULT_OPSET
    from profondo.optim import Adam

    adam = cli.common.library_default(Adam, "lr"), cli.common.library_default(Adam, "weight_decay")
    for command in ("train", "finetune"):
        parser = _command(command)
        assert (_option(parser, "lr").default, _option(parser, "weight_decay").default) == adam
        assert _option(parser, "device").default == str(profondo.device(None)) == "cpu"
    assert _option(_command("finetune"), "batch_size").default == cli.common.library_default(DataLoader, "batch_size")
    features = _command("features")
    head = transfer.LogisticRegression()
    assert _option(features, "weight_decay").default == head.weight_decay
    assert _option(features, "epochs").default == head.epochs
    assert _option(features, "C").default == cli.common.library_default(transfer.linear_svm, "C")
    bench = _command("bench")
    for dest, name in (("repeats", "repeats"), ("engine_threads", "threads"), ("batch", "batch")):
        assert _option(bench, dest).default == cli.common.library_default(run_benchmark, name)
    assert _option(_command("export"), "opset").default == DEFAULT_OPSET


def test_language_options_show_the_task_functions_defaults():
    from profondo.nlp.tasks import dates_task, language_model_task, translation_task

    lm = " ".join(_command("lm").format_help().split())
    steps = cli.common.library_default(language_model_task, "steps")
    assert f"(default: {steps!r})" in lm
    seq2seq = " ".join(_command("seq2seq").format_help().split())
    epochs = [cli.common.library_default(fn, "epochs") for fn in (dates_task, translation_task)]
    assert f"(default: dates {epochs[0]!r}, words {epochs[1]!r})" in seq2seq
    assert _option(_command("lm"), "steps").default is None  # left out: the function's default applies


def test_one_optimizer_helper_for_every_command():
    from profondo import nn, optim

    params = nn.Linear(2, 2).parameters
    sgd = cli.common.make_optimizer("sgd", params(), 0.1)
    assert isinstance(sgd, optim.SGD)
    assert sgd.param_groups[0]["momentum"] == cli.common.SGD_MOMENTUM and sgd.param_groups[0]["nesterov"]
    for name, cls in (("adam", optim.Adam), ("adamw", optim.AdamW), ("rmsprop", optim.RMSprop),
                      ("adagrad", optim.Adagrad)):
        assert isinstance(cli.common.make_optimizer(name, params(), 0.1), cls)
    with pytest.raises(cli.CommandError, match="unknown optimizer 'lbfgs': expected one of sgd, adam"):
        cli.common.make_optimizer("lbfgs", params(), 0.1)
    for command in ("train", "finetune"):
        assert _option(_command(command), "optimizer").choices == cli.common.OPTIMIZERS


def test_compute_commands_get_one_blas_thread_and_the_heap_tuning(monkeypatch):
    import profondo.backend as backend

    seen = {}
    monkeypatch.setattr(backend, "keep_freed_memory", lambda: seen.setdefault("heap", True))

    def blas_threads(n):
        seen["threads"] = n
        return _Null()

    monkeypatch.setattr(backend, "blas_threads", blas_threads)
    args = build_parser().parse_args(["seq2seq", "dates"])
    assert args.threads == cli.common.DEFAULT_THREADS == 1
    args.run = lambda args: 0
    assert cli.run(args) == 0
    assert seen == {"heap": True, "threads": 1}
    seen.clear()
    args = build_parser().parse_args(["summary", "lenet5"])
    args.run = lambda args: 0
    assert cli.run(args) == 0 and "heap" not in seen and seen["threads"] is None


class _Null:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_start_up_imports_no_heavy_package():
    code = ("import sys; from profondo.cli import build_parser; build_parser(); "
            "print(sorted(m for m in ('torch', 'onnx', 'onnxruntime', 'gymnasium', 'matplotlib', 'sklearn', "
            "'PIL') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_ctrl_c_exits_130_and_says_what_was_kept(tmp_path, capsys):
    def interrupted(args):
        raise KeyboardInterrupt

    def interrupted_after_a_checkpoint(args):
        args.run_dir = tmp_path
        (tmp_path / "last.ckpt").write_bytes(b"")
        raise KeyboardInterrupt

    args = build_parser().parse_args(["train", "--quiet"])
    args.run = interrupted  # in the first epoch: nothing is kept yet
    assert cli.run(args) == 130
    assert "profondo: interrupted: nothing was saved: the run had not reached its first checkpoint" \
        in capsys.readouterr().err
    args.run = interrupted_after_a_checkpoint
    assert cli.run(args) == 130
    assert (f"profondo: interrupted: {tmp_path / 'last.ckpt'} holds the last completed checkpoint (run the same "
            "command with --resume to continue)") in capsys.readouterr().err
    for command in (["lm"], ["sentiment"], ["seq2seq", "dates"]):  # no checkpoint while they train: say so
        args = build_parser().parse_args(command)
        args.run = interrupted
        assert cli.run(args) == 130
        err = capsys.readouterr().err
        assert f"profondo: interrupted: nothing was saved ({command[0]} writes --save and --json" in err
        assert "--resume" not in err
    args = build_parser().parse_args(["summary", "lenet5"])
    args.run = interrupted
    assert cli.run(args) == 130
    assert capsys.readouterr().err.strip() == "profondo: interrupted"
