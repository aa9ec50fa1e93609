"""batch_norm: training (batch statistics, running averages updated as PyTorch does) and
evaluation, on (N, C), (N, C, L) and (N, C, H, W) inputs."""

import numpy as np
import pytest

import profondo
import profondo.functional as F
from tests.conftest import positive, randn
from tests.functional.harness import Case, operator_tests

try:
    import torch
    import torch.nn.functional as TF
except ImportError:  # parity tests skip without torch
    torch = TF = None

C = 3
SHAPES = {"NC": (6, C), "NCL": (2, C, 4), "NCHW": (2, C, 3, 2)}
RUNNING_MEAN = np.array([0.5, -1.0, 0.2], np.float32)
RUNNING_VAR = np.array([1.5, 0.3, 2.0], np.float32)


def _stats(torch_side=False):
    """Fresh copies of the running statistics (each call may update them in place)."""
    rm, rv = RUNNING_MEAN.copy(), RUNNING_VAR.copy()
    return (torch.from_numpy(rm), torch.from_numpy(rv)) if torch_side else (rm, rv)


def _fns(training, affine, transform=lambda x: x):
    def ours(x, *wb):
        stats = (profondo.tensor(s, device=x.device) for s in _stats())  # on the input's device
        return F.batch_norm(transform(x), *stats, *wb, training=training)

    def theirs(x, *wb):
        return TF.batch_norm(transform(x), *_stats(True), *wb, training=training)

    return ours, theirs


def _inputs(shape, affine, seed=0, rng=None):
    rng = np.random.default_rng(seed) if rng is None else rng
    x = randn(rng, *shape, scale=2) + 1
    return [x, positive(rng, C), randn(rng, C)] if affine else [x]


GRID = [(s, t, a) for s in SHAPES for t in (True, False) for a in (True, False)]
IDS = [f"{s}-{'train' if t else 'eval'}-{'affine' if a else 'plain'}" for s, t, a in GRID]


def _bn_twice(batch_norm):
    return lambda x, w, b: batch_norm(x, None, None, w, b, training=True) * x + x.mean()


def _channels_last(rng):
    return [randn(rng, 2, 3, 2, C), positive(rng, C), randn(rng, C)]


CASES = [
    *[Case(name, *_fns(t, a), lambda rng, s=s, a=a: _inputs(SHAPES[s], a, rng=rng)) for name, (s, t, a) in zip(IDS, GRID)],
    *[Case(f"channels_last_input-{'train' if t else 'eval'}", *_fns(t, True, lambda x: x.permute(0, 3, 1, 2)), _channels_last)
      for t in (True, False)],
    Case("input_used_twice", _bn_twice(F.batch_norm), _bn_twice(lambda *a, **k: TF.batch_norm(*a, **k)),
         lambda rng: _inputs(SHAPES["NCHW"], True, rng=rng)),
]
test_gradcheck, test_parity, test_float32 = operator_tests(CASES)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("momentum", [0.1, 0.5])
def test_parity_running_statistics(shape, momentum):
    """Two training steps update running_mean/var (the variance unbiased) exactly as PyTorch."""
    torch = pytest.importorskip("torch")
    rm, rv = _stats()
    trm, trv = _stats(torch_side=True)
    for seed in (0, 1):
        x = _inputs(SHAPES[shape], False, seed)[0]
        y = F.batch_norm(profondo.tensor(x), profondo.from_numpy(rm), rv, training=True, momentum=momentum)
        ty = torch.nn.functional.batch_norm(torch.from_numpy(x), trm, trv, training=True, momentum=momentum)
        np.testing.assert_allclose(y.numpy(), ty.numpy(), rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(rm, trm.numpy(), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(rv, trv.numpy(), rtol=1e-5, atol=1e-6)
    assert rm.dtype == rv.dtype == np.float32 and not np.allclose(rm, RUNNING_MEAN)


def test_eval_mode_leaves_running_statistics_alone():
    rm, rv = _stats()
    y = F.batch_norm(profondo.tensor(_inputs((4, C), False)[0]), rm, rv, training=False)
    np.testing.assert_array_equal(rm, RUNNING_MEAN)
    expected = (_inputs((4, C), False)[0] - RUNNING_MEAN) / np.sqrt(RUNNING_VAR + 1e-5)
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("call, error, message", [
    (lambda: F.batch_norm(profondo.ones(1, C), training=True), ValueError,
     r"batch_norm: training needs more than one value per channel, received input \(1, 3\)"),
    (lambda: F.batch_norm(profondo.ones(4, C), *_stats(), profondo.ones(2), profondo.ones(2)), ValueError,
     r"batch_norm: weight of shape \(2,\), expected \(3,\) for input \(4, 3\)"),
    (lambda: F.batch_norm(profondo.ones(4, C + 1), *_stats(), training=True), ValueError,
     r"batch_norm: running_mean of shape \(3,\), expected \(4,\)"),
    (lambda: F.batch_norm(profondo.ones(4, C), training=False), ValueError,
     r"batch_norm: evaluation mode needs running_mean and running_var"),
    (lambda: F.batch_norm(profondo.ones(4, C), weight=profondo.ones(C), training=True), ValueError,
     r"batch_norm: give both weight and bias, or neither"),
    (lambda: F.batch_norm(profondo.ones(4), training=True), ValueError,
     r"batch_norm: expected input of shape \(N, C, ...\), received \(4,\)"),
])
def test_errors(call, error, message):
    with pytest.raises(error, match=message):
        call()


def _lrn(size, alpha=1e-4, beta=0.75, k=1.0, torch_side=False):
    if torch_side:
        return lambda x: TF.local_response_norm(x, size, alpha, beta, k)
    return lambda x: F.local_response_norm(x, size, alpha, beta, k)


LRN_GRID = {"size5-NCHW": ((2, 7, 3, 3), (5, 1e-4, 0.75, 1.0)), "size2-even-NCL": ((2, 4, 5), (2, 0.5, 0.6, 2.0)),
            "size4-NCDHW": ((1, 5, 2, 2, 2), (4, 0.3, 1.5, 1.0)), "size1": ((2, 3, 4), (1, 1.0, 0.5, 1.0)),
            "wider-than-channels": ((2, 3, 2, 2), (7, 2.0, 0.75, 1.5))}
LRN_CASES = [
    *[Case(f"local_response_norm-{name}", _lrn(*args), _lrn(*args, torch_side=True), [shape])
      for name, (shape, args) in LRN_GRID.items()],
    Case("local_response_norm-used_twice", lambda x: F.local_response_norm(x, 3, 0.5) * x,
         lambda x: TF.local_response_norm(x, 3, 0.5) * x, [(2, 4, 3)]),
    Case("local_response_norm-noncontiguous", lambda x: F.local_response_norm(F.permute(x, (0, 3, 1, 2)), 3, 0.5),
         lambda x: TF.local_response_norm(x.permute(0, 3, 1, 2), 3, 0.5), [(2, 3, 3, 5)]),
    Case("local_response_norm-broadcast_scale", lambda x, s: F.local_response_norm(x * s, 3, 0.5),
         lambda x, s: TF.local_response_norm(x * s, 3, 0.5), [(2, 4, 3), (4, 1)]),
]
test_lrn_gradcheck, test_lrn_parity, test_lrn_float32 = operator_tests(LRN_CASES)


def test_local_response_norm_checks_its_input():
    with pytest.raises(ValueError, match=r"expected input of shape \(N, C, \.\.\.\) with at least 3"):
        F.local_response_norm(profondo.randn(2, 3), 3)
    with pytest.raises(ValueError, match="size must be a positive integer, received 0"):
        F.local_response_norm(profondo.randn(2, 3, 4), 0)
