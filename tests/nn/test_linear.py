import numpy as np
import pytest

import profondo
from profondo import nn


def test_linear_shapes_and_default_init_bounds():
    profondo.manual_seed(0)
    layer = nn.Linear(50, 40)
    assert layer.weight.shape == (40, 50) and layer.bias.shape == (40,)
    assert layer.weight.dtype == np.float32 and layer.bias.dtype == np.float32
    bound = 1 / np.sqrt(50)  # PyTorch's default: kaiming_uniform(a=sqrt(5)) and the fan-in bias bound
    for p in (layer.weight, layer.bias):
        assert np.abs(p.data).max() <= bound and np.abs(p.data).max() > 0.9 * bound
    assert nn.Linear(3, 2, bias=False).bias is None


def test_linear_init_per_layer_zeroes_the_bias():
    profondo.manual_seed(0)
    layer = nn.Linear(400, 300, init="he_normal")
    np.testing.assert_array_equal(layer.bias.data, 0)
    assert layer.weight.data.std() == pytest.approx(np.sqrt(2 / 400), rel=0.02)
    profondo.manual_seed(0)
    a = nn.Linear(4, 3, init="glorot_uniform").weight.data.copy()
    profondo.manual_seed(0)
    np.testing.assert_array_equal(nn.Linear(4, 3, init="xavier_uniform").weight.data, a)  # aliases


def test_linear_loads_torch_state_dict_and_matches_forward_and_backward():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    t = torch.nn.Linear(6, 4)
    layer = nn.Linear(6, 4)
    layer.load_state_dict({k: v.numpy() for k, v in t.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((5, 6)).astype(np.float32)
    xt = torch.from_numpy(x).requires_grad_()
    y_t = t(xt)
    xp = profondo.tensor(x, requires_grad=True)
    y = layer(xp)
    np.testing.assert_allclose(y.numpy(), y_t.detach().numpy(), rtol=1e-5, atol=1e-6)
    (y * y).sum().backward()
    (y_t * y_t).sum().backward()
    np.testing.assert_allclose(layer.weight.grad.numpy(), t.weight.grad.numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(layer.bias.grad.numpy(), t.bias.grad.numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(xp.grad.numpy(), xt.grad.numpy(), rtol=1e-4, atol=1e-5)
    assert repr(layer) == repr(t)


def test_linear_forward_error_names_the_sizes():
    with pytest.raises(ValueError, match=r"linear: input has 3 features .* expects 4"):
        nn.Linear(4, 2)(profondo.randn(2, 3))
