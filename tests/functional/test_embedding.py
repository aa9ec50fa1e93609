"""embedding: row lookup whose gradient adds up repeated indices and skips padding_idx."""

import numpy as np
import pytest

import profondo
import profondo.functional as F
from tests.conftest import randn
from tests.functional.harness import Case, operator_tests

try:
    import torch.nn.functional as TF
except ImportError:  # parity tests skip without torch
    TF = None

V, D = 6, 3
INDICES = np.array([[0, 2, 2, 5], [2, 1, 0, 2]])  # repeated indices, a 2-D batch



def _with_weight(indices):
    """Inputs (weight, indices): a random (V, D) float32 weight, then the integer indices (a constant)."""
    return lambda rng: [randn(rng, V, D), indices]


# padding_idx freezes its row on purpose: its "gradient" is zero, not the derivative, so those
# cases have no gradcheck.
CASES = [
    Case("repeated_indices", lambda w, i: F.embedding(i, w), lambda w, i: TF.embedding(i, w), _with_weight(INDICES)),
    Case("1d_indices", lambda w, i: F.embedding(i, w), lambda w, i: TF.embedding(i, w), _with_weight(INDICES[0])),
    Case("padding_idx", lambda w, i: F.embedding(i, w, padding_idx=2), lambda w, i: TF.embedding(i, w, padding_idx=2),
         _with_weight(INDICES), gradcheck=False),
    Case("padding_idx_negative", lambda w, i: F.embedding(i, w, padding_idx=-1),
         lambda w, i: TF.embedding(i, w, padding_idx=-1), _with_weight(INDICES), gradcheck=False),
    Case("weight_used_twice", lambda w, i: F.embedding(i, w) * w[0], lambda w, i: TF.embedding(i, w) * w[0],
         _with_weight(INDICES)),
    Case("weight_transposed", lambda w, i: F.embedding(i, w.T.T[:, ::-1]), lambda w, i: TF.embedding(i, w.flip(1)),
         _with_weight(INDICES)),
    Case("empty_indices", lambda w, i: F.embedding(i, w), lambda w, i: TF.embedding(i, w),
         _with_weight(np.zeros((2, 0), np.int64)),
         double_backward="torch.autograd.grad fails at second order on zero indices (it reshapes 0 elements to [2, 0, -1])"),
]


test_gradcheck, test_parity, test_float32 = operator_tests(CASES)


def test_repeated_indices_add_up_and_padding_row_gets_none():
    w = profondo.tensor(randn(np.random.default_rng(0), V, D), requires_grad=True)
    F.embedding(INDICES, w, padding_idx=1).sum().backward()
    counts = np.bincount(INDICES.ravel(), minlength=V).astype(np.float32)
    counts[1] = 0
    np.testing.assert_array_equal(w.grad.numpy(), np.repeat(counts[:, None], D, axis=1))


@pytest.mark.parametrize("indices", [[0, V], [-1, 2]])
def test_index_out_of_range(indices):
    with pytest.raises(ValueError, match=rf"embedding: index {indices[0] if indices[0] < 0 else V} is out of range "
                                         rf"for {V} rows \(expected 0..{V - 1}\)"):
        F.embedding(np.array(indices), profondo.ones(V, D))


def test_indices_must_be_integers():
    with pytest.raises(TypeError, match="embedding: indices must be integers, received dtype float32"):
        F.embedding(profondo.tensor([0.0, 1.0]), profondo.ones(V, D))


def test_many_repeated_indices_sum_as_add_at():
    """A language model's batch: thousands of indices into a few rows, some rows never read,
    and an upstream gradient that is not contiguous."""
    rng = np.random.default_rng(4)
    indices = rng.integers(0, 40, (64, 32))
    indices[indices == 7] = 8  # row 7 is never read: its gradient stays zero
    w = profondo.tensor(rng.standard_normal((50, 16)), requires_grad=True)
    g = rng.standard_normal((32, 64, 16)).transpose(1, 0, 2)
    (F.embedding(indices, w) * profondo.tensor(g)).sum().backward()
    expected = np.zeros((50, 16))
    np.add.at(expected, indices.reshape(-1), g.reshape(-1, 16))
    np.testing.assert_allclose(w.grad.numpy(), expected, rtol=1e-12, atol=1e-12)
    assert not w.grad.numpy()[7].any() and not w.grad.numpy()[40:].any()
