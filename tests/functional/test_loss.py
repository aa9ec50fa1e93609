"""Losses: cross_entropy (fused), nll_loss, mse_loss, binary_cross_entropy_with_logits,
smooth_l1_loss, huber_loss; label checks."""

import numpy as np
import pytest

import profondo
import profondo.functional as F
from tests.conftest import labels, randn
from tests.functional.harness import Case, operator_tests

try:
    import torch
    import torch.nn.functional as TF
except ImportError:  # parity tests skip without torch
    torch = TF = None

C = 4
LOGIT_SHAPES = {"NC": (5, C), "NCd": (3, C, 2), "NCdd": (2, C, 2, 3)}
REDUCTIONS = ["mean", "sum", "none"]


def _ce_inputs(shape, ignore, rng=None):
    rng = np.random.default_rng(0) if rng is None else rng
    x, y = randn(rng, *shape, scale=2), labels(rng, C, shape[0], *shape[2:])
    if ignore:
        y.flat[::3] = -100  # every third target ignored
    return [x, y]


CE_GRID = [(s, r, eps, ignore) for s in LOGIT_SHAPES for r in REDUCTIONS for eps in (0.0, 0.1) for ignore in (False, True)]
CE_IDS = [f"{s}-{r}-smooth{eps}-{'ignore' if i else 'all'}" for s, r, eps, i in CE_GRID]


def _ce(reduction, eps, ignore):
    return lambda x, y: F.cross_entropy(x, y, reduction=reduction, label_smoothing=eps,
                                        ignore_index=-100 if ignore else None)


def _torch_ce(reduction, eps):
    return lambda x, y: TF.cross_entropy(x, y, reduction=reduction, label_smoothing=eps, ignore_index=-100)


CE_CASES = [Case(f"cross_entropy-{name}", _ce(r, eps, ignore), _torch_ce(r, eps),
                 lambda rng, s=s, ignore=ignore: _ce_inputs(LOGIT_SHAPES[s], ignore, rng))
            for name, (s, r, eps, ignore) in zip(CE_IDS, CE_GRID)]


NLL_GRID = [(s, r, ignore) for s in ("NC", "NCd") for r in REDUCTIONS for ignore in (False, True)]
NLL_IDS = [f"{s}-{r}-{'ignore' if i else 'all'}" for s, r, i in NLL_GRID]


def _nll(reduction, ignore):
    return lambda x, y: F.nll_loss(F.log_softmax(x, 1), y, reduction=reduction, ignore_index=-100 if ignore else None)


def _torch_nll(reduction):
    return lambda x, y: TF.nll_loss(x.log_softmax(1), y, reduction=reduction)


NLL_CASES = [Case(f"nll_loss-{name}", _nll(r, ignore), _torch_nll(r),
                  lambda rng, s=s, ignore=ignore: _ce_inputs(LOGIT_SHAPES[s], ignore, rng))
             for name, (s, r, ignore) in zip(NLL_IDS, NLL_GRID)]


def _pair(rng, shape=(3, 4)):
    return [randn(rng, *shape, scale=2), randn(rng, *shape, scale=2)]


def _bce_inputs(rng):
    return [randn(rng, 3, 4, scale=3), rng.uniform(0, 1, (3, 4)).astype(np.float32)]


# name: (profondo loss(a, b, reduction), torch loss(a, b, reduction), inputs). Both inputs differentiable.
REGRESSION = {
    "mse_loss": (lambda a, b, r: F.mse_loss(a, b, reduction=r), lambda a, b, r: TF.mse_loss(a, b, reduction=r), _pair),
    "bce_with_logits": (lambda a, b, r: F.binary_cross_entropy_with_logits(a, b, reduction=r),
                        lambda a, b, r: TF.binary_cross_entropy_with_logits(a, b, reduction=r), _bce_inputs),
    "smooth_l1_loss": (lambda a, b, r: F.smooth_l1_loss(a, b, reduction=r), lambda a, b, r: TF.smooth_l1_loss(a, b, reduction=r), _pair),
    "smooth_l1_loss_beta": (lambda a, b, r: F.smooth_l1_loss(a, b, reduction=r, beta=0.5),
                            lambda a, b, r: TF.smooth_l1_loss(a, b, reduction=r, beta=0.5), _pair),
    "huber_loss": (lambda a, b, r: F.huber_loss(a, b, reduction=r), lambda a, b, r: TF.huber_loss(a, b, reduction=r), _pair),
    "huber_loss_delta": (lambda a, b, r: F.huber_loss(a, b, reduction=r, delta=2.0),
                         lambda a, b, r: TF.huber_loss(a, b, reduction=r, delta=2.0), _pair),
}
REG_GRID = [(n, r) for n in REGRESSION for r in REDUCTIONS]


REG_CASES = [Case(f"{name}-{r}", lambda a, b, fn=fn, r=r: fn(a, b, r), lambda a, b, fn=torch_fn, r=r: fn(a, b, r), make)
             for name, r in REG_GRID for fn, torch_fn, make in [REGRESSION[name]]]


# Graph shapes: non-contiguous logits, a tensor used twice, empty batches.
CASES = [
    Case("cross_entropy_transposed", lambda x, y: F.cross_entropy(x.T, y), lambda x, y: TF.cross_entropy(x.T, y),
                                     lambda r: [randn(r, C, 5), labels(r, C, 5)]),
    Case("cross_entropy_strided", lambda x, y: F.cross_entropy(x[::2], y), lambda x, y: TF.cross_entropy(x[::2], y),
                                  lambda r: [randn(r, 6, C), labels(r, C, 3)]),
    Case("cross_entropy_plus_l2", lambda x, y: F.cross_entropy(x, y) + (x * x).mean(),
                                  lambda x, y: TF.cross_entropy(x, y) + (x * x).mean(), lambda r: [randn(r, 5, C), labels(r, C, 5)]),
    Case("cross_entropy_empty_none", lambda x, y: F.cross_entropy(x, y, reduction="none"),
                                     lambda x, y: TF.cross_entropy(x, y, reduction="none"), lambda r: [randn(r, 0, C), labels(r, C, 0)]),
    Case("mse_same_tensor", lambda a: F.mse_loss(a, a * 0.5), lambda a: TF.mse_loss(a, a * 0.5), lambda r: [randn(r, 3, 2)]),
    Case("mse_transposed", lambda a, b: F.mse_loss(a.T, b), lambda a, b: TF.mse_loss(a.T, b), lambda r: [randn(r, 2, 3), randn(r, 3, 2)]),
    Case("bce_size1", F.binary_cross_entropy_with_logits, lambda x, y: TF.binary_cross_entropy_with_logits(x, y),
                      lambda r: [randn(r, 1, 1), np.ones((1, 1), np.float32)]),
]


CASES += [
    Case("cross_entropy_ignores_minus_100", lambda x, y: F.cross_entropy(x, y), lambda x, y: TF.cross_entropy(x, y),
         lambda r: [randn(r, 5, C), np.array([0, -100, 2, -100, 1], np.int64)]),
    Case("nll_ignores_minus_100", lambda x, y: F.nll_loss(F.log_softmax(x, 1), y),
         lambda x, y: TF.nll_loss(x.log_softmax(1), y), lambda r: [randn(r, 4, C), np.array([-100, 1, 2, 0], np.int64)]),
    Case("l1_loss", lambda a, b: F.l1_loss(a, b), lambda a, b: TF.l1_loss(a, b), lambda r: _pair(r)),
    Case("bce_probabilities", lambda p, t: F.binary_cross_entropy(p, t), lambda p, t: TF.binary_cross_entropy(p, t),
         lambda r: [r.uniform(0.1, 0.9, (3, 4)).astype(np.float32), r.uniform(0, 1, (3, 4)).astype(np.float32)]),
    # Saturated probabilities (a float32 sigmoid gives exact 0 and 1): PyTorch's finite gradient,
    # not the 0 x inf of a clamped log's derivative. Central differences cannot step past 0 or 1.
    Case("bce_saturated_probabilities", lambda p, t: F.binary_cross_entropy(p, t),
         lambda p, t: TF.binary_cross_entropy(p, t), gradcheck=False, atol=1e-3,
         inputs=lambda r: [np.array([[0.0, 1.0, 0.3], [1.0, 0.0, 0.5]], np.float32),
                           np.array([[0.0, 1.0, 1.0], [1.0, 0.0, 0.25]], np.float32)]),
    Case("bce_with_logits_pos_weight", lambda x, t: F.binary_cross_entropy_with_logits(x, t, pos_weight=2.0),
         lambda x, t: TF.binary_cross_entropy_with_logits(x, t, pos_weight=torch.tensor(2.0)), _bce_inputs),
    Case("kl_div_batchmean", lambda a, b: F.kl_div(F.log_softmax(a, 1), F.softmax(b, 1), reduction="batchmean"),
         lambda a, b: TF.kl_div(a.log_softmax(1), b.softmax(1), reduction="batchmean"), [(3, 4), (3, 4)]),
]

test_gradcheck, test_parity, test_float32 = operator_tests(CE_CASES + NLL_CASES + REG_CASES + CASES)


def test_cross_entropy_ignores_targets_in_the_mean():
    x, y = _ce_inputs((6, C), ignore=True)
    full = F.cross_entropy(profondo.tensor(x), y, reduction="none", ignore_index=-100).numpy()
    assert (full[y == -100] == 0).all()
    mean = F.cross_entropy(profondo.tensor(x), y, ignore_index=-100).item()
    assert mean == pytest.approx(full.sum() / (y != -100).sum(), rel=1e-6)


@pytest.mark.parametrize("fn", [F.cross_entropy, F.nll_loss])
def test_labels_must_be_integers(fn):
    with pytest.raises(TypeError, match=r"labels must be integers \(int64 class indices\), received dtype float32"):
        fn(profondo.zeros(3, C), np.zeros(3, np.float32))


@pytest.mark.parametrize("bad", [C, -1])
@pytest.mark.parametrize("fn", [F.cross_entropy, F.nll_loss])
def test_labels_out_of_range(fn, bad):
    with pytest.raises(ValueError, match=rf"label {bad} is out of range for {C} classes \(expected 0..{C - 1}\)"):
        fn(profondo.zeros(3, C), np.array([0, bad, 1]))


def test_labels_shape_must_match_logits():
    with pytest.raises(ValueError, match=r"cross_entropy: logits of shape \(3, 4, 2\) need labels of shape \(3, 2\), received \(3,\)"):
        F.cross_entropy(profondo.zeros(3, C, 2), np.zeros(3, np.int64))


@pytest.mark.parametrize("fn", [F.cross_entropy, F.nll_loss, F.mse_loss, F.binary_cross_entropy_with_logits,
                                F.smooth_l1_loss, F.huber_loss])
def test_unknown_reduction(fn):
    with pytest.raises(ValueError, match=r"reduction must be one of \('mean', 'sum', 'none'\), received 'avg'"):
        fn(profondo.zeros(2, C), np.zeros(2, np.int64) if fn in (F.cross_entropy, F.nll_loss) else profondo.zeros(2, C),
           reduction="avg")


@pytest.mark.parametrize("fn", [F.mse_loss, F.binary_cross_entropy_with_logits, F.smooth_l1_loss, F.huber_loss])
def test_regression_shape_mismatch(fn):
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(3, 2\)"):
        fn(profondo.zeros(2, 3), profondo.zeros(3, 2))
