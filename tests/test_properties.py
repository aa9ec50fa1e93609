"""Property-based checks of the engine on shapes hypothesis chooses."""

import math

import numpy as np
import pytest

import profondo
from profondo import functional as F

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

dims = st.lists(st.integers(1, 4), min_size=0, max_size=4)


@st.composite
def broadcastable_pair(draw):
    """Two shapes that broadcast: each dimension of the second is the first's, or 1, or absent."""
    shape = draw(dims)
    other = [draw(st.sampled_from([n, 1])) for n in shape]
    return tuple(shape), tuple(other[draw(st.integers(0, len(other))):])


@settings(max_examples=60, deadline=None)
@given(broadcastable_pair(), st.integers(0, 2**31))
def test_broadcast_gradients_sum_back_to_each_input(shapes, seed):
    shape_a, shape_b = shapes
    rng = np.random.default_rng(seed)
    a = profondo.tensor(rng.standard_normal(shape_a), requires_grad=True)
    b = profondo.tensor(rng.standard_normal(shape_b), requires_grad=True)
    out = a * b + b
    weights = rng.standard_normal(out.shape)
    (out * profondo.tensor(weights)).sum().backward()
    full_b = np.broadcast_to(b.numpy(), out.shape)
    assert out.shape == shape_a  # b's dimensions are a's or 1, so only b is broadcast
    np.testing.assert_allclose(a.grad.numpy(), weights * full_b, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(b.grad.numpy(), _sum_to(weights * (np.broadcast_to(a.numpy(), out.shape) + 1), shape_b),
                               rtol=1e-5, atol=1e-5)
    assert a.grad.shape == shape_a and b.grad.shape == shape_b


def _sum_to(array, shape):
    array = array.sum(axis=tuple(range(array.ndim - len(shape)))) if array.ndim > len(shape) else array
    return array.sum(axis=tuple(i for i, n in enumerate(shape) if n == 1), keepdims=True).reshape(shape)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(1, 4), min_size=1, max_size=4), st.randoms(use_true_random=False))
def test_permute_and_reshape_route_every_gradient_home(shape, random):
    order = list(range(len(shape)))
    random.shuffle(order)
    x = profondo.tensor(np.arange(math.prod(shape), dtype=np.float32).reshape(shape), requires_grad=True)
    y = F.reshape(F.permute(x, order), (-1,))
    y.backward(profondo.tensor(np.arange(y.numel(), dtype=np.float32)))
    # the gradient at each input element is the position that element reached in y
    expected = np.empty(x.numel(), np.float32)
    expected[np.transpose(x.numpy(), order).reshape(-1).astype(int)] = np.arange(y.numel())
    np.testing.assert_array_equal(x.grad.numpy().reshape(-1), expected)
