"""SIGKILL a real training at random moments (checkpoint writes included), resume it until it
finishes, and compare last.ckpt, best.ckpt and the logs with an uninterrupted run.

A few trials by default (under half a minute); ``PROFONDO_KILL_TRIALS=N`` runs N:

    PROFONDO_KILL_TRIALS=60 nice -n 10 python -m pytest -q -p no:cacheprovider tests/train/test_kill_resume.py -s
"""

from __future__ import annotations

import csv
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from profondo.io.checkpoint import read_checkpoint

TRIALS = int(os.environ.get("PROFONDO_KILL_TRIALS", "0")) or 4
SRC = Path(__file__).resolve().parents[2] / "src"

# A training whose checkpoint writes take a good share of its time (a 1.2 MB model, 32 samples an
# epoch), so that random kills land inside writes too. It resumes from last.ckpt when there is one.
SCRIPT = """
import sys
from pathlib import Path

import numpy as np

import profondo
from profondo import nn, optim
from profondo.data import ArrayDataset, DataLoader
from profondo.train import CSVLogger, JSONLogger, LRScheduler, ModelCheckpoint, Trainer

out, epochs = Path(sys.argv[1]), int(sys.argv[2])
profondo.manual_seed(0)
rng = np.random.default_rng(0)
x = rng.standard_normal((48, 16)).astype(np.float32)
y = (x[:, 0] > 0).astype(np.int64) + (x[:, 1] > 0)
model = nn.Sequential(nn.Linear(16, 512), nn.ReLU(), nn.Dropout(0.3), nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 3))
opt = optim.Adam(model.parameters(), 3e-3)
callbacks = [LRScheduler(optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs)),
             ModelCheckpoint(out, monitor="val_accuracy"), CSVLogger(out / "history.csv"),
             JSONLogger(out / "history.json")]
train = DataLoader(ArrayDataset(x[:32], y[:32]), 16, shuffle=True, seed=1)
val = DataLoader(ArrayDataset(x[32:], y[32:]), 16)  # before resume: a loader without a seed draws one
trainer = Trainer(model, opt, callbacks=callbacks, progress=False)
if (out / "last.ckpt").exists():
    trainer.resume(out / "last.ckpt")
trainer.fit(train, epochs, val)
print("done", trainer.epoch)
"""
EPOCHS = 12


def _start(script: Path, out: Path) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(SRC), OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    return subprocess.Popen([sys.executable, str(script), str(out), str(EPOCHS)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _finish(script: Path, out: Path) -> None:
    proc = _start(script, out)
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0 and b"done 12" in stdout, stderr.decode()[-2000:]


def _csv(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return [{k: v for k, v in row.items() if k != "time"} for row in csv.DictReader(f)]


def _same_checkpoint(a: Path, b: Path, what: str) -> None:
    ca, cb = read_checkpoint(a), read_checkpoint(b)
    assert ca.meta["epoch"] == cb.meta["epoch"] and ca.meta["step"] == cb.meta["step"], what
    assert {k: v for k, v in ca.meta["metrics"].items() if k != "time"} == \
        {k: v for k, v in cb.meta["metrics"].items() if k != "time"}, what
    assert ca.meta["extra"]["callbacks"] == cb.meta["extra"]["callbacks"], what
    for group in ("model", "optimizer"):
        assert ca.group(group).keys() == cb.group(group).keys(), what
        for key, array in ca.group(group).items():
            np.testing.assert_array_equal(array, cb.group(group)[key], err_msg=f"{what}: {group}/{key}")


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    folder = tmp_path_factory.mktemp("kill")
    script = folder / "train.py"
    script.write_text(SCRIPT)
    out = folder / "reference"
    started = time.perf_counter()
    _finish(script, out)
    return script, out, time.perf_counter() - started


def test_killed_and_resumed_runs_end_exactly_as_the_uninterrupted_one(reference, tmp_path):
    script, ref, duration = reference
    rng = random.Random(16)
    during_writes, kills = 0, 0
    for trial in range(TRIALS):
        out = tmp_path / f"trial{trial}"
        for _ in range(rng.randint(1, 3)):  # one to three kills before the run may finish
            proc = _start(script, out)
            time.sleep(rng.uniform(0.3, 1.0) * duration)
            if proc.poll() is not None:
                break
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            kills += 1
            during_writes += bool(list(out.glob(".*.tmp")))  # the killed writer's temporary file is still there
        _finish(script, out)
        _same_checkpoint(ref / "last.ckpt", out / "last.ckpt", f"trial {trial}: last.ckpt")
        _same_checkpoint(ref / "best.ckpt", out / "best.ckpt", f"trial {trial}: best.ckpt")
        assert _csv(ref / "history.csv") == _csv(out / "history.csv"), f"trial {trial}: history.csv"
        history = {k: v for k, v in json.loads((out / "history.json").read_text()).items() if k != "time"}
        assert history == {k: v for k, v in json.loads((ref / "history.json").read_text()).items() if k != "time"}
        assert not list(out.glob(".*.tmp")), f"trial {trial}: temporary files left"
    print(f"\nkill-and-resume: {TRIALS} trials, {kills} kills, {during_writes} of them during a write "
          f"(uninterrupted run {duration:.1f} s)")
    assert kills > 0
