"""dropout: inverted scaling in training, identity in evaluation, gradient equal to the mask."""

import numpy as np
import pytest

import profondo
import profondo.functional as F
from tests.conftest import randn
from tests.functional.harness import Case, operator_tests


def _fixed_mask_dropout(x):
    profondo.manual_seed(3)  # the same mask at every evaluation, so central differences apply
    return F.dropout(x, 0.5) * x


# PyTorch draws other masks, so there is no parity case: the mask tests below check the values.
CASES = [
    Case("fixed_mask_times_input", _fixed_mask_dropout, None, [(3, 4)]),
    Case("p0.2", lambda x: F.dropout(x, 0.2), None, [(3, 4)], gradcheck=False),  # a new mask at every call
]
test_gradcheck, test_parity, test_float32 = operator_tests(CASES)


@pytest.mark.parametrize("p", [0.1, 0.3, 0.5, 0.9])
def test_mask_statistics(p):
    profondo.manual_seed(0)
    y = F.dropout(profondo.ones(200, 500), p).numpy()
    kept = y != 0
    # 100,000 Bernoulli draws: the dropped fraction is within 0.01 of p (over 7 standard deviations).
    assert abs(1 - kept.mean() - p) < 0.01
    np.testing.assert_allclose(y[kept], 1 / (1 - p), rtol=1e-6)
    assert abs(y.mean() - 1) < 0.05  # the expectation is preserved


def test_gradient_equals_the_mask():
    profondo.manual_seed(1)
    x = profondo.tensor(randn(np.random.default_rng(0), 4, 6), requires_grad=True)
    y = F.dropout(x, 0.4)
    g = randn(np.random.default_rng(1), 4, 6)
    y.backward(g)
    mask = (y.numpy() != 0) / np.float32(0.6)  # 0 or 1/(1-p) per element
    np.testing.assert_allclose(y.numpy(), x.numpy() * mask, rtol=1e-6)
    np.testing.assert_allclose(x.grad.numpy(), g * mask, rtol=1e-6)


def test_noncontiguous_input():
    profondo.manual_seed(2)
    x = profondo.tensor(randn(np.random.default_rng(0), 6, 4), requires_grad=True)
    y = F.dropout(x.T[:, ::2], 0.5)
    y.sum().backward()
    expected = np.zeros((6, 4), np.float32)
    expected[::2] = (y.numpy() != 0).T * 2
    np.testing.assert_array_equal(x.grad.numpy(), expected)


def test_seed_makes_masks_repeatable():
    masks = []
    for _ in range(2):
        profondo.manual_seed(7)
        masks.append(F.dropout(profondo.ones(50), 0.5).numpy())
    np.testing.assert_array_equal(*masks)
    assert not np.array_equal(masks[0], F.dropout(profondo.ones(50), 0.5).numpy())


@pytest.mark.parametrize("kwargs", [{"training": False}, {"p": 0.0}])
def test_identity_in_evaluation_or_p0(kwargs):
    x = profondo.randn(3, 4, requires_grad=True)
    y = F.dropout(x, **{"p": 0.5, **kwargs})
    np.testing.assert_array_equal(y.numpy(), x.numpy())
    (y * 2).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.full((3, 4), 2.0))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_dtype_kept(dtype):
    x = profondo.ones(10, dtype=dtype, requires_grad=True)
    y = F.dropout(x, 0.5)
    y.sum().backward()
    assert y.dtype == x.grad.dtype == np.dtype(dtype)


@pytest.mark.parametrize("p", [-0.1, 1.0, 1.5])
def test_invalid_probability(p):
    with pytest.raises(ValueError, match=rf"dropout: p must be in \[0, 1\), received {p}"):
        F.dropout(profondo.ones(3), p)
