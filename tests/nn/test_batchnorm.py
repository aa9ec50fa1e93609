import numpy as np
import pytest

import profondo
from profondo import nn


def _torch_state(t):
    return {k: v.numpy() for k, v in t.state_dict().items()}


@pytest.mark.parametrize("cls,shape,kwargs", [
    ("BatchNorm2d", (4, 3, 5, 5), {}),
    ("BatchNorm2d", (4, 3, 5, 5), {"momentum": None, "eps": 1e-3}),
    ("BatchNorm1d", (8, 3), {"momentum": 0.3}),
    ("BatchNorm1d", (4, 3, 6), {"affine": False}),
])
def test_batchnorm_matches_torch_in_train_then_eval(cls, shape, kwargs):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    t = getattr(torch.nn, cls)(3, **kwargs)
    if t.affine:
        with torch.no_grad():
            t.weight.uniform_(0.5, 1.5), t.bias.uniform_(-0.5, 0.5)
    bn = getattr(nn, cls)(3, **kwargs)
    assert list(bn.state_dict()) == list(t.state_dict())
    bn.load_state_dict(_torch_state(t))
    rng = np.random.default_rng(0)
    for _ in range(3):  # running statistics updated over several batches
        x = (rng.standard_normal(shape) * 2 + 1).astype(np.float32)
        y_t = t(torch.from_numpy(x))
        np.testing.assert_allclose(bn(profondo.tensor(x)).numpy(), y_t.detach().numpy(), rtol=1e-4, atol=1e-5)
    state, expected = bn.state_dict(), _torch_state(t)
    for k in expected:
        np.testing.assert_allclose(state[k], expected[k], rtol=1e-5, atol=1e-6, err_msg=k)
    assert int(state["num_batches_tracked"]) == 3
    t.eval(), bn.eval()
    x = rng.standard_normal(shape).astype(np.float32)
    np.testing.assert_allclose(bn(profondo.tensor(x)).numpy(), t(torch.from_numpy(x)).detach().numpy(),
                               rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(bn.state_dict()["running_mean"], state["running_mean"])  # eval leaves them


def test_eval_keeps_statistics_of_a_frozen_layer_and_gradients_still_flow():
    bn = nn.BatchNorm2d(2)
    bn.requires_grad_(False)
    bn.eval()
    before = {k: v.clone() for k, v in bn.state_dict().items()}
    x = profondo.randn(4, 2, 3, 3, requires_grad=True)
    bn(x).sum().backward()
    for k, v in bn.state_dict().items():
        np.testing.assert_array_equal(v, before[k])
    assert bn.weight.grad is None and x.grad is not None


def test_without_running_stats_uses_batch_statistics_in_eval():
    bn = nn.BatchNorm1d(2, track_running_stats=False).eval()
    assert bn.running_mean is None and list(bn.state_dict()) == ["weight", "bias"]
    x = profondo.tensor([[1.0, 10.0], [3.0, 30.0]])
    np.testing.assert_allclose(bn(x).numpy(), [[-1, -1], [1, 1]], atol=1e-4)


def test_reset_running_stats():
    bn = nn.BatchNorm1d(3)
    bn(profondo.randn(5, 3) + 4)
    bn.reset_running_stats()
    state = bn.state_dict()
    np.testing.assert_array_equal(state["running_mean"], 0)
    np.testing.assert_array_equal(state["running_var"], 1)
    assert state["num_batches_tracked"] == 0


def test_frozen_statistics_hold_in_train_mode():
    rng = np.random.default_rng(3)
    bn = nn.BatchNorm2d(3)
    bn.running_mean.data[...] = [0.5, -1.0, 2.0]
    bn.running_var.data[...] = [2.0, 0.5, 1.5]
    x = profondo.tensor(rng.standard_normal((4, 3, 5, 5)).astype(np.float32))
    bn.eval()
    expected = bn(x).numpy()
    bn.train()
    bn.frozen_stats = True
    np.testing.assert_array_equal(bn(x).numpy(), expected)
    np.testing.assert_array_equal(bn.running_mean.numpy(), [0.5, -1.0, 2.0])
    assert int(bn.num_batches_tracked.item()) == 0
    bn.frozen_stats = False
    assert not np.allclose(bn(x).numpy(), expected)  # batch statistics again
