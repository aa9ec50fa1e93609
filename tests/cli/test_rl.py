"""``profondo rl``: q-learning, dqn and eval."""

import json
import sys

import pytest

from profondo.cli import main


def run(argv):
    """``profondo rl ARGV...``"""
    return main(["rl", *argv])


def test_without_gymnasium_the_commands_say_how_to_install_it(monkeypatch, capsys, tmp_path):
    monkeypatch.setitem(sys.modules, "gymnasium", None)  # makes `import gymnasium` fail
    for argv in (["q-learning", "FrozenLake-v1"], ["dqn", "CartPole-v1"], ["eval", str(tmp_path / "x.ckpt")]):
        assert run([*argv, "--out", str(tmp_path)] if argv[0] != "eval" else argv) == 1
        assert "pip install 'gymnasium==1.4.0'" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


def test_q_learning_command_writes_table_curve_and_metrics(tmp_path, capsys):
    pytest.importorskip("gymnasium")
    out = tmp_path / "run"
    argv = ["q-learning", "FrozenLake-v1", "--env-arg", "is_slippery=False", "--episodes", "400",
            "--eval-episodes", "20", "--lr", "0.5", "--seed", "3", "--out", str(out), "--quiet"]
    assert run(argv) == 0
    printed = capsys.readouterr().out
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["env_args"] == {"is_slippery": False} and metrics["episodes"] == 400
    assert metrics["eval_mean_return"] == 1.0 and "success rate 100.0%" in printed  # deterministic lake
    assert (out / "q_table.ckpt").exists() and (out / "history.json").exists()
    if (out / "learning_curve.png").exists():  # needs matplotlib
        assert (out / "learning_curve.png").read_bytes()[:4] == b"\x89PNG"
    assert run(["eval", str(out / "q_table.ckpt"), "--episodes", "5"]) == 0
    assert "mean return 1.000" in capsys.readouterr().out
    history = json.loads((out / "history.json").read_text())["returns"]
    assert run(argv) == 0  # the same seed gives the same run
    assert json.loads((out / "history.json").read_text())["returns"] == history


def test_dqn_run_file_resume_and_eval(tmp_path, capsys):
    pytest.importorskip("gymnasium")
    (tmp_path / "net.yaml").write_text("input: [4]\nlayers:\n  - dense: {units: 16, activation: relu}\n"
                                       "  - dense: {units: 2}\n")
    run_file = tmp_path / "cartpole.yaml"
    run_file.write_text("env: CartPole-v1\nnetwork: net.yaml\nsteps: 300\nlearning-starts: 100\nbatch_size: 16\n"
                        "eval_every: 150\neval_episodes: 2\nfinal_episodes: 3\nepsilon_decay: 200\nframes: false\n"
                        "double: true\n")
    out = tmp_path / "run"
    assert run(["dqn", str(run_file), "--out", str(out), "--quiet", "--target-update", "50"]) == 0
    printed = capsys.readouterr().out
    assert "target every 50 steps" in printed and "2-step double DQN" in printed  # file < command line
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["steps"] == 300 and metrics["options"]["batch_size"] == 16 and metrics["eval_episodes"] == 3
    assert set(metrics) >= {"last_mean_return", "best_mean_return"}  # both the final and the selected weights
    assert metrics["eval_mean_return"] == metrics["last_mean_return"]
    assert "last weights (last.ckpt)" in printed and "best weights (best.ckpt)" in printed
    history = json.loads((out / "history.json").read_text())
    assert [e[0] for e in history["evaluations"]] == [150, 300]
    assert {p.name for p in out.iterdir()} >= {"last.ckpt", "best.ckpt", "metrics.json", "history.json"}

    # a resumed run keeps its options (--target-update 50 from the command line) and seed, and refuses changes
    assert run(["dqn", str(run_file), "--out", str(out), "--quiet", "--resume", "--target-update", "20"]) == 1
    assert "trained with target_update=50; this agent has target_update=20" in capsys.readouterr().err
    assert run(["dqn", str(run_file), "--out", str(out), "--quiet", "--resume", "--seed", "3"]) == 1
    assert "it is a run with seed 0, this command asks for 3" in capsys.readouterr().err
    assert run(["dqn", str(run_file), "--out", str(out), "--quiet", "--resume", "--steps", "450"]) == 0
    printed = capsys.readouterr().out
    assert "resumed from" in printed and "target every 50 steps" in printed and "seed 0" in printed
    history = json.loads((out / "history.json").read_text())
    assert [e[0] for e in history["evaluations"]] == [150, 300, 450]
    assert json.loads((out / "metrics.json").read_text())["steps"] == 450

    assert run(["eval", str(out / "best.ckpt"), "--episodes", "2"]) == 0
    assert "over 2 episodes" in capsys.readouterr().out


def test_dqn_errors(tmp_path, capsys):
    pytest.importorskip("gymnasium")
    assert run(["dqn", "NoSuchEnv-v0", "--out", str(tmp_path / "a")]) == 1
    assert "could not make environment 'NoSuchEnv-v0'" in capsys.readouterr().err
    assert run(["dqn", "FrozenLake-v1", "--out", str(tmp_path / "b")]) == 1
    assert "use `profondo rl q-learning`" in capsys.readouterr().err
    bad = tmp_path / "bad.yaml"
    bad.write_text("env: CartPole-v1\nstepz: 10\n")
    assert run(["dqn", str(bad)]) == 1
    assert "unknown option(s) ['stepz']" in capsys.readouterr().err
    assert run(["dqn", "CartPole-v1", "--resume", "--out", str(tmp_path / "c"), "--quiet"]) == 1
    assert "--resume, but" in capsys.readouterr().err
    assert run(["q-learning", "CartPole-v1", "--out", str(tmp_path / "d")]) == 1
    assert "needs a Discrete observation space" in capsys.readouterr().err


def test_network_file_must_fit_the_observations(tmp_path, capsys):
    pytest.importorskip("gymnasium")
    net = tmp_path / "net.yaml"
    net.write_text("input: [3]\nlayers:\n  - dense: {units: 2}\n")
    assert run(["dqn", "CartPole-v1", "--network", str(net), "--out", str(tmp_path / "run")]) == 1
    assert "declares input [3], the CartPole-v1 observations have shape [4]" in capsys.readouterr().err


def test_dqn_from_rendered_frames(tmp_path, capsys):
    pytest.importorskip("gymnasium")
    pytest.importorskip("pygame")  # CartPole's frames are drawn with pygame
    net = tmp_path / "conv.yaml"
    net.write_text("input: [2, 36, 36]\nlayers:\n  - conv: {filters: 4, size: 6, stride: 3, activation: relu}\n"
                   "  - dense: {units: 2}\n")
    out = tmp_path / "run"
    argv = ["dqn", "CartPole-v1", "--pixels", "--frame-size", "36", "--frame-stack", "2", "--network", str(net),
            "--steps", "30", "--learning-starts", "10", "--batch-size", "8", "--buffer-size", "100",
            "--eval-every", "0", "--final-episodes", "1", "--out", str(out), "--quiet"]
    assert run(argv) == 0
    assert "observations (2, 36, 36) uint8" in capsys.readouterr().out
    metrics = json.loads((out / "metrics.json").read_text())
    assert "last_mean_return" in metrics and "best_mean_return" not in metrics  # no evaluation, no best
    assert (out / "frames.png").read_bytes()[:4] == b"\x89PNG"
    assert run(["eval", str(out / "last.ckpt"), "--episodes", "1"]) == 0
    assert "over 1 episodes" in capsys.readouterr().out


def test_dqn_on_minatar_with_the_packaged_network_and_a_frame_strip(tmp_path, capsys):
    pytest.importorskip("gymnasium")
    pytest.importorskip("minatar")
    out = tmp_path / "run"
    argv = ["dqn", "MinAtar/Breakout-v1", "--steps", "60", "--learning-starts", "20", "--batch-size", "8",
            "--buffer-size", "100", "--eval-every", "30", "--eval-episodes", "1", "--final-episodes", "2",
            "--out", str(out), "--quiet"]
    assert run(argv) == 0
    printed = capsys.readouterr().out
    assert "observations (4, 10, 10) uint8, 3 actions" in printed  # channels first, no frame stack
    arch = json.loads((out / "metrics.json").read_text())["options"]
    assert arch["pixels"] and arch["frame_stack"] == 1
    assert (out / "frames.png").read_bytes()[:4] == b"\x89PNG" and (out / "learning_curve.png").exists()
    assert run(["eval", str(out / "last.ckpt"), "--episodes", "1"]) == 0


def test_the_packaged_minatar_recipe_pins_its_settings():
    from pathlib import Path

    from profondo.cli import rl as rl_cli

    recipe = Path(rl_cli.__file__).resolve().parent.parent / "rl" / "recipes" / "minatar-breakout.yaml"
    env_id, env_args, options = rl_cli._run_file(recipe)
    assert env_id == "MinAtar/Breakout-v1" and env_args == {}
    # Young and Tian's setting, not CartPole's bursts of updates and decaying learning rate
    assert (options["train_every"], options["gradient_steps"], options["lr_end"], options["target_update"]) == \
        (1, 1, None, 1000)
    assert Path(options["network"]).resolve() == recipe.parent.parent / "networks" / "minatar.yaml"
