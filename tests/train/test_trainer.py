import json

import numpy as np
import pytest

import profondo
from profondo import architecture, nn, optim
from profondo.data import ArrayDataset, DataLoader
from profondo.train import CSVLogger, EarlyStopping, JSONLogger, LRScheduler, ModelCheckpoint, PlotCurves, Trainer


def small_net():
    return nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Dropout(0.2), nn.Linear(32, 3))


def test_learns_real_mnist_digits_well_beyond_chance(mnist_slice):
    (x, y), (xt, yt) = mnist_slice
    profondo.manual_seed(0)
    model = architecture.load(architecture.zoo.path("lenet5"))
    trainer = Trainer(model, optim.Adam(model.parameters(), 2e-3), progress=False)
    history = trainer.fit(DataLoader(ArrayDataset(x, y), 64, shuffle=True, seed=0), epochs=3)
    assert history["loss"][-1] < 0.5 < np.log(10)  # chance is ln 10 = 2.30
    assert trainer.evaluate(DataLoader(ArrayDataset(xt, yt), 500))["accuracy"] > 0.85


def test_resuming_from_a_checkpoint_gives_exactly_the_uninterrupted_run(blobs, tmp_path):
    x, y = blobs

    def run(epochs, resume_from=None, save_to=None):
        profondo.manual_seed(1)
        model = small_net()
        opt = optim.SGD(model.parameters(), 0.05, momentum=0.9)
        sched = optim.lr_scheduler.StepLR(opt, 1, gamma=0.7)
        trainer = Trainer(model, opt, callbacks=[LRScheduler(sched)], progress=False)
        if resume_from:
            profondo.manual_seed(99)  # whatever the fresh process did, the checkpoint decides
            assert trainer.resume(resume_from) == 2
        trainer.fit(DataLoader(ArrayDataset(x, y), 32, shuffle=True, seed=5), epochs)
        if save_to:
            trainer.save_checkpoint(save_to)
        return model, opt, trainer

    straight, opt_a, trainer_a = run(4)
    run(2, save_to=tmp_path / "half.ckpt")
    resumed, opt_b, trainer_b = run(4, resume_from=tmp_path / "half.ckpt")
    for (name, a), b in zip(straight.state_dict().items(), resumed.state_dict().values()):
        np.testing.assert_array_equal(a, b, err_msg=name)
    assert opt_a.param_groups[0]["lr"] == opt_b.param_groups[0]["lr"]
    assert trainer_a.history["loss"] == trainer_b.history["loss"]  # the history is restored too


def test_callbacks_log_checkpoint_plot_and_stop_early(blobs, tmp_path):
    x, y = blobs
    profondo.manual_seed(0)
    model = small_net()
    stopper = EarlyStopping(monitor="val_loss", patience=2)
    callbacks = [stopper, ModelCheckpoint(tmp_path), CSVLogger(tmp_path / "log.csv"), JSONLogger(tmp_path / "h.json")]
    try:
        import matplotlib  # noqa: F401

        callbacks.append(PlotCurves(tmp_path / "curves.png"))
    except ImportError:
        pass
    # lr = 0: nothing improves after the first epoch, so training stops after 1 + patience epochs.
    trainer = Trainer(model, optim.SGD(model.parameters(), 0.0), callbacks=callbacks, progress=False)
    loader = DataLoader(ArrayDataset(x, y), 64)
    history = trainer.fit(loader, epochs=10, val_loader=loader)
    assert len(history["loss"]) == 3 and trainer.stop_training
    rows = (tmp_path / "log.csv").read_text().strip().splitlines()
    assert rows[0].startswith("epoch,loss,accuracy,val_loss,val_accuracy") and len(rows) == 4
    assert len(json.loads((tmp_path / "h.json").read_text())["val_loss"]) == 3
    assert (tmp_path / "last.ckpt").exists() and (tmp_path / "best.ckpt").exists()
    if len(callbacks) == 5:
        assert (tmp_path / "curves.png").read_bytes()[:4] == b"\x89PNG"


def test_a_diverging_loss_stops_with_advice(blobs):
    x, y = blobs
    model = small_net()
    trainer = Trainer(model, optim.SGD(model.parameters(), 1e30), progress=False)
    with pytest.raises(FloatingPointError, match="learning rate"):
        trainer.fit(DataLoader(ArrayDataset(x * 1e20, y), 64), epochs=2)
