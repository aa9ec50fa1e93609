import io
import json

import numpy as np
import pytest

from profondo import nn, optim
from profondo.tensor import Tensor

OPTIMIZERS = [
    lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True),
    lambda ps: optim.Adam(ps, lr=0.01, amsgrad=True),
    lambda ps: optim.AdamW(ps, lr=0.01),
    lambda ps: optim.RMSprop(ps, lr=0.01, momentum=0.9, centered=True),
    lambda ps: optim.Adagrad(ps, lr=0.1, lr_decay=0.01),
]


def _params(seed=0):
    rng = np.random.default_rng(seed)
    return [nn.Parameter(rng.standard_normal(s).astype(np.float32)) for s in ((3, 2), (2,))]


def _set_grads(params, step):
    for i, p in enumerate(params):
        p.grad = Tensor((np.cos(p.data * (step + 1)) + i).astype(np.float32))


def _through_files(state):
    """What a checkpoint does: arrays to npz, everything else to JSON."""
    arrays = {f"{i}/{k}": v for i, st in state["state"].items() for k, v in st.items() if isinstance(v, np.ndarray)}
    scalars = {str(i): {k: v for k, v in st.items() if not isinstance(v, np.ndarray)} for i, st in state["state"].items()}
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    buffer.seek(0)
    loaded = np.load(buffer)
    text = json.dumps({"param_groups": state["param_groups"], "scalars": scalars})
    meta = json.loads(text)
    restored = {key: dict(values) for key, values in meta["scalars"].items()}
    for name in loaded.files:
        i, k = name.split("/")
        restored[i][k] = loaded[name]
    return {"state": restored, "param_groups": meta["param_groups"]}


@pytest.mark.parametrize("make", OPTIMIZERS)
def test_state_dict_round_trip_resumes_identically(make):
    params = _params()
    opt = make(params)
    for step in range(3):
        _set_grads(params, step)
        opt.step()
    state = _through_files(opt.state_dict())
    clone = [nn.Parameter(p.data.copy()) for p in params]
    resumed = make(clone)
    resumed.load_state_dict(state)
    assert resumed.param_groups[0].keys() == opt.param_groups[0].keys()
    for step in range(3, 6):
        _set_grads(params, step), _set_grads(clone, step)
        opt.step(), resumed.step()
    for p, q in zip(params, clone):
        np.testing.assert_array_equal(p.data, q.data)


def test_state_dict_is_a_copy_with_indices_and_json_groups():
    params = _params()
    opt = optim.Adam([{"params": params[:1]}, {"params": params[1:], "lr": 0.5}], betas=(0.8, 0.9))
    _set_grads(params, 0)
    opt.step()
    state = opt.state_dict()
    assert state["param_groups"][0]["params"] == [0] and state["param_groups"][1]["params"] == [1]
    assert state["param_groups"][0]["betas"] == [0.8, 0.9]
    json.dumps(state["param_groups"])
    assert set(state["state"]) == {0, 1} and state["state"][1]["step"] == 1
    state["state"][0]["exp_avg"][...] = 99
    assert not np.any(opt.state[params[0]]["exp_avg"] == 99)
    opt.load_state_dict(opt.state_dict())
    assert opt.param_groups[0]["betas"] == (0.8, 0.9)  # tuples restored


def test_load_state_dict_checks_counts_and_shapes():
    params = _params()
    opt = optim.SGD(params, lr=0.1, momentum=0.9)
    _set_grads(params, 0)
    opt.step()
    state = opt.state_dict()
    with pytest.raises(ValueError, match="group 0 has 2 parameters in the file, 1 in the optimizer"):
        optim.SGD(params[:1], lr=0.1).load_state_dict(state)
    with pytest.raises(ValueError, match="the file has 1 parameter groups, the optimizer has 2"):
        optim.SGD([{"params": params[:1]}, {"params": params[1:]}], lr=0.1).load_state_dict(state)
    swapped = optim.SGD([params[1], params[0]], lr=0.1, momentum=0.9)
    with pytest.raises(ValueError, match=r"parameter 0 state 'momentum_buffer': file has \(3, 2\), parameter has \(2,\)"):
        swapped.load_state_dict(state)


def test_lr_mult_and_frozen_groups():
    torch = pytest.importorskip("torch")
    backbone, head, frozen = _params(0), _params(1), _params(2)
    frozen_before = [p.data.copy() for p in frozen]
    opt = optim.SGD([{"params": backbone, "lr_mult": 0.1}, {"params": head},
                     {"params": frozen, "frozen": True}], lr=0.2, momentum=0.9, weight_decay=0.01)
    tb = [torch.nn.Parameter(torch.from_numpy(p.data.copy())) for p in backbone]
    th = [torch.nn.Parameter(torch.from_numpy(p.data.copy())) for p in head]
    ref = torch.optim.SGD([{"params": tb, "lr": 0.02}, {"params": th}], lr=0.2, momentum=0.9, weight_decay=0.01)
    for step in range(4):
        for ours, theirs in ((backbone, tb), (head, th)):
            _set_grads(ours, step)
            for p, q in zip(ours, theirs):
                q.grad = torch.from_numpy(p.grad.data.copy())
        _set_grads(frozen, step)
        opt.step(), ref.step()
    for p, q in zip(backbone + head, tb + th):
        np.testing.assert_allclose(p.data, q.detach().numpy(), rtol=1e-5, atol=1e-7)
    for p, before in zip(frozen, frozen_before):
        np.testing.assert_array_equal(p.data, before)
        assert p not in opt.state
    # unfreezing later takes effect at the next step
    opt.param_groups[2]["frozen"] = False
    opt.step()
    assert not np.array_equal(frozen[0].data, frozen_before[0])


def test_add_param_group_zero_grad_closure_and_bad_input():
    a, b = _params()
    opt = optim.SGD([a], lr=0.1)
    opt.add_param_group({"params": b, "lr": 0.01})
    assert opt.param_groups[1]["lr"] == 0.01 and opt.param_groups[1]["lr_mult"] == 1.0
    with pytest.raises(ValueError, match="appears in more than one group"):
        opt.add_param_group({"params": [a]})
    _set_grads([a, b], 0)
    opt.zero_grad()
    assert a.grad is None and b.grad is None
    calls = []
    assert opt.step(lambda: calls.append(1) or 3.5) == 3.5 and calls == [1]
    with pytest.raises(TypeError, match=r"params must be Parameters \(e.g. model.parameters\(\)\), received Linear"):
        optim.SGD(nn.Sequential(nn.Linear(2, 2)), lr=0.1)
    with pytest.raises(TypeError, match="received a single Tensor: wrap it in a list"):
        optim.SGD(a, lr=0.1)
    with pytest.raises(ValueError, match="got an empty parameter list"):
        optim.Adam([])
    with pytest.raises(ValueError, match="cannot optimize a non-leaf tensor"):
        optim.SGD([a * 2], lr=0.1)
    assert "Parameter Group 1" in repr(opt) and "lr: 0.01" in repr(opt)


def test_optimizer_trains_a_module_and_state_survives_module_to():
    net = nn.Linear(3, 1)
    opt = optim.Adam(net.parameters(), lr=0.1)
    x = Tensor(np.random.default_rng(0).standard_normal((16, 3)).astype(np.float32))
    target = Tensor(x.data @ np.array([[1.0], [-2.0], [0.5]], np.float32) + 0.3)
    for _ in range(150):
        loss = ((net(x) - target) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 1e-3
    net.to("cpu")
    assert list(net.parameters())[0] in opt.state
