"""interpolate (nearest): integer factors (the broadcast path), sizes and fractional factors (the
index path), PyTorch's index rule and output sizes."""

import numpy as np
import pytest

import profondo
import profondo.functional as F
from tests.functional.harness import Case, operator_tests

try:
    import torch
    import torch.nn.functional as TF
except ImportError:  # parity tests skip without torch
    torch = TF = None

SETTINGS = [
    ("x2", {"scale_factor": 2}, (2, 3, 3, 4)),
    ("x3-by-x2", {"scale_factor": (3, 2)}, (1, 2, 2, 3)),
    ("size-up-7x9", {"size": (7, 9)}, (2, 2, 3, 4)),  # not a multiple: the index path
    ("size-down-3", {"size": 3}, (1, 2, 5, 4)),
    ("x1.5-by-x2.5", {"scale_factor": (1.5, 2.5)}, (1, 2, 3, 2)),
    ("x0.5", {"scale_factor": 0.5}, (2, 1, 4, 5)),
    ("size-identity", {"size": (3, 4)}, (1, 2, 3, 4)),
]


def _fns(kw):
    return lambda x: F.interpolate(x, **kw), lambda x: TF.interpolate(x, **kw)


CASES = [Case(name, *_fns(kw), [shape]) for name, kw, shape in SETTINGS] + [
    # a tensor used twice, and inputs that are not contiguous (a transpose, a strided slice)
    Case("x2-times-input", lambda x: F.interpolate(x, scale_factor=2)[:, :, ::2, ::2] * x,
                           lambda x: TF.interpolate(x, scale_factor=2)[:, :, ::2, ::2] * x, [(2, 2, 3, 3)]),
    Case("x2-of-transposed", lambda x: F.interpolate(x.permute(0, 1, 3, 2), scale_factor=2),
                             lambda x: TF.interpolate(x.permute(0, 1, 3, 2), scale_factor=2), [(1, 2, 4, 3)]),
    Case("size-of-strided", lambda x: F.interpolate(x[:, :, ::2], size=(5, 4)),
                            lambda x: TF.interpolate(x[:, :, ::2], size=(5, 4)), [(1, 2, 6, 3)]),
    Case("x2-channels-last", lambda x: F.interpolate(x.permute(0, 3, 1, 2), scale_factor=2),
                             lambda x: TF.interpolate(x.permute(0, 3, 1, 2), scale_factor=2), [(1, 3, 2, 2)]),
    Case("x2-empty-batch", lambda x: F.interpolate(x, scale_factor=2), lambda x: TF.interpolate(x, scale_factor=2),
                           [(0, 2, 2, 2)]),
]
test_gradcheck, test_parity, test_float32 = operator_tests(CASES)


def test_integer_factor_copies_each_pixel_into_a_block():
    x = profondo.tensor(np.arange(4, dtype=np.float32).reshape(1, 1, 2, 2))
    assert F.interpolate(x, scale_factor=2).numpy()[0, 0].tolist() == [
        [0, 0, 1, 1], [0, 0, 1, 1], [2, 2, 3, 3], [2, 2, 3, 3]]


@pytest.mark.skipif(torch is None, reason="needs torch")
@pytest.mark.parametrize("n_in, n_out", [(3, 7), (5, 13), (7, 3), (10, 31), (28, 14), (6, 6)])
def test_size_matches_pytorch_index_rule(n_in, n_out):
    x = np.arange(n_in * n_in, dtype=np.float32).reshape(1, 1, n_in, n_in)
    ours = F.interpolate(profondo.tensor(x), size=(n_out, n_in)).numpy()
    assert np.array_equal(ours, TF.interpolate(torch.tensor(x), size=(n_out, n_in)).numpy())


def test_bad_arguments_say_what_was_expected():
    x = profondo.zeros(1, 1, 2, 2)
    with pytest.raises(NotImplementedError, match="bilinear"):
        F.interpolate(x, scale_factor=2, mode="bilinear")
    with pytest.raises(ValueError, match="exactly one of size and scale_factor"):
        F.interpolate(x)
    with pytest.raises(ValueError, match="exactly one of size and scale_factor"):
        F.interpolate(x, size=4, scale_factor=2)
    with pytest.raises(ValueError, match="4-D"):
        F.interpolate(profondo.zeros(1, 2, 2), scale_factor=2)
    with pytest.raises(ValueError, match="at least 1 x 1"):
        F.interpolate(x, scale_factor=0.25)
