"""profondo.backend.conv: the convolution algorithm switch and its cache of choices."""

import pytest

from profondo.backend import conv as settings
from profondo.backend.convolution import ALGORITHMS, ConvSettings


def test_defaults_are_auto_with_the_fixed_rule():
    fresh = ConvSettings()
    assert (fresh.forward, fresh.weight_grad, fresh.input_grad, fresh.benchmark) == ("auto", "auto", "auto", False)
    assert fresh.chosen() == {} and fresh.measured == {}
    assert repr(fresh) == ("profondo.backend.conv(forward='auto', weight_grad='auto', input_grad='auto', "
                           "benchmark=False, 0 shapes chosen)")


def test_every_listed_algorithm_can_be_set_and_recorded():
    fresh = ConvSettings()
    for direction, names in ALGORITHMS.items():
        for name in names:
            setattr(fresh, direction, name)
            assert getattr(fresh, direction) == name
    fresh.record(("shape",), "forward", "im2col")
    fresh.measured[("forward", ("shape",))] = "im2col"
    assert fresh.chosen() == {("shape",): {"forward": "im2col"}}
    fresh.chosen()[("shape",)]["forward"] = "changed"  # a copy: the record stays
    assert fresh.chosen() == {("shape",): {"forward": "im2col"}}
    fresh.clear()
    assert fresh.chosen() == {} and fresh.measured == {}


def test_the_package_exposes_one_switch():
    import profondo

    assert profondo.backend.conv is settings


@pytest.mark.parametrize("name, value, error, match", [
    ("forward", "winograd", ValueError, r"profondo.backend.conv.forward: expected one of auto, im2col, "
                                        r"im2col-blocked, received 'winograd'"),
    ("input_grad", "im2col", ValueError, "expected one of auto, col2im, col2im-blocked, correlation-blocked"),
    ("benchmark", 1, TypeError, "expected True or False, received 1"),
    ("algorithm", "auto", AttributeError, "has no setting 'algorithm': expected one of benchmark, forward"),
    ("measured", {}, AttributeError, "empty it with profondo.backend.conv.clear"),
])
def test_settings_reject_what_they_do_not_know(name, value, error, match):
    with pytest.raises(error, match=match):
        setattr(settings, name, value)
