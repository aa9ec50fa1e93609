import pytest

from profondo import optim

from .optim_parity import trajectory


@pytest.mark.parametrize("kwargs", [
    {},
    {"lr": 0.01, "betas": (0.8, 0.99), "eps": 1e-6},
    {"lr": 0.01, "weight_decay": 0.1},
    {"lr": 0.01, "amsgrad": True},
])
def test_adam_trajectory_matches_torch(kwargs):
    trajectory(lambda ps: optim.Adam(ps, **kwargs), lambda torch, ps: torch.optim.Adam(ps, **kwargs), steps=10)


@pytest.mark.parametrize("kwargs", [{}, {"lr": 0.01, "weight_decay": 0.3}, {"lr": 0.01, "amsgrad": True}])
def test_adamw_trajectory_matches_torch(kwargs):
    trajectory(lambda ps: optim.AdamW(ps, **kwargs), lambda torch, ps: torch.optim.AdamW(ps, **kwargs), steps=10)


def test_adam_state_names_follow_torch():
    opt, params = trajectory(lambda ps: optim.Adam(ps, amsgrad=True),
                             lambda torch, ps: torch.optim.Adam(ps, amsgrad=True), steps=2)
    assert set(opt.state[params[0]]) == {"step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"}
    assert opt.state[params[0]]["step"] == 2


def test_adam_validates_betas():
    from profondo import nn

    with pytest.raises(ValueError, match=r"Adam: betas must be in \[0, 1\)"):
        optim.Adam([nn.Parameter([1.0])], betas=(0.9, 1.0))
