"""The portable kernels behind conv2d and pooling, against direct loops in float64."""

import itertools

import numpy as np
import pytest

from profondo.kernels import im2col


def _direct_conv(x, w, stride, padding, dilation, groups):
    """Convolution by explicit loops over every output element."""
    n, c, h, wd = x.shape
    o, cg, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (padding[0],) * 2, (padding[1],) * 2))
    oh = (h + 2 * padding[0] - dilation[0] * (kh - 1) - 1) // stride[0] + 1
    ow = (wd + 2 * padding[1] - dilation[1] * (kw - 1) - 1) // stride[1] + 1
    y = np.zeros((n, o, oh, ow))
    per_group = o // groups
    for b, f, i, j in itertools.product(range(n), range(o), range(oh), range(ow)):
        g = f // per_group
        rows = i * stride[0] + dilation[0] * np.arange(kh)
        cols = j * stride[1] + dilation[1] * np.arange(kw)
        patch = xp[b, g * cg:(g + 1) * cg][:, rows][:, :, cols]
        y[b, f, i, j] = (patch * w[f]).sum()
    return y


CONFIGS = [((1, 1), (0, 0), (1, 1), 1), ((2, 1), (1, 2), (1, 1), 1), ((1, 2), (1, 0), (2, 1), 2), ((2, 2), (1, 1), (1, 2), 4)]


def _setup(config, seed=0):
    stride, padding, dilation, groups = config
    rng = np.random.default_rng(seed)
    x, w = rng.standard_normal((2, 4, 6, 7)), rng.standard_normal((4, 4 // groups, 3, 2))
    out_hw = _direct_conv(x, w, stride, padding, dilation, groups).shape[2:]
    return x, w, out_hw


@pytest.mark.parametrize("config", CONFIGS, ids=str)
def test_conv2d_forward_matches_direct_loops(config):
    x, w, out_hw = _setup(config)
    y, cols, padded_shape = im2col.conv2d_forward(np, x, w, *config, out_hw)
    groups = config[3]
    if groups == 4:  # depthwise: shifted multiply-adds over the padded input, no column matrix
        assert cols.shape == (2, 4, 6 + 2 * config[1][0], 7 + 2 * config[1][1])
    else:
        assert cols.shape == (groups, 4 // groups * 3 * 2, 2 * out_hw[0] * out_hw[1])  # batch folded into one GEMM
    assert padded_shape == (2, 4, 6 + 2 * config[1][0], 7 + 2 * config[1][1])
    np.testing.assert_allclose(y, _direct_conv(x, w, *config), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("config", CONFIGS, ids=str)
def test_conv2d_backward_is_the_adjoint(config):
    """<conv(x, w), gy> = <x, gx> = <w, gw>: backward is the exact transpose of forward."""
    x, w, out_hw = _setup(config)
    y, cols, padded_shape = im2col.conv2d_forward(np, x, w, *config, out_hw)
    gy = np.random.default_rng(1).standard_normal(y.shape)
    gx, gw = im2col.conv2d_backward(np, gy, w, cols, padded_shape, *config[:3], config[3], True, True)
    assert gx.shape == x.shape and gw.shape == w.shape
    inner = (y * gy).sum()
    assert (x * gx).sum() == pytest.approx(inner, rel=1e-10)
    assert (w * gw).sum() == pytest.approx(inner, rel=1e-10)
    none = im2col.conv2d_backward(np, gy, w, cols, padded_shape, *config[:3], config[3], False, False)
    assert none == (None, None)


@pytest.mark.parametrize("stride, dilation", [((1, 1), (1, 1)), ((2, 3), (1, 1)), ((1, 2), (2, 1))])
def test_col2im_add_matches_scatter_add(stride, dilation):
    c, n, kh, kw, oh, ow = 2, 1, 3, 2, 3, 2
    padded = (n, c, stride[0] * (oh - 1) + dilation[0] * (kh - 1) + 2, stride[1] * (ow - 1) + dilation[1] * (kw - 1) + 1)
    cols = np.random.default_rng(0).standard_normal((c, kh, kw, n, oh, ow))
    expected = np.zeros((c, n) + padded[2:])
    for i, j, a, b in itertools.product(range(kh), range(kw), range(oh), range(ow)):
        np.add.at(expected, (slice(None), slice(None), a * stride[0] + i * dilation[0], b * stride[1] + j * dilation[1]),
                  cols[:, i, j, :, a, b])
    np.testing.assert_allclose(im2col.col2im_add(np, cols, padded, kh, kw, oh, ow, stride, dilation), expected)


@pytest.mark.parametrize("kernel, stride, padding", [((2, 2), (2, 2), (0, 0)), ((3, 2), (1, 2), (1, 1)), ((3, 3), (2, 2), (1, 0))])
def test_pool_windows_and_their_adjoint(kernel, stride, padding):
    x = np.random.default_rng(0).standard_normal((2, 3, 5, 6))
    out_hw = tuple((x.shape[2 + i] + 2 * padding[i] - kernel[i]) // stride[i] + 1 for i in range(2))
    win, padded_shape = im2col.pool2d_windows(np, x, kernel, stride, padding, out_hw, -np.inf)
    assert win.shape == (6, kernel[0] * kernel[1], out_hw[0] * out_hw[1])
    padded = np.pad(x, ((0, 0), (0, 0), (padding[0],) * 2, (padding[1],) * 2), constant_values=-np.inf)
    a, b = 1, out_hw[1] - 1  # one output position, checked against a slice of the padded input
    expected = padded[:, :, a * stride[0]:a * stride[0] + kernel[0], b * stride[1]:b * stride[1] + kernel[1]]
    np.testing.assert_array_equal(win[:, :, a * out_hw[1] + b], expected.reshape(6, -1))
    g = np.random.default_rng(1).standard_normal(win.shape)
    gx = im2col.pool2d_backward(np, g, x.shape, padded_shape, kernel, stride, padding, out_hw)
    finite = np.isfinite(win)
    assert (x * gx).sum() == pytest.approx((np.where(finite, win, 0) * g).sum(), rel=1e-10)
