"""Reductions (sum, mean, amax, amin, var, logsumexp) over every kind of axis, both keepdims;
max/min over one dim (values, indices) are in tests/test_torch_compat.py."""

import numpy as np
import pytest

import profondo
import profondo.functional as F
from tests.conftest import randn, torch_parity
from tests.functional.harness import Case, operator_tests

try:
    import torch
except ImportError:  # parity tests skip without torch
    torch = None

SHAPE = (2, 3, 4)


def _with_zeros(rng):
    """Rows with no zero, one zero and two zeros: the product's derivatives without dividing."""
    x = randn(rng, 3, 4)
    x[1, 2] = 0.0
    x[2, 0] = x[2, 3] = 0.0
    return [x]
AXES = [None, 1, -1, (0, 2)]


def _dims(axis):
    """torch's dim argument for a NumPy axis (None: every dimension, for amax/logsumexp)."""
    return tuple(range(len(SHAPE))) if axis is None else axis


def _torch(op, x, axis, keepdims):
    dim = _dims(axis)
    if op == "sum":
        return x.sum(dim=dim, keepdim=keepdims)
    if op == "mean":
        return x.mean(dim=dim, keepdim=keepdims)
    if op in ("amax", "amin"):  # amax/amin split the gradient between ties, as profondo does
        return getattr(torch, op)(x, dim=dim, keepdim=keepdims)
    if op == "var":  # unbiased by default in both
        return x.var(dim=dim, keepdim=keepdims)
    return torch.logsumexp(x, dim=dim, keepdim=keepdims)


OPS = ["sum", "mean", "amax", "amin", "var", "logsumexp"]
GRID = [(op, axis, keepdims) for op in OPS for axis in AXES for keepdims in (False, True)]
IDS = [f"{op}-axis{axis}-keepdims{k}".replace(" ", "") for op, axis, k in GRID]


GRID_CASES = [Case(name, lambda x, op=op, axis=axis, k=k: getattr(F, op)(x, axis=axis, keepdims=k),
                   lambda x, op=op, axis=axis, k=k: _torch(op, x, axis, k), [SHAPE]) for name, (op, axis, k) in zip(IDS, GRID)]


@pytest.mark.parametrize("op, axis, keepdims", GRID, ids=IDS)
def test_methods_match_functions(op, axis, keepdims):
    """x.op(axis, keepdims) is F.op(x, axis=axis, keepdims=keepdims), values and gradients."""
    x = randn(np.random.default_rng(0), *SHAPE)
    results = []
    for method in (True, False):
        t = profondo.tensor(x, requires_grad=True)
        y = getattr(t, op)(axis=axis, keepdims=keepdims) if method else getattr(F, op)(t, axis=axis, keepdims=keepdims)
        (y * y).sum().backward()
        results.append((y.numpy(), t.grad.numpy()))
    for from_method, from_function in zip(*results):
        np.testing.assert_array_equal(from_method, from_function)


@pytest.mark.parametrize("op", OPS)
def test_torch_names_dim_keepdim(op):
    x = profondo.tensor(randn(np.random.default_rng(0), *SHAPE))
    np.testing.assert_array_equal(getattr(F, op)(x, dim=2, keepdim=True).numpy(),
                                  getattr(F, op)(x, axis=2, keepdims=True).numpy())


# Other layouts and graph shapes: non-contiguous inputs, one tensor used twice, size-1 and empty axes.
CASES = [
    Case("sum_transposed", lambda x: x.T.sum(axis=0), lambda x: x.T.sum(dim=0), [(3, 4)]),
    Case("max_strided", lambda x: x[:, ::2].amax(axis=1), lambda x: x[:, ::2].amax(dim=1), [(3, 8)]),
    Case("var_strided", lambda x: x[::2].var(axis=0, correction=0), lambda x: x[::2].var(dim=0, correction=0), [(6, 3)]),
    Case("logsumexp_transposed", lambda x: F.logsumexp(x.T, axis=1), lambda x: torch.logsumexp(x.T, dim=1), [(3, 4)]),
    Case("max_times_sum", lambda x: x.amax(axis=1) * x.sum(axis=1), lambda x: x.amax(dim=1) * x.sum(dim=1), [(3, 4)]),
    Case("mean_minus_min", lambda x: x - x.mean(axis=0) - x.amin(axis=0, keepdims=True),
                           lambda x: x - x.mean(dim=0) - x.amin(dim=0, keepdim=True), [(3, 4)]),
    Case("sum_size1_axis", lambda x: x.sum(axis=1), lambda x: x.sum(dim=1), [(3, 1, 2)]),
    Case("max_size1_axis", lambda x: x.amax(axis=0), lambda x: x.amax(dim=0), [(1, 4)]),
    Case("sum_empty_axis", lambda x: x.sum(axis=0), lambda x: x.sum(dim=0), [(0, 3)]),
    Case("sum_of_empty", lambda x: x.sum(axis=1), lambda x: x.sum(dim=1), [(0, 3)]),
    Case("var_unbiased", lambda x: F.var(x, axis=1, ddof=1), lambda x: x.var(dim=1), [(3, 4)]),
    Case("var_correction", lambda x: F.var(x, axis=(0, 1), correction=1), lambda x: x.var(dim=(0, 1)), [(3, 4)]),
]


CASES += [
    Case("max_dim_values", lambda x: F.max(x, 1).values, lambda x: torch.max(x, 1).values, [(3, 4)]),
    Case("min_dim_keepdim", lambda x: F.min(x, 0, keepdim=True)[0], lambda x: torch.min(x, 0, keepdim=True)[0],
         [(3, 4)]),
    Case("max_dim_transposed", lambda x: x.T.max(dim=1).values, lambda x: x.T.max(dim=1).values, [(4, 3)]),
    Case("var_default_unbiased", lambda x: x.var(1), lambda x: x.var(1), [(3, 5)]),
    Case("std", lambda x: F.std(x, dim=0), lambda x: torch.std(x, dim=0), [(4, 3)]),
    Case("std_biased_twice", lambda x: x.std(unbiased=False) * x, lambda x: x.std(unbiased=False) * x, [(3, 4)]),
    Case("prod", lambda x: F.prod(x, dim=1), lambda x: torch.prod(x, dim=1), [(3, 4)]),
    Case("prod_all_transposed", lambda x: x.T.prod(), lambda x: x.T.prod(), [(2, 3)]),
    Case("prod_with_zeros", lambda x: F.prod(x, dim=1), lambda x: torch.prod(x, dim=1), _with_zeros),
    Case("prod_two_axes_keepdim", lambda x: F.prod(x, dim=(0, 2), keepdim=True),
         lambda x: x.prod(0, keepdim=True).prod(2, keepdim=True), [(2, 3, 2)]),
    Case("cumsum", lambda x: F.cumsum(x, 1), lambda x: torch.cumsum(x, 1), [(3, 4)]),
    Case("cumsum_middle_axis", lambda x: F.cumsum(x, -2) * x, lambda x: torch.cumsum(x, -2) * x, [(2, 3, 4)]),
    Case("cumsum_times_input", lambda x: F.cumsum(x, 0) * x, lambda x: torch.cumsum(x, 0) * x, [(4, 3)]),
    Case("norm", lambda x: F.norm(x), lambda x: torch.norm(x), [(3, 4)]),
    Case("norm_dim_p1", lambda x: F.norm(x + 3, p=1, dim=1), lambda x: torch.norm(x + 3, p=1, dim=1), [(3, 4)]),
]

test_gradcheck, test_parity, test_float32 = operator_tests(GRID_CASES + CASES)


@pytest.mark.parametrize("op", ["max", "min"])
def test_parity_ties_split_the_gradient(op):
    x = np.array([[1.0, 3.0, 3.0, 0.0], [-2.0, -2.0, -2.0, 1.0]], np.float32)
    _, (g,) = torch_parity(lambda t: getattr(t, f"a{op}")(axis=1), lambda t: getattr(torch, f"a{op}")(t, dim=1), [x])
    assert np.count_nonzero(g[0 if op == "max" else 1]) == (2 if op == "max" else 3)


def test_logsumexp_is_stable():
    x = profondo.tensor([[1000.0, 1000.0], [-1000.0, -1000.0]], requires_grad=True)
    y = F.logsumexp(x, axis=1)
    np.testing.assert_allclose(y.numpy(), [1000 + np.log(2), -1000 + np.log(2)], rtol=1e-6)
    y.sum().backward()
    # exp(x - y) with y rounded to float32 at 1000 (spacing 6e-5): PyTorch gives the same 0.499985
    np.testing.assert_allclose(x.grad.numpy(), np.full((2, 2), 0.5), rtol=1e-4)


@pytest.mark.parametrize("op", OPS)
def test_axis_out_of_range(op):
    with pytest.raises(ValueError, match=f"{op}: axis 3 is out of range for a tensor of 3 dimensions"):
        getattr(F, op)(profondo.ones(*SHAPE), axis=3)


@pytest.mark.parametrize("op", ["max", "min"])
def test_max_of_empty_raises(op):
    with pytest.raises(ValueError, match=rf"{op}: reduction over an empty tensor of shape \(0, 3\)"):
        getattr(F, op)(profondo.ones(0, 3), axis=0)


def test_argmax_argmin():
    x = profondo.tensor([[1.0, 5.0, 2.0], [7.0, 0.0, 3.0]])
    assert F.argmax(x, axis=1).tolist() == [1, 0] and F.argmin(x, dim=0).tolist() == [0, 1, 0]
    assert F.argmax(x).dtype == np.int64 and not F.argmax(x).requires_grad


def test_mean_and_var_of_integers_and_booleans_are_float32():
    """An accuracy written (pred == y).mean() is a fraction, not the boolean True."""
    hits = profondo.tensor([True, False, False, False])
    assert hits.mean().item() == 0.25 and hits.mean().dtype == np.float32
    counts = profondo.arange(4)
    assert counts.mean().item() == 1.5 and counts.var(correction=0).item() == 1.25 and counts.var().dtype == np.float32
    assert counts.var().item() == pytest.approx(5 / 3)  # unbiased by default, as PyTorch
    assert hits.sum().item() == 1 and hits.sum().dtype.kind == "i"
