import pytest

from profondo import optim

from .optim_parity import trajectory


@pytest.mark.parametrize("kwargs", [
    {},
    {"lr": 0.01, "alpha": 0.9, "eps": 1e-6},
    {"lr": 0.01, "momentum": 0.9},
    {"lr": 0.01, "centered": True},
    {"lr": 0.01, "centered": True, "momentum": 0.5, "weight_decay": 0.1},
])
def test_rmsprop_trajectory_matches_torch(kwargs):
    trajectory(lambda ps: optim.RMSprop(ps, **kwargs), lambda torch, ps: torch.optim.RMSprop(ps, **kwargs),
               steps=10)
