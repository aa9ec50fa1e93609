import math

import numpy as np
import pytest

import profondo
from profondo import nn
from profondo.nn import init


def _big(*shape, dtype=np.float32):
    return nn.Parameter(np.zeros(shape, dtype))


def test_fans_follow_pytorch():
    assert init.calculate_fan_in_and_fan_out(_big(6, 3, 5, 5)) == (75, 150)
    assert init.calculate_fan_in_and_fan_out(_big(10, 20)) == (20, 10)
    with pytest.raises(ValueError, match=r"at least 2 dimensions .* received shape \(5,\)"):
        init.calculate_fan_in_and_fan_out(_big(5))


def test_gains():
    assert init.calculate_gain("relu") == pytest.approx(math.sqrt(2))
    assert init.calculate_gain("tanh") == pytest.approx(5 / 3)
    assert init.calculate_gain("leaky_relu", 0.2) == pytest.approx(math.sqrt(2 / 1.04))
    with pytest.raises(ValueError, match="unknown nonlinearity 'swish'"):
        init.calculate_gain("swish")


def test_he_normal_std_and_mean():
    profondo.manual_seed(0)
    w = init.kaiming_normal_(_big(256, 64, 3, 3), nonlinearity="relu")
    fan_in = 64 * 9
    assert w.data.dtype == np.float32
    assert w.data.std() == pytest.approx(math.sqrt(2 / fan_in), rel=0.01)
    assert abs(w.data.mean()) < 0.02 * math.sqrt(2 / fan_in)
    w = init.kaiming_normal_(_big(512, 300), mode="fan_out", nonlinearity="relu")
    assert w.data.std() == pytest.approx(math.sqrt(2 / 512), rel=0.01)


def test_he_and_xavier_uniform_bounds_and_spread():
    profondo.manual_seed(1)
    w = init.kaiming_uniform_(_big(300, 200), nonlinearity="relu")
    bound = math.sqrt(6 / 200)
    assert np.abs(w.data).max() <= bound and np.abs(w.data).max() > 0.99 * bound
    assert w.data.std() == pytest.approx(bound / math.sqrt(3), rel=0.01)
    w = init.xavier_uniform_(_big(300, 200), gain=2.0)
    bound = 2.0 * math.sqrt(6 / 500)
    assert np.abs(w.data).max() <= bound and np.abs(w.data).max() > 0.99 * bound
    w = init.xavier_normal_(_big(300, 200))
    assert w.data.std() == pytest.approx(math.sqrt(2 / 500), rel=0.01)


def test_simple_fillers_keep_dtype_and_write_in_place():
    profondo.manual_seed(2)
    t = _big(1000, 10, dtype=np.float64)
    array = t.data
    init.uniform_(t, -2, 3)
    assert t.data is array and t.dtype == np.float64
    assert array.min() >= -2 and array.max() < 3 and array.mean() == pytest.approx(0.5, abs=0.05)
    init.normal_(t, 1.0, 0.5)
    assert array.mean() == pytest.approx(1.0, abs=0.02) and array.std() == pytest.approx(0.5, rel=0.02)
    init.constant_(t, 0.25)
    np.testing.assert_array_equal(array, 0.25)
    init.zeros_(t), np.testing.assert_array_equal(array, 0)
    init.ones_(t), np.testing.assert_array_equal(array, 1)


def test_draws_are_repeatable_under_manual_seed():
    profondo.manual_seed(5)
    a = nn.Conv2d(3, 4, 3, init="he_uniform").weight.data.copy()
    profondo.manual_seed(5)
    np.testing.assert_array_equal(nn.Conv2d(3, 4, 3, init="kaiming_uniform").weight.data, a)


@pytest.mark.parametrize("scheme,std", [
    ("xavier_normal", math.sqrt(2 / (200 + 300))), ("glorot_normal", math.sqrt(2 / (200 + 300))),
    ("he_normal", math.sqrt(2 / 200)), ("kaiming_normal", math.sqrt(2 / 200)),
    ("xavier_uniform", math.sqrt(2 / (200 + 300))), ("he_uniform", math.sqrt(2 / 200)),
])
def test_layer_schemes(scheme, std):
    profondo.manual_seed(3)
    layer = nn.Linear(200, 300, init=scheme)
    assert layer.weight.data.std() == pytest.approx(std, rel=0.02)
    np.testing.assert_array_equal(layer.bias.data, 0)


def test_fillers_reject_non_tensors():
    with pytest.raises(TypeError, match="init: expected a Tensor, received ndarray"):
        init.normal_(np.zeros(3))
