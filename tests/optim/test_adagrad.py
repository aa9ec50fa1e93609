import pytest

from profondo import optim

from .optim_parity import trajectory


@pytest.mark.parametrize("kwargs", [
    {},
    {"lr": 0.1, "lr_decay": 0.05},
    {"lr": 0.1, "weight_decay": 0.1, "initial_accumulator_value": 0.5, "eps": 1e-6},
])
def test_adagrad_trajectory_matches_torch(kwargs):
    trajectory(lambda ps: optim.Adagrad(ps, **kwargs), lambda torch, ps: torch.optim.Adagrad(ps, **kwargs),
               steps=10)
