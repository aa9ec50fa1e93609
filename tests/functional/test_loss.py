"""Losses: cross_entropy (fused), nll_loss, mse_loss, binary_cross_entropy_with_logits,
smooth_l1_loss, huber_loss; label checks."""

import numpy as np
import pytest

import profondo
import profondo.functional as F
from tests.conftest import check_float32, check_gradients, labels, randn, torch_parity

try:
    import torch
    import torch.nn.functional as TF
except ImportError:  # parity tests skip through torch_parity
    torch = TF = None

C = 4
LOGIT_SHAPES = {"NC": (5, C), "NCd": (3, C, 2), "NCdd": (2, C, 2, 3)}
REDUCTIONS = ["mean", "sum", "none"]


def _ce_inputs(shape, ignore):
    rng = np.random.default_rng(0)
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


@pytest.mark.parametrize("shape, reduction, eps, ignore", CE_GRID, ids=CE_IDS)
def test_gradcheck_cross_entropy(shape, reduction, eps, ignore):
    check_gradients(_ce(reduction, eps, ignore), _ce_inputs(LOGIT_SHAPES[shape], ignore))


@pytest.mark.parametrize("shape, reduction, eps, ignore", CE_GRID, ids=CE_IDS)
def test_parity_cross_entropy(shape, reduction, eps, ignore):
    torch_parity(_ce(reduction, eps, ignore), _torch_ce(reduction, eps), _ce_inputs(LOGIT_SHAPES[shape], ignore))


NLL_GRID = [(s, r, ignore) for s in ("NC", "NCd") for r in REDUCTIONS for ignore in (False, True)]
NLL_IDS = [f"{s}-{r}-{'ignore' if i else 'all'}" for s, r, i in NLL_GRID]


def _nll(reduction, ignore):
    return lambda x, y: F.nll_loss(F.log_softmax(x, 1), y, reduction=reduction, ignore_index=-100 if ignore else None)


@pytest.mark.parametrize("shape, reduction, ignore", NLL_GRID, ids=NLL_IDS)
def test_gradcheck_nll_loss(shape, reduction, ignore):
    check_gradients(_nll(reduction, ignore), _ce_inputs(LOGIT_SHAPES[shape], ignore))


@pytest.mark.parametrize("shape, reduction, ignore", NLL_GRID, ids=NLL_IDS)
def test_parity_nll_loss(shape, reduction, ignore):
    torch_parity(_nll(reduction, ignore), lambda x, y: TF.nll_loss(x.log_softmax(1), y, reduction=reduction),
                 _ce_inputs(LOGIT_SHAPES[shape], ignore))


def _pair(rng, shape=(3, 4)):
    return [randn(rng, *shape, scale=2), randn(rng, *shape, scale=2)]


def _bce_inputs(rng):
    return [randn(rng, 3, 4, scale=3), rng.uniform(0, 1, (3, 4)).astype(np.float32)]


# name: (profondo loss(a, b, reduction), torch loss(a, b, reduction), inputs). Both inputs differentiable.
REGRESSION = {
    "mse_loss": (F.mse_loss, lambda a, b, r: TF.mse_loss(a, b, reduction=r), _pair),
    "bce_with_logits": (F.binary_cross_entropy_with_logits,
                        lambda a, b, r: TF.binary_cross_entropy_with_logits(a, b, reduction=r), _bce_inputs),
    "smooth_l1_loss": (F.smooth_l1_loss, lambda a, b, r: TF.smooth_l1_loss(a, b, reduction=r), _pair),
    "smooth_l1_loss_beta": (lambda a, b, r: F.smooth_l1_loss(a, b, r, beta=0.5),
                            lambda a, b, r: TF.smooth_l1_loss(a, b, reduction=r, beta=0.5), _pair),
    "huber_loss": (F.huber_loss, lambda a, b, r: TF.huber_loss(a, b, reduction=r), _pair),
    "huber_loss_delta": (lambda a, b, r: F.huber_loss(a, b, r, delta=2.0),
                         lambda a, b, r: TF.huber_loss(a, b, reduction=r, delta=2.0), _pair),
}
REG_GRID = [(n, r) for n in REGRESSION for r in REDUCTIONS]


@pytest.mark.parametrize("name, reduction", REG_GRID)
def test_gradcheck_regression(name, reduction):
    fn, _, make = REGRESSION[name]
    check_gradients(lambda a, b: fn(a, b, reduction), make(np.random.default_rng(0)))


@pytest.mark.parametrize("name, reduction", REG_GRID)
def test_parity_regression(name, reduction):
    fn, torch_fn, make = REGRESSION[name]
    torch_parity(lambda a, b: fn(a, b, reduction), lambda a, b: torch_fn(a, b, reduction), make(np.random.default_rng(0)))


# Graph shapes: non-contiguous logits, a tensor used twice, empty batches.
CASES = {
    "cross_entropy_transposed": (lambda x, y: F.cross_entropy(x.T, y), lambda x, y: TF.cross_entropy(x.T, y),
                                 lambda r: [randn(r, C, 5), labels(r, C, 5)]),
    "cross_entropy_strided": (lambda x, y: F.cross_entropy(x[::2], y), lambda x, y: TF.cross_entropy(x[::2], y),
                              lambda r: [randn(r, 6, C), labels(r, C, 3)]),
    "cross_entropy_plus_l2": (lambda x, y: F.cross_entropy(x, y) + (x * x).mean(),
                              lambda x, y: TF.cross_entropy(x, y) + (x * x).mean(), lambda r: [randn(r, 5, C), labels(r, C, 5)]),
    "cross_entropy_empty_none": (lambda x, y: F.cross_entropy(x, y, reduction="none"),
                                 lambda x, y: TF.cross_entropy(x, y, reduction="none"), lambda r: [randn(r, 0, C), labels(r, C, 0)]),
    "mse_same_tensor": (lambda a: F.mse_loss(a, a * 0.5), lambda a: TF.mse_loss(a, a * 0.5), lambda r: [randn(r, 3, 2)]),
    "mse_transposed": (lambda a, b: F.mse_loss(a.T, b), lambda a, b: TF.mse_loss(a.T, b), lambda r: [randn(r, 2, 3), randn(r, 3, 2)]),
    "bce_size1": (F.binary_cross_entropy_with_logits, TF.binary_cross_entropy_with_logits if TF else None,
                  lambda r: [randn(r, 1, 1), np.ones((1, 1), np.float32)]),
}


@pytest.mark.parametrize("name", CASES)
def test_gradcheck_layouts(name):
    fn, _, make = CASES[name]
    check_gradients(fn, make(np.random.default_rng(0)))


@pytest.mark.parametrize("name", CASES)
def test_parity_layouts(name):
    fn, torch_fn, make = CASES[name]
    torch_parity(fn, torch_fn, make(np.random.default_rng(0)))


@pytest.mark.parametrize("fn, arrays", [
    (lambda x, y: F.cross_entropy(x, y, label_smoothing=0.1, ignore_index=-100), _ce_inputs((3, C, 2), True)),
    (lambda x, y: F.nll_loss(x, y), _ce_inputs((5, C), False)),
    *[(lambda a, b, f=f: f(a, b, "mean"), _pair(np.random.default_rng(0))) for f, _, _ in REGRESSION.values()],
], ids=["cross_entropy", "nll_loss", *REGRESSION])
def test_float32(fn, arrays):
    check_float32(fn, arrays)


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
