"""gradcheck itself: it passes correct operators and catches wrong backward passes."""

import re

import numpy as np
import pytest

import profondo
from profondo import Function, GradcheckError, gradcheck


class Cube(Function):
    def forward(self, x):
        self.save_for_backward(x)
        return x**3

    def backward(self, gy):
        (x,) = self.saved
        return gy * 3 * x**2


class WrongCube(Cube):
    def backward(self, gy):
        (x,) = self.saved
        return gy * 2 * x**2  # should be 3 x^2


class ScaledProduct(Function):
    """a * b * k; the gradient for b is wrong unless ``correct``."""

    def __init__(self, k: float, correct: bool = True) -> None:
        self.k, self.correct = k, correct

    def forward(self, a, b):
        self.save_for_backward(a, b)
        return a * b * self.k

    def backward(self, gy):
        a, b = self.saved
        return gy * b * self.k, gy * a * (self.k if self.correct else 1.0)


class Forgetful(Cube):
    def backward(self, gy):
        return None


def _x(*shape, seed=0):
    return profondo.tensor(np.random.default_rng(seed).standard_normal(shape), dtype="float64", requires_grad=True)


def test_passes_a_correct_user_function():
    assert gradcheck(lambda x: Cube().apply(x), [_x(3, 4)])
    assert gradcheck(lambda a, b: ScaledProduct(2.5).apply(a, b), [_x(2, 3), _x(3, seed=1)])


def test_accepts_float32_inputs_and_plain_arrays():
    """Inputs are copied to float64; plain float arrays are checked as well."""
    x32 = profondo.randn(2, 3, requires_grad=True)
    assert gradcheck(lambda x, y: Cube().apply(x) * y, [x32, np.ones((2, 3), np.float32)])
    assert x32.dtype == np.float32 and x32.grad is None  # the caller's tensor is left alone


def test_integer_inputs_pass_through():
    labels = np.array([1, 0, 2])
    assert gradcheck(lambda x, y: profondo.functional.cross_entropy(x, y), [_x(3, 4), labels])


def test_multiple_outputs():
    assert gradcheck(lambda x: profondo.functional.split(Cube().apply(x), 2, axis=1), [_x(2, 4)])


def test_fails_a_wrong_backward_naming_input_index_and_values():
    x = _x(3, 4)
    with pytest.raises(GradcheckError) as info:
        gradcheck(lambda t: WrongCube().apply(t), [x])
    message = str(info.value)
    match = re.search(r"input 0 \(shape \(3, 4\)\) at index \((\d+), (\d+)\): analytic (\S+) vs numeric (\S+)", message)
    assert match, message
    index = (int(match[1]), int(match[2]))
    analytic, numeric = float(match[3]), float(match[4])
    weight = np.random.default_rng(0).standard_normal((3, 4))[index]  # gradcheck's projection (seed 0)
    value = x.numpy()[index]
    assert analytic == pytest.approx(weight * 2 * value**2, rel=1e-6)
    assert numeric == pytest.approx(weight * 3 * value**2, rel=1e-5)
    assert "12 of 12 elements" in message


def test_names_the_wrong_input():
    with pytest.raises(GradcheckError, match=r"gradcheck failed for input 1 \(shape \(3,\)\)"):
        gradcheck(lambda a, b: ScaledProduct(2.5, correct=False).apply(a, b), [_x(2, 3), _x(3, seed=1)])


def test_missing_gradient_is_reported():
    with pytest.raises(GradcheckError, match="backward gave this input no gradient"):
        gradcheck(lambda t: Forgetful().apply(t), [_x(2)])


def test_raise_exception_false_returns_false():
    assert gradcheck(lambda t: WrongCube().apply(t), [_x(2)], raise_exception=False) is False


def test_inputs_without_requires_grad_are_not_checked():
    """Only b is checked; a's gradient would be wrong but a does not require grad."""
    a = profondo.tensor(np.ones(3), dtype="float64")
    assert gradcheck(lambda a, b: WrongCube().apply(a) * b, [a, _x(3)])


def test_fast_mode_passes_right_and_catches_wrong_gradients():
    x = profondo.randn(3, 4, dtype="float64", requires_grad=True)
    assert gradcheck(lambda t: Cube().apply(t), [x], fast_mode=True)
    with pytest.raises(GradcheckError, match=r"gradcheck \(fast_mode\) failed for input 0 \(shape \(3, 4\)\)"):
        gradcheck(lambda t: WrongCube().apply(t), [x], fast_mode=True)


class CubeSecondWrong(Cube):
    """Right first derivative 3x^2, but recorded with a constant x: second derivative 0, not 6x."""

    differentiable_backward = True

    def backward(self, gy):
        x = profondo.autograd.unwrap(self.saved[0])
        return gy * 3 * x**2


@pytest.mark.parametrize("fast_mode", [False, True])
def test_gradgradcheck_passes_right_and_catches_wrong_second_derivatives(fast_mode):
    x = profondo.randn(2, 3, dtype="float64", requires_grad=True)
    w = profondo.randn(3, 2, dtype="float64", requires_grad=True)
    assert profondo.gradgradcheck(lambda a, b: (a @ b).tanh() * a.sum(), [x, w], fast_mode=fast_mode)
    assert gradcheck(lambda t: CubeSecondWrong().apply(t), [x])
    with pytest.raises(GradcheckError, match="failed for input 0"):
        profondo.gradgradcheck(lambda t: CubeSecondWrong().apply(t), [x], fast_mode=fast_mode)


def test_gradgradcheck_takes_grad_outputs():
    x = profondo.randn(3, dtype="float64", requires_grad=True)
    assert profondo.gradgradcheck(lambda t: t.exp(), [x], grad_outputs=[np.array([1.0, -2.0, 0.5])])
    with pytest.raises(ValueError, match="2 grad_outputs given for 1 outputs"):
        profondo.gradgradcheck(lambda t: t.exp(), [x], grad_outputs=[np.ones(3), np.ones(3)])
