"""max_pool2d and avg_pool2d (tiled fast path and general strided path), global_avg_pool2d."""

import numpy as np
import pytest

import profondo
import profondo.functional as F
from tests.conftest import randn
from tests.functional.harness import Case, operator_tests

try:
    import torch
    import torch.nn.functional as TF
except ImportError:  # parity tests skip without torch
    torch = TF = None

# (kernel, stride, padding, input H x W, path): "tiled" when windows tile the input exactly.
SETTINGS = [
    (2, None, 0, (4, 6), "tiled"),
    ((2, 3), None, 0, (4, 6), "tiled"),
    (2, 2, 0, (5, 5), "general"),  # the last row and column are not covered
    (3, 2, 1, (5, 6), "general"),
    (3, 1, 0, (4, 5), "general"),  # overlapping windows
    (3, 1, 1, (3, 3), "general"),
    ((3, 2), (1, 2), (1, 1), (4, 6), "general"),
    (2, 1, 1, (3, 4), "general"),
]
GRID = [(op, *s) for op in ("max_pool2d", "avg_pool2d") for s in SETTINGS]
IDS = [f"{op}-k{k}-s{s}-p{p}-{hw[0]}x{hw[1]}-{path}".replace(" ", "") for op, k, s, p, hw, path in GRID]


def _fns(op, kernel, stride, padding):
    return (lambda x: getattr(F, op)(x, kernel, stride, padding),
            lambda x: getattr(TF, op)(x, kernel, stride, padding))


def _ties(hw):
    """Rounded values: many equal maxima in a window."""
    return lambda rng: [np.round(randn(rng, 2, 3, *hw))]


GRID_CASES = [Case(name, *_fns(op, k, s, p), [(2, 3, *hw)]) for name, (op, k, s, p, hw, _) in zip(IDS, GRID)]
# Ties go to the first maximum, as in PyTorch; central differences do not apply at a tie.
TIE_CASES = [Case(f"ties-{name}", *_fns(op, k, s, p), _ties(hw), gradcheck=False, seed=1)
             for name, (op, k, s, p, hw, _) in zip(IDS, GRID) if op == "max_pool2d"]


@pytest.mark.parametrize("op, kernel, stride, padding, hw, path", GRID, ids=IDS)
def test_takes_the_expected_path(op, kernel, stride, padding, hw, path):
    y = getattr(F, op)(profondo.zeros(1, 1, *hw, requires_grad=True), kernel, stride, padding)
    assert y.creator.tiled == (path == "tiled")


CASES = [
    Case("max_plus_avg", lambda x: F.max_pool2d(x, 2) + F.avg_pool2d(x, 2), lambda x: TF.max_pool2d(x, 2) + TF.avg_pool2d(x, 2),
                         [(2, 2, 4, 4)]),
    Case("max_times_input", lambda x: F.max_pool2d(x, 2, 1) * x[:, :, 1:, 1:], lambda x: TF.max_pool2d(x, 2, 1) * x[:, :, 1:, 1:],
                            [(1, 2, 3, 3)]),
    Case("max_transposed_tiled", lambda x: F.max_pool2d(x.permute(0, 1, 3, 2), 2), lambda x: TF.max_pool2d(x.permute(0, 1, 3, 2), 2),
                                 [(2, 2, 6, 4)]),
    Case("avg_strided_general", lambda x: F.avg_pool2d(x[:, :, ::2], 3, 1, 1), lambda x: TF.avg_pool2d(x[:, :, ::2], 3, 1, 1),
                                [(2, 2, 8, 4)]),
    Case("max_channels_last", lambda x: F.max_pool2d(x.permute(0, 3, 1, 2), 3, 2), lambda x: TF.max_pool2d(x.permute(0, 3, 1, 2), 3, 2),
                              [(2, 5, 5, 3)]),
    Case("max_size1", lambda x: F.max_pool2d(x, 1), lambda x: TF.max_pool2d(x, 1), [(1, 1, 2, 3)]),
    Case("avg_whole_input", lambda x: F.avg_pool2d(x, (3, 4)), lambda x: TF.avg_pool2d(x, (3, 4)), [(2, 2, 3, 4)]),
    Case("max_empty_batch", lambda x: F.max_pool2d(x, 2), lambda x: TF.max_pool2d(x, 2), [(0, 2, 4, 4)]),
    Case("avg_empty_batch", lambda x: F.avg_pool2d(x, 3, 1, 1), lambda x: TF.avg_pool2d(x, 3, 1, 1), [(0, 2, 4, 4)]),
    Case("global_avg_pool2d", F.global_avg_pool2d, lambda x: x.mean(dim=(2, 3)), [(2, 3, 4, 5)]),
    Case("global_avg_pool2d_twice", lambda x: F.global_avg_pool2d(x * x), lambda x: (x * x).mean(dim=(2, 3)), [(2, 3, 2, 2)]),
]


# Untiled 5x5 inputs (float32 discipline on the general path), and the device check list's pools.
OTHER_CASES = [
    Case("max_k2-5x5", lambda x: F.max_pool2d(x, 2), lambda x: TF.max_pool2d(x, 2), [(2, 3, 5, 5)]),
    Case("avg_k3-s2-p1-5x5", lambda x: F.avg_pool2d(x, 3, 2, 1), lambda x: TF.avg_pool2d(x, 3, 2, 1), [(2, 3, 5, 5)]),
    Case("global_avg_pool2d-5x5", F.global_avg_pool2d, lambda x: x.mean(dim=(2, 3)), [(2, 3, 5, 5)]),
    Case("max_k3-s2-p1-7x7", lambda x: F.max_pool2d(x, 3, 2, 1), lambda x: TF.max_pool2d(x, 3, 2, 1), [(2, 3, 7, 7)]),
    Case("avg_tiled-4x4", lambda x: F.avg_pool2d(x, 2), lambda x: TF.avg_pool2d(x, 2), [(2, 3, 4, 4)]),
]
OTHER_CASES += [
    Case("adaptive_avg_1", lambda x: F.adaptive_avg_pool2d(x, 1), lambda x: TF.adaptive_avg_pool2d(x, 1), [(2, 3, 5, 5)]),
    Case("adaptive_avg_divisible", lambda x: F.adaptive_avg_pool2d(x, (2, 3)),
         lambda x: TF.adaptive_avg_pool2d(x, (2, 3)), [(2, 2, 4, 6)]),
    Case("adaptive_avg_uneven", lambda x: F.adaptive_avg_pool2d(x, (3, 4)),
         lambda x: TF.adaptive_avg_pool2d(x, (3, 4)), [(1, 2, 5, 7)]),
]

test_gradcheck, test_parity, test_float32 = operator_tests(GRID_CASES + TIE_CASES + CASES + OTHER_CASES)


@pytest.mark.parametrize("op", ["max_pool2d", "avg_pool2d"])
def test_window_larger_than_input_shows_the_arithmetic(op):
    with pytest.raises(ValueError, match=rf"{op}: H_out = \(2 - 3 \+ 2\*0\)/3 \+ 1 = 0.666667: the window \(3\) is larger "
                                         r"than the padded input \(2\)"):
        getattr(F, op)(profondo.zeros(1, 1, 2, 5), 3)


@pytest.mark.parametrize("op", ["max_pool2d", "avg_pool2d"])
def test_padding_at_most_half_the_kernel(op):
    with pytest.raises(ValueError, match=rf"{op}: padding \(2, 2\) must be at most half the kernel \(3, 3\)"):
        getattr(F, op)(profondo.zeros(1, 1, 6, 6), 3, 1, 2)


@pytest.mark.parametrize("fn", [lambda x: F.max_pool2d(x, 2), lambda x: F.avg_pool2d(x, 2), F.global_avg_pool2d])
def test_input_must_be_4d(fn):
    with pytest.raises(ValueError, match=r"expected input of shape \(N, C, H, W\), received \(3, 4, 4\)"):
        fn(profondo.zeros(3, 4, 4))
