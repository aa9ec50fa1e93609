"""conv2d over every combination of stride, padding, dilation, groups, bias and kernel shape;
the output-size rule and its errors."""

import itertools

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

N, C, H, W = 2, 4, 5, 5
GROUPS = {"groups1": (1, 3), "groups2": (2, 4), "depthwise": (C, 2 * C)}  # (groups, out_channels)
GRID = list(itertools.product([1, 2], [0, 1], [1, 2], GROUPS, [True, False], [(3, 3), (2, 3)]))
IDS = [f"s{s}-p{p}-d{d}-{g}-{'bias' if b else 'nobias'}-k{k[0]}x{k[1]}" for s, p, d, g, b, k in GRID]


def _inputs(groups, bias, kernel):
    g, out = GROUPS[groups]

    def make(rng):
        arrays = [randn(rng, N, C, H, W), randn(rng, out, C // g, *kernel, scale=0.5)]
        return arrays + [randn(rng, out)] if bias else arrays

    return make


def _fns(stride, padding, dilation, groups):
    g = GROUPS[groups][0]
    return (lambda *a: F.conv2d(*a, stride=stride, padding=padding, dilation=dilation, groups=g),
            lambda *a: TF.conv2d(*a, stride=stride, padding=padding, dilation=dilation, groups=g))


GRID_CASES = [Case(name, *_fns(s, p, d, g), _inputs(g, b, k)) for name, (s, p, d, g, b, k) in zip(IDS, GRID)]


def _conv_twice(x, w):
    return F.conv2d(F.relu(F.conv2d(x, w, padding=1)), w, padding=1)


# Graph shapes and layouts: the input or weight used twice, non-contiguous inputs, tuple
# arguments, size-1 and empty dimensions.
CASES = [
    Case("plus_input", lambda x, w: F.conv2d(x, w, padding=1) + x, lambda x, w: TF.conv2d(x, w, padding=1) + x,
                       [(N, C, H, W), (C, C, 3, 3)]),
    Case("times_input_term", lambda x, w: F.conv2d(x, w) * x.mean(axis=(2, 3), keepdims=True)[:, :3],
                             lambda x, w: TF.conv2d(x, w) * x.mean(dim=(2, 3), keepdim=True)[:, :3], [(N, C, H, W), (3, C, 3, 3)]),
    Case("weight_used_twice", _conv_twice, lambda x, w: TF.conv2d(TF.relu(TF.conv2d(x, w, padding=1)), w, padding=1),
                              [(1, C, 4, 4), (C, C, 3, 3)]),
    Case("input_transposed", lambda x, w: F.conv2d(x.permute(0, 1, 3, 2), w), lambda x, w: TF.conv2d(x.permute(0, 1, 3, 2), w),
                             [(N, C, 4, 5), (3, C, 2, 3)]),
    Case("input_channels_last", lambda x, w: F.conv2d(x.permute(0, 3, 1, 2), w, padding=1),
                                lambda x, w: TF.conv2d(x.permute(0, 3, 1, 2), w, padding=1), [(N, 4, 4, C), (2, C, 3, 3)]),
    Case("input_strided", lambda x, w: F.conv2d(x[:, :, ::2, 1::2], w, stride=1), lambda x, w: TF.conv2d(x[:, :, ::2, 1::2], w),
                          [(N, C, 8, 9), (3, C, 2, 2)]),
    Case("weight_transposed", lambda x, w: F.conv2d(x, w.permute(1, 0, 3, 2)), lambda x, w: TF.conv2d(x, w.permute(1, 0, 3, 2)),
                              [(N, C, H, W), (C, 3, 3, 2)]),
    Case("tuple_arguments", lambda x, w, b: F.conv2d(x, w, b, stride=(1, 2), padding=(2, 0), dilation=(2, 1)),
                            lambda x, w, b: TF.conv2d(x, w, b, stride=(1, 2), padding=(2, 0), dilation=(2, 1)),
                            [(N, C, H, 6), (3, C, 3, 2), (3,)]),
    Case("one_by_one", lambda x, w: F.conv2d(x, w), lambda x, w: TF.conv2d(x, w), [(N, C, 3, 3), (5, C, 1, 1)]),
    Case("kernel_covers_input", lambda x, w, b: F.conv2d(x, w, b), lambda x, w, b: TF.conv2d(x, w, b),
                                [(N, C, 3, 4), (2, C, 3, 4), (2,)]),
    Case("batch_of_one", lambda x, w: F.conv2d(x, w, stride=2, padding=1), lambda x, w: TF.conv2d(x, w, stride=2, padding=1),
                         [(1, 1, 5, 5), (1, 1, 3, 3)]),
    Case("empty_batch", lambda x, w, b: F.conv2d(x, w, b, padding=1), lambda x, w, b: TF.conv2d(x, w, b, padding=1),
                        [(0, C, 3, 3), (2, C, 3, 3), (2,)]),
]


# The 2-D convolution of the device check list: grouped, strided and padded, with bias.
DEVICE_CASES = [Case("grouped_strided_bias", lambda x, w, b: F.conv2d(x, w, b, stride=2, padding=1, groups=2),
                     lambda x, w, b: TF.conv2d(x, w, b, stride=2, padding=1, groups=2), [(2, 4, 7, 7), (6, 2, 3, 3), (6,)])]

test_gradcheck, test_parity, test_float32 = operator_tests(GRID_CASES + CASES + DEVICE_CASES)


def test_lecture_example_shape():
    """32x32x3 input, 6 filters 5x5, stride 1, pad 0: (32 - 5 + 0)/1 + 1 = 28, so 28x28x6."""
    y = F.conv2d(profondo.randn(1, 3, 32, 32), profondo.randn(6, 3, 5, 5), stride=1, padding=0)
    assert y.shape == (1, 6, 28, 28)
    assert F.output_size(32, 5, stride=1, padding=0, exact=True) == 28


@pytest.mark.parametrize("size, kernel, stride, padding, dilation, expected", [
    (32, 5, 1, 2, 1, 32), (32, 3, 2, 1, 1, 16), (7, 3, 2, 0, 1, 3), (10, 3, 1, 0, 2, 6), (5, 5, 1, 0, 1, 1),
])
def test_output_size_matches_torch_rule(size, kernel, stride, padding, dilation, expected):
    assert F.output_size(size, kernel, stride, padding, dilation) == expected
    y = F.conv2d(profondo.zeros(1, 1, size, size), profondo.zeros(1, 1, kernel, kernel), stride=stride,
                 padding=padding, dilation=dilation)
    assert y.shape == (1, 1, expected, expected)


def test_output_size_exact_shows_the_arithmetic():
    assert F.output_size(32, 5, stride=2) == 14  # floored, as in PyTorch
    with pytest.raises(ValueError, match=r"conv2d: W_out = \(32 - 5 \+ 2\*0\)/2 \+ 1 = 14.5 is not an integer"):
        F.output_size(32, 5, stride=2, exact=True)
    with pytest.raises(ValueError, match=r"conv1: H_out = \(16 - 5 \+ 2\*1\)/3 \+ 1 = 5.33333 is not an integer"):
        F.output_size(16, 5, stride=3, padding=1, exact=True, where="conv1", axis="H")


def test_window_larger_than_input_shows_the_arithmetic():
    with pytest.raises(ValueError, match=r"conv2d: H_out = \(4 - 5 \+ 2\*0\)/1 \+ 1 = 0: the window \(5\) is larger "
                                         r"than the padded input \(4\)"):
        F.conv2d(profondo.zeros(1, 3, 4, 4), profondo.zeros(2, 3, 5, 5))
    with pytest.raises(ValueError, match=r"W_out = \(6 - 7 \+ 2\*0\)/1 \+ 1 = 0: the window \(7\)"):  # dilated 3x3 spans 7
        F.conv2d(profondo.zeros(1, 1, 9, 6), profondo.zeros(1, 1, 3, 3), dilation=3)


@pytest.mark.parametrize("x_shape, w_shape, kwargs, message", [
    ((1, 3, 8, 8), (4, 2, 3, 3), {}, r"conv2d: input has 3 channels \(shape \(1, 3, 8, 8\)\), the weight \(4, 2, 3, 3\) "
                                     r"with groups=1 expects 2"),
    ((1, 4, 8, 8), (3, 2, 3, 3), {"groups": 2}, r"conv2d: .*weight \(3, 2, 3, 3\) with groups=2"),
    ((3, 8, 8), (4, 3, 3, 3), {}, r"conv2d: expected input of shape \(N, C, H, W\), received \(3, 8, 8\)"),
    ((1, 3, 8, 8), (4, 3, 3), {}, r"conv2d: expected weight of shape .* received \(4, 3, 3\)"),
    ((1, 3, 8, 8), (4, 3, 3, 3), {"stride": (1, 2, 3)}, r"conv2d stride: expected an int or a pair of ints, received \(1, 2, 3\)"),
])
def test_shape_errors_name_conv2d_and_shapes(x_shape, w_shape, kwargs, message):
    with pytest.raises(ValueError, match=message):
        F.conv2d(profondo.zeros(*x_shape), profondo.zeros(*w_shape), **kwargs)


def test_bias_shape_checked():
    with pytest.raises(ValueError, match=r"conv2d: bias of shape \(3,\), expected \(4,\)"):
        F.conv2d(profondo.zeros(1, 3, 8, 8), profondo.zeros(4, 3, 3, 3), profondo.zeros(3))
