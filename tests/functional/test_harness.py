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


def test_every_case_runs_on_every_device_at_both_orders():
    cases = [Case("a", F.relu, None, [(2,)]), Case("b", F.tanh, lambda x: x.tanh(), [(2,)], gradcheck=False),
             Case("c", F.exp, lambda x: x.exp(), [(2,)], double_backward="a reason")]
    gradcheck, parity, float32 = operator_tests(cases)
    ids = {test.__name__: [p.id for p in test.pytestmark[0].args[1]] for test in (gradcheck, parity, float32)}
    devices = harness.DEVICES
    assert ids == {"test_gradcheck": [f"{d}-{c}" for d in devices for c in "ac"] + [f"{d}-a-order2" for d in devices],
                   "test_parity": [f"{d}-{c}" for d in devices for c in "bc"] + [f"{d}-b-order2" for d in devices],
                   "test_float32": [f"{d}-{c}" for d in devices for c in "abc"]}


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


class FirstOrderOnly(WrongSquare):
    """x**2 with a right backward that only works on arrays (no differentiable_backward)."""

    def backward(self, gy):
        (x,) = self.saved
        return 2 * gy * x


class WrongSecondOrder(FirstOrderOnly):
    """The right first derivative 2x, recorded as a constant: its second derivative is 0, not 2."""

    differentiable_backward = True

    def backward(self, gy):
        return gy * (2 * profondo.autograd.unwrap(self.saved[0]))


WRONG_SECOND = Case("wrong_second", lambda x: WrongSecondOrder().apply(x), lambda x: x * x, [(3, 2)])


@pytest.mark.parametrize("device", harness.DEVICES)
def test_gradgradcheck_catches_a_wrong_second_derivative(device):
    check_gradcheck(WRONG_SECOND, device)  # first order is right
    with pytest.raises((GradcheckError, AssertionError)):
        harness.check_gradgradcheck(WRONG_SECOND, device)


@pytest.mark.parametrize("device", harness.DEVICES)
def test_second_order_parity_catches_a_wrong_second_derivative(device):
    pytest.importorskip("torch")
    check_parity(WRONG_SECOND, device)
    with pytest.raises(AssertionError, match="wrong_second on .*: second-order gradient 0"):
        harness.check_double_backward_parity(WRONG_SECOND, device)


def test_an_operator_without_a_differentiable_backward_fails_at_second_order_not_silently():
    case = Case("first_order_only", lambda x: FirstOrderOnly().apply(x), lambda x: x * x, [(3, 2)])
    check_gradcheck(case, "cpu")
    with pytest.raises(RuntimeError, match="FirstOrderOnly has no differentiable backward"):
        harness.check_gradgradcheck(case, "cpu")


def test_double_backward_is_true_or_a_reason():
    with pytest.raises(ValueError, match=r"Case 'tanh': double_backward must be True or the reason"):
        operator_tests([Case("tanh", F.tanh, None, [(2,)], double_backward=False)])
