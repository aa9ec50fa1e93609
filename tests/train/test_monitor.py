"""Gradient norms per layer (against a hand computation), their place in the checkpoint, the
vanishing gradient of a deep sigmoid network, and the histograms and feature maps."""

from __future__ import annotations

import math

import numpy as np
import pytest

import profondo
from profondo import nn
from profondo.data import ArrayDataset, DataLoader
from profondo.optim import SGD
from profondo.train import ModelCheckpoint, Trainer
from profondo.train.monitor import (
    GradientMonitor,
    activation_histograms,
    feature_maps,
    format_norms,
    layer_of,
    weight_histograms,
)


def tiny():
    profondo.manual_seed(0)
    return nn.Sequential({"fc1": nn.Linear(3, 4), "act": nn.Tanh(), "fc2": nn.Linear(4, 2)})


def test_norms_equal_a_hand_computation():
    model = tiny()
    rng = np.random.default_rng(1)
    x, t = rng.standard_normal((5, 3)).astype(np.float32), rng.standard_normal((5, 2)).astype(np.float32)
    w1, b1, w2, b2 = (p.numpy().astype(np.float64) for p in model.parameters())
    seen = []
    monitor = GradientMonitor(on_record=seen.append)
    Trainer(model, SGD(model.parameters(), 0.1), loss="mse", callbacks=[monitor], progress=False,
            classification=False).fit(DataLoader(ArrayDataset(x, t), 5), epochs=1)
    # forward and backward of mean((fc2(tanh(fc1(x))) - t)^2) by hand, at the weights before the update
    h = np.tanh(x @ w1.T + b1)
    dy = 2 * (h @ w2.T + b2 - t) / t.size
    dh = dy @ w2 * (1 - h**2)
    fc2 = math.sqrt(((dy.T @ h) ** 2).sum() + (dy.sum(0) ** 2).sum())
    fc1 = math.sqrt(((dh.T @ x) ** 2).sum() + (dh.sum(0) ** 2).sum())
    assert len(monitor.records) == 1 and seen == monitor.records
    record = monitor.records[0]
    assert record["step"] == 1 and record["epoch"] == 0 and list(record["norms"]) == ["fc1", "fc2"]
    assert record["norms"]["fc1"] == pytest.approx(fc1, rel=1e-5)
    assert record["norms"]["fc2"] == pytest.approx(fc2, rel=1e-5)


def test_every_n_steps_and_the_checkpoint(tmp_path):
    rng = np.random.default_rng(2)
    x, y = rng.standard_normal((40, 3)).astype(np.float32), rng.integers(0, 2, 40)
    loader = DataLoader(ArrayDataset(x, y), 8)  # 5 steps an epoch

    def run(epochs: int, resume: bool = False) -> GradientMonitor:
        model = tiny()
        monitor = GradientMonitor(every=2)
        trainer = Trainer(model, SGD(model.parameters(), 0.1), callbacks=[monitor, ModelCheckpoint(tmp_path)],
                          progress=False)
        if resume:
            trainer.resume(tmp_path / "last.ckpt")
        trainer.fit(loader, epochs)
        assert monitor._hook not in trainer.gradient_hooks  # taken off when fit ends
        return monitor

    whole = run(3)
    assert [(r["step"], r["epoch"]) for r in whole.records] == [(2, 0), (4, 0), (6, 1), (8, 1), (10, 1), (12, 2),
                                                                (14, 2)]
    assert whole.epoch_means(1) == {k: pytest.approx(np.mean([r["norms"][k] for r in whole.records[2:5]]))
                                    for k in ("fc1", "fc2")}
    run(2)
    resumed = run(3, resume=True)
    assert resumed.records == whole.records  # the first two epochs' records came back from the checkpoint
    with pytest.raises(ValueError, match="every expected a number of steps >= 1, received 0"):
        GradientMonitor(every=0)


def deep_mlp(activation: type, depth: int = 8, width: int = 32) -> nn.Sequential:
    layers: dict[str, nn.Module] = {}
    size = 64
    for i in range(1, depth):
        layers[f"fc{i}"] = nn.Linear(size, width)
        layers[f"act{i}"] = activation()
        size = width
    layers[f"fc{depth}"] = nn.Linear(size, 10)
    return nn.Sequential(layers)


def first_over_last(activation: type) -> float:
    profondo.manual_seed(0)
    rng = np.random.default_rng(0)
    x, y = rng.random((256, 64), dtype=np.float32), rng.integers(0, 10, 256)
    model = deep_mlp(activation)
    monitor = GradientMonitor()
    Trainer(model, SGD(model.parameters(), 0.05), callbacks=[monitor], progress=False).fit(
        DataLoader(ArrayDataset(x, y), 32), epochs=1)
    norms = monitor.epoch_means(0)
    return norms["fc1"] / norms["fc8"]


def test_a_deep_sigmoid_network_has_vanishing_gradients():
    sigmoid, relu = first_over_last(nn.Sigmoid), first_over_last(nn.ReLU)
    # sigmoid' <= 1/4 at every layer: seven of them shrink the first layer's gradient by orders of
    # magnitude (measured 1.6e-06 at this seed); through ReLUs (PyTorch's default init) 1.2e-02
    assert sigmoid < 1e-4 < 1e-3 < relu
    assert relu / sigmoid > 1000


def test_format_norms():
    assert format_norms({"fc1": 0.00031, "fc2": 0.045}) == "fc1 3.10e-04  fc2 4.50e-02  (first/last 0.00689)"
    assert format_norms({}) == "no gradients"
    assert layer_of("features.0.weight") == "features.0" and layer_of("weight") == "weight"


def convnet():
    profondo.manual_seed(0)
    return nn.Sequential({"conv1": nn.Conv2d(1, 3, 3), "relu": nn.ReLU(), "pool": nn.MaxPool2d(2),
                          "flat": nn.Flatten(), "fc": nn.Linear(3 * 3 * 3, 2)})


def test_weight_and_activation_histograms():
    model = convnet()
    w = weight_histograms(model, bins=10)
    assert list(w) == ["conv1", "fc"]
    for layer, params in (("conv1", model.conv1), ("fc", model.fc)):
        values = np.concatenate([p.numpy().ravel() for p in params.parameters()])
        assert sum(w[layer]["counts"]) == values.size == sum(p.numel() for p in params.parameters())
        assert len(w[layer]["edges"]) == 11
        assert w[layer]["edges"][0] == pytest.approx(values.min()) and w[layer]["edges"][-1] == pytest.approx(values.max())
    x = np.random.default_rng(0).standard_normal((4, 1, 8, 8)).astype(np.float32)
    model.train()
    a = activation_histograms(model, x, bins=5)
    assert model.training  # the mode it had
    assert list(a) == ["conv1", "relu", "pool", "flat", "fc"]
    assert sum(a["conv1"]["counts"]) == 4 * 3 * 6 * 6 and a["relu"]["edges"][0] == 0.0
    with pytest.raises(ValueError, match="bins expected a positive integer"):
        weight_histograms(model, bins=0)


def test_feature_maps_are_the_volumes_in_order():
    model = convnet()
    x = np.random.default_rng(0).standard_normal((2, 1, 8, 8)).astype(np.float32)
    maps = feature_maps(model, x)
    assert [(name, a.shape) for name, a in maps] == [("conv1", (2, 3, 6, 6)), ("relu", (2, 3, 6, 6)),
                                                     ("pool", (2, 3, 3, 3))]
    with profondo.no_grad():
        expected = model.conv1(profondo.tensor(x)).numpy()
    np.testing.assert_allclose(maps[0][1], expected, rtol=1e-6)
