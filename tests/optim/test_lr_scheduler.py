import json

import numpy as np
import pytest

from profondo import nn, optim
from profondo.optim import lr_scheduler as S
from profondo.tensor import Tensor


def _pair(torch, lrs=(0.1, 0.02)):
    ours = optim.SGD([{"params": [nn.Parameter(np.zeros(2, np.float32))], "lr": lr} for lr in lrs], lr=1.0)
    theirs = torch.optim.SGD([{"params": [torch.nn.Parameter(torch.zeros(2))], "lr": lr} for lr in lrs], lr=1.0)
    return ours, theirs


def _compare(ours, theirs, steps, metrics=None):
    values = []
    for i in range(steps):
        assert ours.get_last_lr() == pytest.approx(theirs.get_last_lr(), rel=1e-9, abs=1e-15), f"step {i}"
        assert [g["lr"] for g in ours.optimizer.param_groups] == pytest.approx(
            [g["lr"] for g in theirs.optimizer.param_groups], rel=1e-9, abs=1e-15)
        values.append(ours.get_last_lr()[0])
        if metrics is None:
            ours.optimizer.step(), theirs.optimizer.step()
            ours.step(), theirs.step()
        else:
            ours.step(metrics[i]), theirs.step(metrics[i])
    return values


@pytest.mark.parametrize("name,kwargs,steps", [
    ("StepLR", {"step_size": 3, "gamma": 0.5}, 12),
    ("ExponentialLR", {"gamma": 0.9}, 10),
    ("CosineAnnealingLR", {"T_max": 8, "eta_min": 0.001}, 20),
])
def test_schedules_match_torch(name, kwargs, steps):
    torch = pytest.importorskip("torch")
    ours, theirs = _pair(torch)
    values = _compare(getattr(S, name)(ours, **kwargs), getattr(torch.optim.lr_scheduler, name)(theirs, **kwargs),
                      steps)
    assert len(set(values)) > 3  # the schedule moved


@pytest.mark.parametrize("kwargs", [
    {},
    {"mode": "max", "factor": 0.5, "patience": 1, "cooldown": 2, "min_lr": 0.004},
    {"threshold_mode": "abs", "threshold": 0.1, "patience": 0, "min_lr": [0.0, 0.01]},
])
def test_reduce_on_plateau_matches_torch(kwargs):
    torch = pytest.importorskip("torch")
    ours, theirs = _pair(torch)
    metrics = [1.0, 0.9, 0.95, 0.95, 0.95, 0.85, 0.86, 0.86, 0.86, 0.86, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9,
               0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9]
    if kwargs.get("mode") == "max":
        metrics = [-m for m in metrics]
    values = _compare(S.ReduceLROnPlateau(ours, **kwargs), torch.optim.lr_scheduler.ReduceLROnPlateau(theirs, **kwargs),
                      len(metrics), metrics)
    assert values[-1] < values[0]


@pytest.mark.parametrize("after", [None, "StepLR", "CosineAnnealingLR"])
def test_linear_warmup_matches_torch_linear_then_sequential(after):
    torch = pytest.importorskip("torch")
    ours, theirs = _pair(torch)
    w = 4
    tl = torch.optim.lr_scheduler
    if after is None:
        ref = tl.LinearLR(theirs, start_factor=1 / w, end_factor=1.0, total_iters=w - 1)
        sched = S.LinearWarmup(ours, w)
    else:
        kwargs = {"step_size": 3, "gamma": 0.5} if after == "StepLR" else {"T_max": 6}
        ours_after, theirs_after = getattr(S, after)(ours, **kwargs), getattr(tl, after)(theirs, **kwargs)
        ref = tl.SequentialLR(theirs, [tl.LinearLR(theirs, start_factor=1 / w, end_factor=1.0, total_iters=w - 1),
                                       theirs_after], milestones=[w])
        sched = S.LinearWarmup(ours, w, after=ours_after)
    values = _compare(sched, ref, 14)
    assert values[:w] == pytest.approx([0.1 * (t + 1) / w for t in range(w)])


def test_linear_warmup_hands_over_to_plateau():
    opt = optim.SGD([nn.Parameter(np.zeros(1, np.float32))], lr=1.0)
    sched = S.LinearWarmup(opt, 2, after=S.ReduceLROnPlateau(opt, patience=0))
    lrs = [sched.get_last_lr()[0]]
    for metric in [5, 5, 1.0, 2.0, 2.0]:
        sched.step(metric)
        lrs.append(sched.get_last_lr()[0])
    assert lrs == pytest.approx([0.5, 1.0, 1.0, 1.0, 0.1, 0.01])


@pytest.mark.parametrize("make", [
    lambda opt: S.StepLR(opt, 2, gamma=0.3),
    lambda opt: S.CosineAnnealingLR(opt, 5),
    lambda opt: S.LinearWarmup(opt, 3, after=S.ExponentialLR(opt, 0.5)),
    lambda opt: S.ReduceLROnPlateau(opt, patience=1),
])
def test_scheduler_state_dict_resumes(make):
    def fresh():
        return optim.SGD([nn.Parameter(np.zeros(1, np.float32))], lr=0.1)

    opt = fresh()
    sched = make(opt)
    plateau = isinstance(sched, S.ReduceLROnPlateau)
    for i in range(4):
        sched.step(1.0 + (i == 0)) if plateau else sched.step()
    state = json.loads(json.dumps(sched.state_dict()))
    opt2 = fresh()
    opt2.load_state_dict(json.loads(json.dumps(opt.state_dict())))
    sched2 = make(opt2)
    sched2.load_state_dict(state)
    assert sched2.get_last_lr() == sched.get_last_lr() and opt2.param_groups[0]["lr"] == opt.param_groups[0]["lr"]
    for _ in range(5):
        (sched.step(1.0), sched2.step(1.0)) if plateau else (sched.step(), sched2.step())
        assert sched2.get_last_lr() == sched.get_last_lr()


def test_lr_mult_follows_the_schedule():
    p, q = nn.Parameter(np.zeros(1, np.float32)), nn.Parameter(np.zeros(1, np.float32))
    opt = optim.SGD([{"params": [p], "lr_mult": 0.1}, {"params": [q]}], lr=1.0)
    S.StepLR(opt, 1, gamma=0.5).step()
    for t in (p, q):
        t.grad = Tensor(np.ones(1, np.float32))
    opt.step()
    np.testing.assert_allclose([p.data[0], q.data[0]], [-0.05, -0.5])


def test_scheduler_errors():
    opt = optim.SGD([nn.Parameter(np.zeros(1, np.float32))], lr=0.1)
    with pytest.raises(TypeError, match="StepLR: expected an Optimizer, received list"):
        S.StepLR([], 2)
    with pytest.raises(ValueError, match="factor must be in"):
        S.ReduceLROnPlateau(opt, factor=2.0)
    with pytest.raises(ValueError, match="needs the metric"):
        S.ReduceLROnPlateau(opt).step(None)
    other = optim.SGD([nn.Parameter(np.zeros(1, np.float32))], lr=0.1)
    with pytest.raises(ValueError, match="`after` must schedule the same optimizer"):
        S.LinearWarmup(opt, 2, after=S.StepLR(other, 2))
