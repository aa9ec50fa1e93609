"""profondo.autograd.functional against torch.autograd.functional, its doctests, and three uses
of higher-order gradients end to end: a gradient penalty, a Hessian-vector product checked by
finite differences of gradients, and Newton's method."""

import doctest
import sys

import numpy as np
import pytest

import profondo
import profondo.functional as F
from profondo import nn, optim
from profondo.autograd import grad
from profondo.autograd.functional import hessian, hvp, jacobian, jvp, vhp, vjp

try:
    import torch
    import torch.autograd.functional as TAF
except ImportError:  # the torch comparisons skip without it
    torch = TAF = None

needs_torch = pytest.mark.skipif(torch is None, reason="needs torch")
RNG = np.random.default_rng(0)
A = RNG.standard_normal((3, 4))
B = RNG.standard_normal((4,))
W = RNG.standard_normal((2, 3))


def test_doctests_run():
    for name in ("profondo.autograd.functional", "profondo.autograd.walk", "profondo.gradcheck"):
        result = doctest.testmod(sys.modules[name], extraglobs={"profondo": profondo})
        assert result.attempted > 0 and result.failed == 0, (name, result)


def test_the_jacobian_of_a_layer_without_bias_is_its_weight():
    layer = nn.Linear(3, 2, bias=False)
    x = profondo.randn(3)
    np.testing.assert_array_equal(jacobian(layer, x).numpy(), layer.weight.numpy())
    batch = profondo.randn(5, 3)  # per sample: block (i, :, i, :) is W, other samples 0
    J = jacobian(layer, batch).numpy()
    assert J.shape == (5, 2, 5, 3)
    for i in range(5):
        for j in range(5):
            np.testing.assert_array_equal(J[i, :, j, :], layer.weight.numpy() if i == j else 0)


# Functions written once for both libraries: ``lib`` is profondo or torch.
def _two_in_two_out(lib):
    def f(a, b):
        return (lib.tanh(a) * b, (a @ b).exp())
    return f


def _one_in(lib):
    def f(a):
        return lib.sigmoid(a) * a.sum()
    return f


def _scalar(lib):
    def f(a, b):
        return (lib.tanh(a) @ b).sum() * (b * b).sum()
    return f


def _both(values):
    return profondo.tensor(values, dtype="float64"), torch.tensor(values)


def _compare(ours, theirs):
    if isinstance(theirs, (tuple, list)):
        assert isinstance(ours, tuple) and len(ours) == len(theirs)
        for o, t in zip(ours, theirs):
            _compare(o, t)
        return
    assert isinstance(ours, profondo.Tensor)
    np.testing.assert_allclose(ours.numpy(), theirs.detach().numpy(), rtol=1e-10, atol=1e-12)


@needs_torch
@pytest.mark.parametrize("create_graph", [False, True])
def test_jacobian_against_torch(create_graph):
    (a, at), (b, bt) = _both(A), _both(B)
    _compare(jacobian(_two_in_two_out(profondo), (a, b), create_graph=create_graph),
             TAF.jacobian(_two_in_two_out(torch), (at, bt), create_graph=create_graph))
    _compare(jacobian(_one_in(profondo), a), TAF.jacobian(_one_in(torch), at))
    _compare(jacobian(_one_in(profondo), a, vectorize=True), TAF.jacobian(_one_in(torch), at, vectorize=True))


@needs_torch
def test_hessian_against_torch():
    (a, at), (b, bt) = _both(A), _both(B)
    _compare(hessian(_scalar(profondo), (a, b)), TAF.hessian(_scalar(torch), (at, bt)))
    _compare(hessian(lambda x: (x.tanh() ** 3).sum(), a), TAF.hessian(lambda x: (x.tanh() ** 3).sum(), at))


@needs_torch
def test_products_against_torch():
    (a, at), (b, bt) = _both(A), _both(B)
    (va, vat), (vb, vbt) = _both(RNG.standard_normal(A.shape)), _both(RNG.standard_normal(B.shape))
    (u1, u1t), (u2, u2t) = _both(RNG.standard_normal(A.shape)), _both(RNG.standard_normal((3,)))
    _compare(vjp(_two_in_two_out(profondo), (a, b), (u1, u2)), TAF.vjp(_two_in_two_out(torch), (at, bt), (u1t, u2t)))
    _compare(jvp(_two_in_two_out(profondo), (a, b), (va, vb)), TAF.jvp(_two_in_two_out(torch), (at, bt), (vat, vbt)))
    _compare(hvp(_scalar(profondo), (a, b), (va, vb)), TAF.hvp(_scalar(torch), (at, bt), (vat, vbt)))
    _compare(vhp(_scalar(profondo), (a, b), (va, vb)), TAF.vhp(_scalar(torch), (at, bt), (vat, vbt)))
    _compare(vjp(lambda x: (x * x).sum(), a), TAF.vjp(lambda x: (x * x).sum(), at))


@needs_torch
def test_create_graph_lets_a_product_be_differentiated_again():
    (a, at), (v, vt) = _both(A), _both(RNG.standard_normal(A.shape))
    a.requires_grad_(), at.requires_grad_()
    _, ours = hvp(lambda x: (x.tanh() ** 3).sum(), a, v, create_graph=True)
    _, theirs = TAF.hvp(lambda x: (x.tanh() ** 3).sum(), at, vt, create_graph=True)
    _compare(ours, theirs)
    _compare(grad(ours.sum(), a)[0], torch.autograd.grad(theirs.sum(), at)[0])


def test_results_are_cut_from_the_graph_without_create_graph():
    a = profondo.tensor(A, dtype="float64", requires_grad=True)
    out, g = vjp(lambda x: (x * x).sum(), a)
    assert out.creator is None and g.creator is None and a.grad is None


def test_strict_and_shape_errors():
    a = profondo.tensor(A, dtype="float64")
    with pytest.raises(RuntimeError, match=r"jacobian of output 0 \(strict=True\): the output does not depend on input 1"):
        jacobian(lambda x, y: x * 2, (a, a), strict=True)
    zeros = jacobian(lambda x, y: x * 2, (a, a))[1]
    np.testing.assert_array_equal(zeros.numpy(), np.zeros(A.shape * 2))
    with pytest.raises(RuntimeError, match=r"vjp: v may be omitted only when the outputs of func has a single element"):
        vjp(lambda x: x * 2, a)
    with pytest.raises(ValueError, match=r"jvp: v has shapes \[\(2,\)\], expected those of inputs, \[\(3, 4\)\]"):
        jvp(lambda x: x * 2, a, profondo.zeros(2))
    with pytest.raises(RuntimeError, match=r"hessian: func must return a Tensor with a single element, received \(3, 4\)"):
        hessian(lambda x: x * 2, a)
    with pytest.raises(TypeError, match="inputs must be a Tensor or a tuple of Tensors, but item 0 is a ndarray"):
        jacobian(lambda x: x, A)


# --- use 1: a gradient penalty (WGAN-GP style), trained -----------------------------------------
def _critic():
    profondo.manual_seed(0)
    return nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 1))


def _penalty(critic, x, lib):
    """mean over samples of (|d critic / d x| - 1)^2, with the input gradient recorded."""
    if lib is torch:
        (g,) = torch.autograd.grad(critic(x).sum(), x, create_graph=True)
    else:
        (g,) = grad(critic(x).sum(), x, create_graph=True)
    norm = ((g * g).sum(1) + 1e-12) ** 0.5
    return ((norm - 1) ** 2).mean()


@needs_torch
def test_gradient_penalty_gradient_matches_torch():
    critic = _critic()
    reference = torch.nn.Sequential(torch.nn.Linear(2, 16), torch.nn.Tanh(), torch.nn.Linear(16, 1))
    reference.load_state_dict({k: torch.tensor(np.asarray(v)) for k, v in critic.state_dict().items()})
    x_np = np.random.default_rng(1).standard_normal((8, 2)).astype(np.float32)
    x = profondo.tensor(x_np, requires_grad=True)
    xt = torch.tensor(x_np, requires_grad=True)
    params = list(critic.parameters())
    ours = grad(_penalty(critic, x, profondo), params, allow_unused=True)
    theirs = torch.autograd.grad(_penalty(reference, xt, torch), list(reference.parameters()), allow_unused=True)
    assert ours[-1] is None and theirs[-1] is None  # the last bias does not change d critic / d x
    for o, t in zip(ours[:-1], theirs[:-1]):
        np.testing.assert_allclose(o.numpy(), t.numpy(), rtol=1e-4, atol=1e-5)


def test_gradient_penalty_trains():
    critic = _critic()
    rng = np.random.default_rng(2)
    opt = optim.Adam(critic.parameters(), lr=0.01)
    real = profondo.tensor(rng.standard_normal((64, 2)) + 2.0, dtype="float32")
    fake = profondo.tensor(rng.standard_normal((64, 2)) - 2.0, dtype="float32")
    losses, penalties = [], []
    for _ in range(60):
        eps = profondo.tensor(rng.random((64, 1)), dtype="float32")
        mix = (eps * real + (1 - eps) * fake).detach().requires_grad_()
        penalty = _penalty(critic, mix, profondo)
        loss = critic(fake).mean() - critic(real).mean() + 10 * penalty
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
        penalties.append(penalty.item())
    assert np.mean(losses[-10:]) < np.mean(losses[:10]) - 1.0, (losses[:10], losses[-10:])
    assert penalties[-1] < 0.5 * penalties[0] or penalties[-1] < 0.05, penalties


# --- use 2: a Hessian-vector product of a network's loss, against differences of gradients -------
def test_hessian_vector_product_matches_finite_differences_of_gradients():
    rng = np.random.default_rng(3)
    x = profondo.tensor(rng.standard_normal((16, 5)), dtype="float64")
    labels = profondo.tensor(rng.integers(0, 3, 16))
    shapes = [(8, 5), (8,), (3, 8), (3,)]
    theta = [profondo.tensor(rng.standard_normal(s) * 0.5, dtype="float64") for s in shapes]
    v = [profondo.tensor(rng.standard_normal(s), dtype="float64") for s in shapes]

    def loss(w1, b1, w2, b2):
        return F.cross_entropy(F.linear(F.tanh(F.linear(x, w1, b1)), w2, b2), labels)

    _, hv = hvp(loss, tuple(theta), tuple(v))

    def gradient(params):
        ps = [profondo.tensor(p.numpy(), dtype="float64", requires_grad=True) for p in params]
        return [g.numpy() for g in grad(loss(*ps), ps)]

    eps = 1e-5
    up = gradient([profondo.tensor(p.numpy() + eps * d.numpy(), dtype="float64") for p, d in zip(theta, v)])
    down = gradient([profondo.tensor(p.numpy() - eps * d.numpy(), dtype="float64") for p, d in zip(theta, v)])
    for ours, u, d in zip(hv, up, down):
        np.testing.assert_allclose(ours.numpy(), (u - d) / (2 * eps), rtol=1e-6, atol=1e-8)


# --- use 3: Newton's method on a logistic regression ---------------------------------------------
def test_newton_converges_in_a_few_steps_to_sklearns_optimum():
    sklearn = pytest.importorskip("sklearn.linear_model")
    rng = np.random.default_rng(4)
    n, lam = 200, 1e-2
    features = rng.standard_normal((n, 3))
    targets = (rng.random(n) < 1 / (1 + np.exp(-(features @ [1.5, -2.0, 0.5] + 0.3)))).astype(np.float64)
    X, y = profondo.tensor(features, dtype="float64"), profondo.tensor(targets, dtype="float64")

    def objective(w):  # mean log-loss + lam/2 |weights|^2 (the intercept w[3] is not penalised)
        logits = X @ w[:3] + w[3]
        return F.binary_cross_entropy_with_logits(logits, y) + 0.5 * lam * (w[:3] * w[:3]).sum()

    w = profondo.zeros(4, dtype="float64")
    norms = []
    for _ in range(8):
        _, g = vjp(objective, w)
        norms.append(float(np.abs(g.numpy()).max()))
        if norms[-1] < 1e-12:
            break
        w = w - profondo.tensor(np.linalg.solve(hessian(objective, w).numpy(), g.numpy()))
    assert len(norms) <= 8 and norms[-1] < 1e-12, norms  # quadratic convergence: a handful of steps
    reference = sklearn.LogisticRegression(C=1 / (lam * n), tol=1e-12, max_iter=10_000).fit(features, targets)
    np.testing.assert_allclose(w.numpy(), [*reference.coef_[0], reference.intercept_[0]], atol=1e-5)
