import numpy as np
import pytest

from profondo import nn, optim
from profondo.tensor import Tensor

from .optim_parity import trajectory


@pytest.mark.parametrize("kwargs", [
    {"lr": 0.1},
    {"lr": 0.05, "momentum": 0.9},
    {"lr": 0.05, "momentum": 0.9, "dampening": 0.3},
    {"lr": 0.05, "momentum": 0.8, "nesterov": True},
    {"lr": 0.1, "weight_decay": 0.01},
    {"lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 0.05},
])
def test_sgd_trajectory_matches_torch(kwargs):
    trajectory(lambda ps: optim.SGD(ps, **kwargs), lambda torch, ps: torch.optim.SGD(ps, **kwargs))


@pytest.mark.parametrize("make", [
    lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, weight_decay=0.1, nesterov=True),
    lambda ps: optim.SGD(ps, lr=0.1),
    lambda ps: optim.Adam(ps, weight_decay=0.1),
    lambda ps: optim.RMSprop(ps, momentum=0.9, centered=True, weight_decay=0.1),
    lambda ps: optim.Adagrad(ps, weight_decay=0.1),
])
def test_step_never_writes_into_shared_gradients(make):
    def run(shared: bool):
        a, b = nn.Parameter(np.ones(3, np.float32)), nn.Parameter(np.full(3, 2.0, np.float32))
        grad = np.array([1.0, -2.0, 3.0], np.float32)
        a.grad, b.grad = Tensor(grad), Tensor(grad if shared else grad.copy())  # autograd may share arrays
        opt = make([a, b])
        for _ in range(3):
            opt.step()
        np.testing.assert_array_equal(grad, [1.0, -2.0, 3.0])
        return a.data, b.data

    for ours, separate in zip(run(True), run(False)):
        np.testing.assert_array_equal(ours, separate)


def test_sgd_skips_parameters_without_gradient_and_validates():
    a, b = nn.Parameter(np.ones(2, np.float32)), nn.Parameter(np.ones(2, np.float32))
    a.grad = Tensor(np.ones(2, np.float32))
    opt = optim.SGD([a, b], lr=0.5, momentum=0.9)
    opt.step()
    np.testing.assert_array_equal(a.data, 0.5)
    np.testing.assert_array_equal(b.data, 1.0)
    assert b not in opt.state
    with pytest.raises(ValueError, match="nesterov=True needs momentum > 0 and dampening = 0"):
        optim.SGD([a], lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="SGD: lr must be >= 0, received -1"):
        optim.SGD([a], lr=-1)
