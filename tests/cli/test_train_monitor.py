"""``profondo train --monitor gradients`` and ``--tensorboard DIR``: a line of per-layer gradient norms
after each epoch's result line, and event files that hold the run."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from profondo.cli import main

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture
def digits():
    from profondo.data import DatasetNotFoundError, load_dataset

    try:
        load_dataset("digits", "train")
    except (DatasetNotFoundError, ImportError) as e:
        pytest.skip(f"digits not available: {e}")


def _train(tmp_path, act: str, *extra: str) -> str:
    return main(["train", str(EXAMPLES / f"deep-mlp-{act}.yaml"), "--data", "digits", "--epochs", "2", "--val", "100",
                 "--optimizer", "sgd", "--lr", "0.1", "--out", str(tmp_path / act), "--quiet", "--monitor",
                 "gradients", "--monitor-every", "2", *extra])


def test_monitor_gradients_prints_a_line_per_epoch(digits, tmp_path, capsys):
    ratios = {}
    for act in ("sigmoid", "relu"):
        assert _train(tmp_path, act) == 0
        out = capsys.readouterr().out.splitlines()
        lines = [i for i, line in enumerate(out) if line.startswith("  gradient norms: ")]
        assert len(lines) == 2 and all(out[i - 1].startswith(f"epoch {n}/2: loss") for n, i in enumerate(lines, 1))
        norms = dict(re.findall(r"(fc\d) ([0-9.e+-]+)", out[lines[0]]))
        assert list(norms) == [f"fc{i}" for i in range(1, 8)]
        ratios[act] = float(re.search(r"first/last ([0-9.e+-]+)", out[lines[0]]).group(1))
        assert ratios[act] == pytest.approx(float(norms["fc1"]) / float(norms["fc7"]), rel=0.01)
    assert ratios["sigmoid"] < 1e-3 < 0.05 < ratios["relu"]  # the vanishing gradient, and ReLU's cure


def test_tensorboard_flag_writes_an_event_file(digits, tmp_path, capsys):
    logs = tmp_path / "tb"
    assert _train(tmp_path, "relu", "--tensorboard", str(logs)) == 0
    (events,) = logs.glob("events.out.tfevents.*")
    from profondo.train.tensorboard import read_events

    tags = {v["tag"] for e in read_events(events) for v in e.get("values", [])}
    assert {"loss", "accuracy", "val_loss", "lr", "weights/fc1", "gradients/fc1"} <= tags
