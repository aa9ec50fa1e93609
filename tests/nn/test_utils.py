import math

import numpy as np
import pytest

from profondo import nn, optim
from profondo.tensor import Tensor


def _params(grads):
    params = []
    for g in grads:
        p = nn.Parameter(np.zeros_like(g))
        p.grad = Tensor(g)
        params.append(p)
    return params


@pytest.mark.parametrize("norm_type", [2.0, 1.0, math.inf])
def test_clip_grad_norm_matches_torch_and_is_out_of_place(norm_type):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    grads = [rng.standard_normal(s).astype(np.float32) * 3 for s in ((4, 3), (3,))]
    originals = [g.copy() for g in grads]
    params = _params(grads)
    theirs = [torch.nn.Parameter(torch.zeros(g.shape)) for g in grads]
    for q, g in zip(theirs, grads):
        q.grad = torch.from_numpy(g.copy())
    total = optim.clip_grad_norm_(params, 1.5, norm_type)
    expected = torch.nn.utils.clip_grad_norm_(theirs, 1.5, norm_type)
    assert total.item() == pytest.approx(expected.item(), rel=1e-5)
    for p, q, g, orig in zip(params, theirs, grads, originals):
        np.testing.assert_allclose(p.grad.data, q.grad.numpy(), rtol=1e-5)
        np.testing.assert_array_equal(g, orig)  # the original gradient arrays are untouched
    clipped = np.concatenate([p.grad.data.ravel() for p in params])
    assert np.linalg.norm(clipped, norm_type) == pytest.approx(1.5, rel=1e-4)


def test_clip_grad_norm_leaves_small_gradients_and_skips_missing():
    params = _params([np.array([0.3, 0.4], np.float32)])
    params.append(nn.Parameter(np.zeros(2, np.float32)))
    grad = params[0].grad.data
    assert optim.clip_grad_norm_(params, 1.0).item() == pytest.approx(0.5)
    assert params[0].grad.data is grad and params[1].grad is None
    assert optim.clip_grad_norm_(params[1], 1.0).item() == 0.0
    bad = _params([np.array([np.inf, 1.0], np.float32)])
    with pytest.raises(RuntimeError, match="total 2-norm of the gradients is inf"):
        optim.clip_grad_norm_(bad, 1.0, error_if_nonfinite=True)


def test_clip_grad_value_is_out_of_place():
    torch = pytest.importorskip("torch")
    g = np.array([-3.0, 0.2, 0.9, 5.0], np.float32)
    original = g.copy()
    (p,) = _params([g])
    q = torch.nn.Parameter(torch.zeros(4))
    q.grad = torch.from_numpy(g.copy())
    optim.clip_grad_value_([p], 0.5)
    torch.nn.utils.clip_grad_value_([q], 0.5)
    np.testing.assert_array_equal(p.grad.data, q.grad.numpy())
    np.testing.assert_array_equal(g, original)
    assert p.grad.data is not g
    with pytest.raises(ValueError, match="clip_value must be >= 0"):
        optim.clip_grad_value_([p], -1)


def test_clipping_lives_in_nn_utils_as_in_pytorch_and_optim_names_the_same_functions():
    assert nn.utils.clip_grad_norm_ is optim.clip_grad_norm_
    assert nn.utils.clip_grad_value_ is optim.clip_grad_value_
