"""End to end: a small MLP learns two interleaved spirals with SGD and momentum."""

import math

import numpy as np

import profondo
from profondo import functional as F
from profondo import nn, optim


def _spirals(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Two spirals of 1.5 turns, one rotated by pi from the other: no linear boundary separates them."""
    t = np.sqrt(rng.random(n)) * 3 * np.pi
    label = rng.integers(0, 2, n)
    angle = t + np.pi * label
    radius = t / (3 * np.pi)
    x = np.stack([radius * np.cos(angle), radius * np.sin(angle)], 1) + rng.normal(0, 0.02, (n, 2))
    return x.astype(np.float32), label


def test_mlp_learns_two_spirals_with_sgd_momentum():
    x, y = _spirals(200, np.random.default_rng(0))
    profondo.manual_seed(0)
    net = nn.Sequential(nn.Linear(2, 32), nn.Tanh(), nn.Linear(32, 32), nn.Tanh(), nn.Linear(32, 2))
    opt = optim.SGD(net.parameters(), lr=0.3, momentum=0.9)
    inputs, targets = profondo.tensor(x), profondo.tensor(y)
    first = None
    for _ in range(300):
        loss = F.cross_entropy(net(inputs), targets)
        first = loss.item() if first is None else first
        opt.zero_grad()
        loss.backward()
        opt.step()
    chance = math.log(2)
    assert abs(first - chance) < 0.15  # starts near chance
    final = F.cross_entropy(net(inputs), targets).item()
    assert final < 0.1 * chance
    assert (net(inputs).numpy().argmax(1) == y).mean() >= 0.97
