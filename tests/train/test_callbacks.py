"""Callbacks keep their progress in the checkpoint; last.ckpt, best.ckpt and the logs survive a resume."""

from __future__ import annotations

import csv
import json

import numpy as np

import profondo
from profondo import nn, optim
from profondo.data import ArrayDataset, DataLoader
from profondo.io.checkpoint import read_checkpoint
from profondo.train import CSVLogger, EarlyStopping, JSONLogger, LRScheduler, ModelCheckpoint, Trainer


def _trainer(x, y, out, epochs_planned, monitor="val_accuracy"):
    profondo.manual_seed(3)
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 3))
    opt = optim.SGD(model.parameters(), 0.05, momentum=0.9)
    sched = optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs_planned)
    callbacks = [LRScheduler(sched), ModelCheckpoint(out, monitor=monitor), CSVLogger(out / "history.csv"),
                 JSONLogger(out / "history.json"), EarlyStopping("val_loss", patience=100)]
    return Trainer(model, opt, callbacks=callbacks, progress=False)


def _loaders(blobs):
    x, y = blobs
    return DataLoader(ArrayDataset(x[:400], y[:400]), 50, shuffle=True, seed=1), DataLoader(ArrayDataset(x[400:],
                                                                                                         y[400:]), 200)


def _rows(path):
    with open(path, newline="") as f:
        return [{k: v for k, v in row.items() if k != "time"} for row in csv.DictReader(f)]


def test_best_so_far_lives_in_the_checkpoint_so_a_resume_does_not_overwrite_best(blobs, tmp_path):
    train, val = _loaders(blobs)
    straight = _trainer(*blobs, tmp_path / "a", 6)
    straight.fit(train, 6, val)
    half = _trainer(*blobs, tmp_path / "b", 6)
    half.fit(train, 3, val)
    saved = read_checkpoint(tmp_path / "b" / "last.ckpt").meta["extra"]["callbacks"]
    assert saved[4]["class"] == "ModelCheckpoint" and saved[4]["state"]["best"] == max(half.history["val_accuracy"])
    resumed = _trainer(*blobs, tmp_path / "b", 6)
    assert resumed.resume(tmp_path / "b" / "last.ckpt") == 3
    resumed.fit(train, 6, val)
    for name in ("last.ckpt", "best.ckpt"):
        a, b = read_checkpoint(tmp_path / "a" / name), read_checkpoint(tmp_path / "b" / name)
        assert a.meta["epoch"] == b.meta["epoch"], name
        for key, array in a.group("model").items():
            np.testing.assert_array_equal(array, b.group("model")[key], err_msg=f"{name} {key}")
    assert _rows(tmp_path / "a" / "history.csv") == _rows(tmp_path / "b" / "history.csv")
    assert resumed.callbacks[3].wait == straight.callbacks[3].wait  # EarlyStopping's count carried over


def test_the_logs_hold_exactly_the_epochs_the_checkpoint_covers_after_a_resume(blobs, tmp_path):
    train, val = _loaders(blobs)
    first = _trainer(*blobs, tmp_path, 4)
    first.fit(train, 2, val)
    ckpt = read_checkpoint(tmp_path / "last.ckpt")
    first.fit(train, 3, val)  # epoch 3 is logged, then the process is "killed" before last.ckpt is kept
    from profondo.io.checkpoint import write_checkpoint

    write_checkpoint(tmp_path / "last.ckpt", ckpt)
    (tmp_path / ".last.ckpt.deadbeef.tmp").write_bytes(b"half")
    (tmp_path / ".history.csv.deadbeef.tmp").write_bytes(b"half")
    resumed = _trainer(*blobs, tmp_path, 4)
    resumed.resume(tmp_path / "last.ckpt")
    resumed.fit(train, 2, val)  # nothing to train: only the start of fit, which rewrites the logs
    assert [r["epoch"] for r in _rows(tmp_path / "history.csv")] == ["1", "2"]
    assert len(json.loads((tmp_path / "history.json").read_text())["loss"]) == 2
    assert not list(tmp_path.glob(".*.tmp"))


def test_resuming_with_more_epochs_extends_the_cosine_schedule(blobs, tmp_path):
    train, val = _loaders(blobs)
    first = _trainer(*blobs, tmp_path, 3)
    first.fit(train, 3, val)
    assert first.optimizer.param_groups[0]["lr"] == 0.0  # the end of a 3-epoch cosine
    longer = _trainer(*blobs, tmp_path, 4)  # the command builds its schedule for the new total
    longer.resume(tmp_path / "last.ckpt")
    expected = 0.05 * (1 + np.cos(np.pi * 3 / 4)) / 2  # epoch 4 of a 4-epoch cosine, not the 0 of a 3-epoch one
    np.testing.assert_allclose(longer.optimizer.param_groups[0]["lr"], expected)  # the rate epoch 4 trains at
    longer.fit(train, 4, val)
    lrs = longer.history["lr"]
    assert lrs[:3] == first.history["lr"] and lrs[3] > 0.0
    np.testing.assert_allclose(lrs[3], expected)
    assert longer.train_seconds == sum(longer.history["time"]) > longer.history["time"][-1]


def test_early_stopping_keeps_its_best_weights_in_the_checkpoint(blobs, tmp_path):
    """A run that stops after a resume restores the best epoch of the whole run, even when that
    epoch came before the resume (its weights travel in last.ckpt)."""
    def trainer(out):
        profondo.manual_seed(3)
        model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 3))
        opt = optim.SGD(model.parameters(), 0.5, momentum=0.9)  # large steps: the loss soon stops improving
        return Trainer(model, opt, callbacks=[ModelCheckpoint(out, monitor="val_loss"),
                                              EarlyStopping("val_loss", patience=2)], progress=False)

    train, val = _loaders(blobs)
    straight = trainer(tmp_path / "a")
    straight.fit(train, 30, val)
    stopped = straight.callbacks[0].stopped_epoch
    assert stopped is not None, "the run did not stop early: the test would prove nothing"
    half = trainer(tmp_path / "b")
    half.fit(train, stopped, val)  # stop just before the stopping epoch, then resume
    resumed = trainer(tmp_path / "b")
    resumed.resume(tmp_path / "b" / "last.ckpt")
    resumed.fit(train, 30, val)
    assert resumed.callbacks[0].stopped_epoch == stopped
    for key, array in straight.model.state_arrays().items():
        np.testing.assert_array_equal(resumed.model.state_arrays()[key], array, err_msg=key)
