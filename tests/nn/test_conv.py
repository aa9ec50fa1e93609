import numpy as np
import pytest

import profondo
from profondo import nn


@pytest.mark.parametrize("kwargs", [
    {"in_channels": 3, "out_channels": 4, "kernel_size": 3},
    {"in_channels": 4, "out_channels": 6, "kernel_size": (3, 2), "stride": 2, "padding": (1, 0), "groups": 2},
    {"in_channels": 4, "out_channels": 4, "kernel_size": 3, "padding": 2, "dilation": 2, "groups": 4, "bias": False},
])
def test_conv2d_loads_torch_state_dict_and_matches(kwargs):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    t = torch.nn.Conv2d(**kwargs)
    conv = nn.Conv2d(**kwargs)
    assert list(conv.state_dict()) == list(t.state_dict())
    conv.load_state_dict({k: v.numpy() for k, v in t.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((2, kwargs["in_channels"], 9, 8)).astype(np.float32)
    y_t = t(torch.from_numpy(x))
    y = conv(profondo.tensor(x))
    np.testing.assert_allclose(y.numpy(), y_t.detach().numpy(), rtol=1e-4, atol=1e-5)
    g = np.random.default_rng(1).standard_normal(y.shape).astype(np.float32)
    y.backward(g)
    y_t.backward(torch.from_numpy(g))
    np.testing.assert_allclose(conv.weight.grad.numpy(), t.weight.grad.numpy(), rtol=1e-4, atol=1e-4)
    assert conv.output_shape(x.shape[1:]) == tuple(y_t.shape[1:])
    assert repr(conv) == repr(t)


def test_conv2d_default_init_matches_pytorch_bounds_and_groups_fan_in():
    profondo.manual_seed(0)
    conv = nn.Conv2d(8, 16, 3, groups=4)
    assert conv.weight.shape == (16, 2, 3, 3)
    bound = 1 / np.sqrt(2 * 9)  # fan_in counts the channels of one group
    assert np.abs(conv.weight.data).max() <= bound and np.abs(conv.bias.data).max() <= bound
    assert np.abs(conv.weight.data).max() > 0.9 * bound


def test_conv2d_lecture_arithmetic():
    # 32x32x3 input, 10 filters 5x5 stride 1 pad 2 keeps 32x32; stride 2 without padding does not tile
    assert nn.Conv2d(3, 10, 5, padding=2).output_shape((3, 32, 32)) == (10, 32, 32)
    assert nn.Conv2d(3, 10, 3, stride=2).output_shape((3, 7, 7)) == (10, 3, 3)
    with pytest.raises(ValueError, match=r"Conv2d: H_out = \(2 - 3 \+ 2\*0\)/1 \+ 1 = 0"):
        nn.Conv2d(3, 10, 3).output_shape((3, 2, 5))
