"""Element-wise arithmetic, matmul and linear: gradcheck (float64), PyTorch parity (float32),
dtype discipline and shape errors."""

import numpy as np
import pytest

import profondo
import profondo.functional as F
from tests.conftest import away_from_zero, positive, randn, torch_parity
from tests.functional.harness import Case, operator_tests

try:
    import torch
    import torch.nn.functional as TF
except ImportError:  # parity tests skip without torch
    torch = TF = None


def _mask(shape, seed=1):
    return np.random.default_rng(seed).random(shape) > 0.5


# name: (profondo fn, torch fn, inputs from a generator). Functions take one argument per array.
CASES = [
    Case("add_broadcast", lambda a, b: a + b, lambda a, b: a + b, lambda r: [randn(r, 2, 3, 4), randn(r, 3, 1)]),
    Case("add_scalar", lambda a: 1.5 + a + 2, lambda a: 1.5 + a + 2, lambda r: [randn(r, 3, 4)]),
    Case("add_size1", lambda a, b: F.add(a, b), lambda a, b: a + b, lambda r: [randn(r, 1, 3), randn(r, 2, 1)]),
    Case("add_empty", lambda a, b: a + b, lambda a, b: a + b, lambda r: [randn(r, 0, 3), randn(r, 3)]),
    Case("add_same_tensor", lambda a: a + a, lambda a: a + a, lambda r: [randn(r, 2, 3)]),
    Case("sub_broadcast", lambda a, b: a - b, lambda a, b: a - b, lambda r: [randn(r, 3, 1), randn(r, 2, 3, 4)]),
    Case("rsub_scalar", lambda a: 2.0 - a, lambda a: 2.0 - a, lambda r: [randn(r, 3)]),
    Case("sub_noncontiguous", lambda a, b: F.sub(a.T, b[:, ::2]), lambda a, b: a.T - b[:, ::2],
                              lambda r: [randn(r, 4, 3), randn(r, 3, 8)]),
    Case("mul_broadcast", lambda a, b: a * b, lambda a, b: a * b, lambda r: [randn(r, 2, 3, 4), randn(r, 4)]),
    Case("mul_same_tensor", lambda a: a * a * a, lambda a: a * a * a, lambda r: [randn(r, 2, 3)]),
    Case("mul_two_branches", lambda a, b: (a * b) * (a + b), lambda a, b: (a * b) * (a + b),
                             lambda r: [randn(r, 3, 2), randn(r, 2)]),
    Case("div_broadcast", lambda a, b: a / b, lambda a, b: a / b, lambda r: [randn(r, 2, 3), positive(r, 2, 1)]),
    Case("rdiv_scalar", lambda a: 1.0 / a, lambda a: 1.0 / a, lambda r: [positive(r, 3, 2)]),
    Case("div_noncontiguous", lambda a, b: F.div(a[::2], b.T), lambda a, b: a[::2] / b.T,
                              lambda r: [randn(r, 6, 3), positive(r, 3, 3)]),
    Case("neg", lambda a: -F.neg(a) * a, lambda a: a * a, lambda r: [randn(r, 2, 3)]),
    Case("pow_scalar_int", lambda a: a**3, lambda a: a**3, lambda r: [randn(r, 2, 3)]),
    Case("pow_scalar_two", lambda a: F.pow(a, 2), lambda a: a**2, lambda r: [randn(r, 2, 3)]),
    Case("pow_scalar_fraction", lambda a: a**0.5 + a**-1.5, lambda a: a**0.5 + a**-1.5, lambda r: [positive(r, 2, 3)]),
    Case("pow_tensor", lambda a, b: a**b, lambda a, b: a**b, lambda r: [positive(r, 2, 3), randn(r, 2, 3)]),
    Case("pow_tensor_broadcast", lambda a, b: F.pow(a, b), lambda a, b: a**b, lambda r: [positive(r, 2, 3), randn(r, 3)]),
    Case("rpow_scalar_base", lambda b: 2.0**b, lambda b: 2.0**b, lambda r: [randn(r, 4)]),
    Case("exp", lambda a: F.exp(a) + a.exp(), lambda a: 2 * a.exp(), lambda r: [randn(r, 2, 3)]),
    Case("log", lambda a: F.log(a), lambda a: torch.log(a), lambda r: [positive(r, 2, 3)]),
    Case("log_noncontiguous", lambda a: F.log(a.T[:, ::2]), lambda a: torch.log(a.T[:, ::2]), lambda r: [positive(r, 4, 3)]),
    Case("sqrt", lambda a: F.sqrt(a) * a, lambda a: a.sqrt() * a, lambda r: [positive(r, 2, 3)]),
    Case("abs", lambda a: F.abs(a) + abs(a), lambda a: 2 * a.abs(), lambda r: [away_from_zero(r, 2, 3)]),
    Case("maximum", lambda a, b: F.maximum(a, b), lambda a, b: torch.maximum(a, b),
                    lambda r: [randn(r, 2, 3), randn(r, 3)]),
    Case("minimum", lambda a, b: F.minimum(a, b), lambda a, b: torch.minimum(a, b),
                    lambda r: [randn(r, 2, 1, 3), randn(r, 2, 3)]),
    Case("maximum_scalar", lambda a: F.maximum(a, 0.2), lambda a: torch.clamp(a, min=0.2), lambda r: [away_from_zero(r, 5)]),
    Case("clip_both", lambda a: F.clip(a, -0.5, 0.5), lambda a: torch.clamp(a, -0.5, 0.5),
                      lambda r: [away_from_zero(r, 3, 4)]),
    Case("clip_min", lambda a: F.clip(a, min=0.3), lambda a: torch.clamp(a, min=0.3), lambda r: [away_from_zero(r, 3, 4)]),
    Case("clip_max", lambda a: a.clip(max=-0.3), lambda a: torch.clamp(a, max=-0.3), lambda r: [away_from_zero(r, 3, 4)]),
    Case("where", lambda a, b: F.where(_mask((2, 3)), a, b), lambda a, b: torch.where(torch.from_numpy(_mask((2, 3))), a, b),
                  lambda r: [randn(r, 2, 3), randn(r, 3)]),
    Case("where_scalar", lambda a: F.where(a > 0, a * 2, 0.0), lambda a: torch.where(a > 0, a * 2, 0.0),
                         lambda r: [away_from_zero(r, 4, 2)]),
    Case("where_same_tensor", lambda a: F.where(_mask((3, 3)), a, a.T), lambda a: torch.where(torch.from_numpy(_mask((3, 3))), a, a.T),
                              lambda r: [randn(r, 3, 3)]),
    Case("matmul_2d", lambda a, b: a @ b, lambda a, b: a @ b, lambda r: [randn(r, 3, 4), randn(r, 4, 5)]),
    Case("matmul_batched", lambda a, b: F.matmul(a, b), lambda a, b: a @ b, lambda r: [randn(r, 2, 3, 4), randn(r, 2, 4, 5)]),
    Case("matmul_broadcast_batch", lambda a, b: a @ b, lambda a, b: a @ b, lambda r: [randn(r, 2, 1, 3, 4), randn(r, 3, 4, 2)]),
    Case("matmul_matrix_batch", lambda a, b: a @ b, lambda a, b: a @ b, lambda r: [randn(r, 3, 4), randn(r, 2, 4, 2)]),
    Case("matmul_1d_left", lambda a, b: a @ b, lambda a, b: a @ b, lambda r: [randn(r, 4), randn(r, 2, 4, 3)]),
    Case("matmul_1d_right", lambda a, b: a @ b, lambda a, b: a @ b, lambda r: [randn(r, 2, 3, 4), randn(r, 4)]),
    Case("matmul_1d_matrix", lambda a, b: a @ b, lambda a, b: a @ b, lambda r: [randn(r, 4), randn(r, 4, 3)]),
    Case("matmul_matrix_1d", lambda a, b: a @ b, lambda a, b: a @ b, lambda r: [randn(r, 3, 4), randn(r, 4)]),
    Case("matmul_1d_1d", lambda a, b: a @ b, lambda a, b: a @ b, lambda r: [randn(r, 4), randn(r, 4)]),
    Case("matmul_same_tensor", lambda a: a @ a.T, lambda a: a @ a.T, lambda r: [randn(r, 3, 4)]),
    Case("matmul_noncontiguous", lambda a, b: a.T @ b[:, ::2], lambda a, b: a.T @ b[:, ::2],
                                 lambda r: [randn(r, 4, 3), randn(r, 4, 6)]),
    Case("matmul_empty", lambda a, b: a @ b, lambda a, b: a @ b, lambda r: [randn(r, 0, 4), randn(r, 4, 3)]),
    Case("linear", lambda x, w, b: F.linear(x, w, b), lambda *a: TF.linear(*a),
                   lambda r: [randn(r, 5, 4), randn(r, 3, 4), randn(r, 3)]),
    Case("linear_no_bias", lambda x, w: F.linear(x, w), lambda *a: TF.linear(*a), lambda r: [randn(r, 5, 4), randn(r, 3, 4)]),
    Case("linear_batched", lambda x, w, b: F.linear(x, w, b), lambda *a: TF.linear(*a),
                           lambda r: [randn(r, 2, 5, 4), randn(r, 3, 4), randn(r, 3)]),
    Case("linear_1d", lambda x, w, b: F.linear(x, w, b), lambda *a: TF.linear(*a),
                      lambda r: [randn(r, 4), randn(r, 3, 4), randn(r, 3)]),
    Case("linear_noncontiguous", lambda x, w, b: F.linear(x.T, w[:, ::2], b), lambda x, w, b: TF.linear(x.T, w[:, ::2], b),
                                 lambda r: [randn(r, 4, 5), randn(r, 3, 8), randn(r, 3)]),
    Case("linear_input_reused", lambda x, w: F.linear(x, w) + x.sum(axis=1, keepdims=True) * x[:, :3],
                                lambda x, w: TF.linear(x, w) + x.sum(dim=1, keepdim=True) * x[:, :3],
                                lambda r: [randn(r, 5, 4), randn(r, 3, 4)]),
    Case("linear_relu", lambda x, w, b: F.relu(F.linear(x, w, b)), lambda x, w, b: TF.relu(TF.linear(x, w, b)),
         [(5, 4), (3, 4), (3,)]),
]


CASES += [
    Case("einsum_matmul", lambda a, b: F.einsum("ij,jk->ik", a, b), lambda a, b: torch.einsum("ij,jk->ik", a, b),
         [(3, 4), (4, 2)]),
    Case("einsum_batched", lambda a, b: F.einsum("bij,bjk->bik", a, b),
         lambda a, b: torch.einsum("bij,bjk->bik", a, b), [(2, 3, 4), (2, 4, 5)]),
    Case("einsum_summed_inside", lambda a, b: F.einsum("ij,ik->k", a, b),
         lambda a, b: torch.einsum("ij,ik->k", a, b), [(3, 4), (3, 2)]),
    Case("einsum_used_twice", lambda a: F.einsum("ij,ij->i", a, a), lambda a: torch.einsum("ij,ij->i", a, a), [(3, 4)]),
    Case("einsum_transposed", lambda a, b: F.einsum("ij,jk", a.T, b), lambda a, b: torch.einsum("ij,jk", a.T, b),
         [(4, 3), (4, 2)]),
    Case("einsum_ellipsis", lambda a, b: F.einsum("...ij,...jk->...ik", a, b),
         lambda a, b: torch.einsum("...ij,...jk->...ik", a, b), [(2, 3, 4), (2, 4, 2)]),
    Case("mm", F.mm, torch.mm if torch else None, [(3, 4), (4, 5)]),
    Case("bmm", F.bmm, torch.bmm if torch else None, [(2, 3, 4), (2, 4, 5)]),
    Case("masked_fill", lambda x, m: F.masked_fill(x, m, 0.5), lambda x, m: x.masked_fill(m, 0.5),
         lambda r: [randn(r, 3, 4), randn(r, 3, 4) > 0]),
    Case("masked_fill_broadcast_twice", lambda x, m: F.masked_fill(x, m, -1.0) * x,
         lambda x, m: x.masked_fill(m, -1.0) * x, lambda r: [randn(r, 3, 4), randn(r, 4) > 0]),
    Case("add_alpha", lambda a, b: F.add(a, b, alpha=2.5), lambda a, b: torch.add(a, b, alpha=2.5), [(3, 4), (4,)]),
]

test_gradcheck, test_parity, test_float32 = operator_tests(CASES)


def test_parity_maximum_ties_share_the_gradient():
    a = np.array([1.0, 2.0, 3.0, -1.0], np.float32)
    b = np.array([1.0, 0.0, 3.0, -1.0], np.float32)
    _, (ga, gb) = torch_parity(F.maximum, torch.maximum if torch else None, [a, b])
    _, (ha, hb) = torch_parity(F.minimum, torch.minimum if torch else None, [a, b])
    assert ga[0] == gb[0] != 0 and ha[2] == hb[2] != 0


@pytest.mark.parametrize("scalar", [2, 2.5, np.float64(2.5), np.int64(3), np.float32(2.0), True])
@pytest.mark.parametrize("op", ["add", "sub", "mul", "truediv", "pow", "radd", "rsub", "rmul", "rtruediv"])
def test_scalars_keep_float32(op, scalar):
    x = profondo.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    y = getattr(x, f"__{op}__")(scalar)
    assert y.dtype == np.float32
    y.sum().backward()
    assert x.grad.dtype == np.float32


def test_scalars_keep_float64():
    x = profondo.tensor([1.0, 2.0], dtype="float64", requires_grad=True)
    y = x * 2.5 + np.float32(1.0)
    assert y.dtype == np.float64
    y.sum().backward()
    assert x.grad.dtype == np.float64


@pytest.mark.parametrize("fn, a_shape, b_shape, name", [
    (F.add, (2, 3), (4,), "add"),
    (F.sub, (2, 3), (2, 2), "sub"),
    (F.mul, (5,), (4,), "mul"),
    (F.div, (2, 3, 4), (3, 3), "div"),
    (F.maximum, (2,), (3,), "maximum"),
    (F.matmul, (2, 3), (4, 5), "matmul"),
    (F.matmul, (3,), (4,), "matmul"),
    (F.matmul, (2, 3, 4), (5, 4, 6), "matmul"),
    (F.linear, (2, 3), (4, 5), "linear"),
])
def test_shape_mismatch_names_operator_and_shapes(fn, a_shape, b_shape, name):
    with pytest.raises(ValueError) as info:
        fn(profondo.ones(*a_shape), profondo.ones(*b_shape))
    message = str(info.value)
    assert message.startswith(name) and str(a_shape) in message and str(b_shape) in message


def test_linear_bias_and_weight_shapes_are_checked():
    with pytest.raises(ValueError, match=r"linear: bias of shape \(5,\), expected \(4,\)"):
        F.linear(profondo.ones(2, 3), profondo.ones(4, 3), profondo.ones(5))
    with pytest.raises(ValueError, match=r"linear: .*weight \(3,\)"):
        F.linear(profondo.ones(2, 3), profondo.ones(3))


def test_parity_clip_passes_the_gradient_at_the_bounds():
    """As torch.clamp: the gradient flows where min <= x <= max, bounds included."""
    x = np.array([-1.0, -0.5, 0.0, 0.5, 1.0], np.float32)
    _, (g,) = torch_parity(lambda t: F.clip(t, -0.5, 0.5), lambda t: torch.clamp(t, -0.5, 0.5), [x])
    assert (g[1:4] != 0).all() and (g[[0, 4]] == 0).all()
