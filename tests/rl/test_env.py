"""Environments are made only from ids registered with gymnasium: an id from a file imports nothing."""

from __future__ import annotations

import sys

import pytest

from profondo.rl.env import make_env

gym = pytest.importorskip("gymnasium")


@pytest.fixture
def planted_module(tmp_path, monkeypatch):
    """A module beside the working folder whose import leaves a marker: what `module:Env` would import."""
    marker = tmp_path / "imported"
    (tmp_path / "planted_env_module.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    yield "planted_env_module", marker
    sys.modules.pop("planted_env_module", None)


def test_an_id_with_a_module_part_is_refused_without_importing(planted_module):
    module, marker = planted_module
    with pytest.raises(ValueError, match="an id with a 'module:' part would import that module"):
        make_env(f"{module}:CartPole-v1")
    assert not marker.exists() and module not in sys.modules


@pytest.mark.parametrize("name", ["NoSuchEnv-v0", "", 3, None])
def test_unregistered_ids_are_refused(name):
    with pytest.raises(ValueError, match="expected an id registered with gymnasium"):
        make_env(name)


def test_registered_ids_are_made():
    env = make_env("FrozenLake-v1", is_slippery=False)
    assert env.observation_space.n == 16
    env.close()


def test_rl_eval_refuses_the_module_a_checkpoint_names(tmp_path, planted_module, capsys):
    from profondo.cli import main
    from profondo.io.checkpoint import read_checkpoint, write_checkpoint

    module, marker = planted_module
    out = tmp_path / "run"
    assert main(["rl", "q-learning", "FrozenLake-v1", "--episodes", "5", "--eval-episodes", "1", "--out", str(out),
                 "--quiet"]) == 0
    ckpt = read_checkpoint(out / "q_table.ckpt")
    assert ckpt.meta["env"] == "FrozenLake-v1"
    ckpt.meta["env"] = f"{module}:FrozenLake-v1"
    write_checkpoint(out / "q_table.ckpt", ckpt)
    capsys.readouterr()
    assert main(["rl", "eval", str(out / "q_table.ckpt"), "--episodes", "1"]) == 1
    assert "would import that module" in capsys.readouterr().err
    assert not marker.exists() and module not in sys.modules
