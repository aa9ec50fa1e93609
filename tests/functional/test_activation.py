"""Activations: relu, leaky_relu, relu6, sigmoid, tanh, softmax, log_softmax."""

import numpy as np

import profondo
import profondo.functional as F
from tests.conftest import away_from_zero, randn
from tests.functional.harness import Case, operator_tests

try:
    import torch
    import torch.nn.functional as TF
except ImportError:  # parity tests skip without torch
    torch = TF = None


def _relu6_input(r):
    x = away_from_zero(r, 4, 5) * 4  # values on both sides of 0 and of 6, none at the kinks
    return [np.where(np.abs(x - 6) < 0.1, x + 0.5, x).astype(np.float32)]


KINKS = np.array([-1.0, 0.0, 3.0, 6.0, 7.0], np.float32)

CASES = [
    Case("relu", F.relu, lambda x: TF.relu(x), lambda r: [away_from_zero(r, 3, 4)]),
    Case("relu_method_twice", lambda x: x.relu() * x, lambda x: x.relu() * x, lambda r: [away_from_zero(r, 3, 4)]),
    Case("relu_empty", F.relu, lambda x: TF.relu(x), lambda r: [randn(r, 0, 4)]),
    Case("leaky_relu", lambda x: F.leaky_relu(x, 0.2), lambda x: TF.leaky_relu(x, 0.2), lambda r: [away_from_zero(r, 3, 4)]),
    Case("leaky_relu_default", F.leaky_relu, lambda x: TF.leaky_relu(x), lambda r: [away_from_zero(r, 3, 4)]),
    Case("relu6", F.relu6, lambda x: TF.relu6(x), _relu6_input),
    Case("sigmoid", F.sigmoid, lambda x: torch.sigmoid(x), lambda r: [randn(r, 3, 4, scale=3)]),
    Case("sigmoid_strided", lambda x: x[:, ::2].sigmoid(), lambda x: x[:, ::2].sigmoid(), lambda r: [randn(r, 3, 8)]),
    Case("tanh", F.tanh, lambda x: torch.tanh(x), lambda r: [randn(r, 3, 4, scale=2)]),
    Case("tanh_twice", lambda x: F.tanh(x) * F.sigmoid(x), lambda x: x.tanh() * x.sigmoid(), lambda r: [randn(r, 5)]),
    Case("softmax_last", lambda x: F.softmax(x, -1), lambda x: x.softmax(-1), lambda r: [randn(r, 3, 4)]),
    Case("softmax_axis0", lambda x: F.softmax(x, 0), lambda x: x.softmax(0), lambda r: [randn(r, 3, 4)]),
    Case("softmax_middle_axis", lambda x: x.softmax(1), lambda x: x.softmax(1), lambda r: [randn(r, 2, 3, 4)]),
    Case("softmax_transposed", lambda x: F.softmax(x.T, 0), lambda x: x.T.softmax(0), lambda r: [randn(r, 3, 4)]),
    Case("softmax_size1", lambda x: F.softmax(x, 1), lambda x: x.softmax(1), lambda r: [randn(r, 3, 1)]),
    Case("softmax_times_input", lambda x: F.softmax(x, -1) * x, lambda x: x.softmax(-1) * x, lambda r: [randn(r, 2, 5)]),
    Case("log_softmax_last", lambda x: F.log_softmax(x, -1), lambda x: x.log_softmax(-1), lambda r: [randn(r, 3, 4)]),
    Case("log_softmax_axis1", lambda x: x.log_softmax(1), lambda x: x.log_softmax(1), lambda r: [randn(r, 2, 3, 4)]),
    Case("log_softmax_strided", lambda x: F.log_softmax(x[::2], 0), lambda x: x[::2].log_softmax(0), lambda r: [randn(r, 6, 3)]),
    Case("softmax_max_logsumexp_var", lambda x: F.softmax(x, 1).amax(axis=1) + F.logsumexp(x, axis=1) + x.var(axis=1, correction=0),
         lambda x: x.softmax(1).amax(dim=1) + x.logsumexp(dim=1) + x.var(dim=1, correction=0), [(4, 5)]),
    # At x == 0 (and 6) the gradient PyTorch picks: relu 0, leaky_relu the slope, relu6 0 at 0 and 6.
    # Central differences straddle the kink there, so these cases are compared with PyTorch only.
    *[Case(f"{name}_at_the_kinks", getattr(F, name), lambda x, name=name: getattr(TF, name)(x), lambda r: [KINKS.copy()],
           gradcheck=False) for name in ("relu", "leaky_relu", "relu6")],
]


CASES += [
    Case("gelu", F.gelu, lambda x: TF.gelu(x), [(3, 4)]),
    Case("gelu_tanh", lambda x: F.gelu(x, approximate="tanh"), lambda x: TF.gelu(x, approximate="tanh"), [(3, 4)]),
    Case("softplus", lambda x: F.softplus(x * 5), lambda x: TF.softplus(x * 5), [(3, 4)]),
    Case("softplus_beta", lambda x: F.softplus(x, beta=2.0), lambda x: TF.softplus(x, beta=2.0), [(3, 4)]),
    Case("silu_twice", lambda x: F.silu(x) * x, lambda x: TF.silu(x) * x, [(3, 4)]),
    Case("elu", F.elu, lambda x: TF.elu(x), lambda r: [away_from_zero(r, 3, 4)]),
    Case("softmax_dim_transposed", lambda x: F.softmax(x.T, dim=0), lambda x: TF.softmax(x.T, dim=0), [(3, 4)]),
]

test_gradcheck, test_parity, test_float32 = operator_tests(CASES)


def test_large_logits_are_stable():
    x = profondo.tensor([[1000.0, 0.0, -1000.0]], requires_grad=True)
    np.testing.assert_allclose(F.softmax(x, 1).numpy(), [[1, 0, 0]])
    np.testing.assert_allclose(F.log_softmax(x, 1).numpy(), [[0, -1000, -2000]])
    np.testing.assert_allclose(F.sigmoid(x).numpy(), [[1, 0.5, 0]])
    F.log_softmax(x, 1).sum().backward()
    assert np.isfinite(x.grad.numpy()).all()
