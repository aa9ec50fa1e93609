"""The operator harness itself: it runs on every available device and its checks catch wrong operators."""

import numpy as np
import pytest

import profondo
import profondo.functional as F
from profondo import Function, GradcheckError
from tests.functional import harness
from tests.functional.harness import Case, check_float32, check_gradcheck, check_parity, operator_tests


class WrongSquare(Function):
    """x**2 with the gradient of x**2 / 2: forward right, backward wrong."""

    def forward(self, x):
        self.save_for_backward(x)
        return x * x

    def backward(self, gy):
        (x,) = self.saved
        return gy * x


class PromotingSquare(WrongSquare):
    """Right gradient, but computed in float64 whatever the input's dtype."""

    def forward(self, x):
        return super().forward(x).astype(np.float64)

    def backward(self, gy):
        (x,) = self.saved
        return (2.0 * gy * x).astype(np.float64)


WRONG = Case("wrong_square", lambda x: WrongSquare().apply(x), lambda x: x * x, [(3, 2)])
PROMOTING = Case("promoting_square", lambda x: PromotingSquare().apply(x), lambda x: x * x, [(3, 2)])


def test_devices_are_cpu_and_cuda_when_available():
    assert harness.DEVICES == (["cpu", "cuda"] if profondo.cuda_available() else ["cpu"])


def test_every_case_runs_on_every_device():
    cases = [Case("a", F.relu, None, [(2,)]), Case("b", F.tanh, lambda x: x.tanh(), [(2,)], gradcheck=False)]
    gradcheck, parity, float32 = operator_tests(cases)
    ids = {test.__name__: [p.id for p in test.pytestmark[0].args[1]] for test in (gradcheck, parity, float32)}
    devices = harness.DEVICES
    assert ids == {"test_gradcheck": [f"{d}-a" for d in devices], "test_parity": [f"{d}-b" for d in devices],
                   "test_float32": [f"{d}-{c}" for d in devices for c in "ab"]}


@pytest.mark.parametrize("device", harness.DEVICES)
def test_gradcheck_catches_a_wrong_backward(device):
    with pytest.raises(GradcheckError, match="gradcheck failed for input 0"):
        check_gradcheck(WRONG, device)


@pytest.mark.parametrize("device", harness.DEVICES)
def test_parity_catches_a_wrong_backward(device):
    pytest.importorskip("torch")
    with pytest.raises(AssertionError, match="wrong_square on .*: gradient of input 0"):
        check_parity(WRONG, device)


@pytest.mark.parametrize("device", harness.DEVICES)
def test_float32_catches_a_silent_float64(device):
    with pytest.raises(AssertionError, match="promoting_square on .*: float32 inputs gave output 0 of dtype float64"):
        check_float32(PROMOTING, device)


def test_only_declared_inputs_are_differentiable():
    case = Case("scaled", lambda x, s: x * s, None, [(2, 3), (2, 3)], differentiable=(0,))
    _, grads = harness.run_on_device(case, case.arrays(), "cpu")
    assert grads[0] is not None and grads[1] is None


def test_case_names_must_be_unique():
    with pytest.raises(ValueError, match=r"case names must be unique, received duplicates \['relu'\]"):
        operator_tests([Case("relu", F.relu, None, [(2,)]), Case("relu", F.relu, None, [(3,)])])


def test_shapes_must_be_tuples():
    with pytest.raises(TypeError, match=r"Case 'flat': inputs must be .* received \(2, 3\)"):
        Case("flat", F.relu, None, (2, 3)).arrays()


def test_double_backward_waits_for_second_order_gradients():
    if hasattr(profondo, "gradgradcheck"):
        pytest.skip("profondo has second-order gradients: cases may set double_backward")
    with pytest.raises(NotImplementedError, match=r"Case\(double_backward=True\) needs profondo.gradgradcheck"):
        operator_tests([Case("tanh", F.tanh, None, [(2,)], double_backward=True)])
