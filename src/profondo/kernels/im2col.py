"""Convolution and pooling by strided views and one GEMM (NumPy or CuPy through ``xp``).

Layout of the column matrix: (groups, C/groups * KH * KW, N * OH * OW). The image axes come
last so that each copied run is contiguous along the input rows, and the batch is folded
into the GEMM's second dimension: one product per call, whatever the batch size.
"""

from __future__ import annotations

from . import register


def _strided_windows(xp, xp_padded, kh, kw, oh, ow, stride, dilation):
    """View (C, KH, KW, N, OH, OW) over a padded (N, C, H, W) array, no copy."""
    n, c = xp_padded.shape[:2]
    sn, sc, sh, sw = xp_padded.strides
    (s_h, s_w), (d_h, d_w) = stride, dilation
    return xp.lib.stride_tricks.as_strided(
        xp_padded, (c, kh, kw, n, oh, ow), (sc, d_h * sh, d_w * sw, sn, s_h * sh, s_w * sw))


def pad2d(xp, x, padding, value=0.0):
    ph, pw = padding
    if not (ph or pw):
        return x
    return xp.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=value)


def col2im_add(xp, cols, padded_shape, kh, kw, oh, ow, stride, dilation):
    """Sum (C, KH, KW, N, OH, OW) window gradients back into a padded (C, N, Hp, Wp) array."""
    c, n = cols.shape[0], cols.shape[3]
    (s_h, s_w), (d_h, d_w) = stride, dilation
    out = xp.zeros((c, n) + tuple(padded_shape[2:]), cols.dtype)
    for i in range(kh):
        for j in range(kw):
            out[:, :, i * d_h: i * d_h + s_h * (oh - 1) + 1: s_h,
                j * d_w: j * d_w + s_w * (ow - 1) + 1: s_w] += cols[:, i, j]
    return out


def _offsets(kh, kw, oh, ow, stride, dilation):
    """(i, j, slice of the padded input that kernel offset (i, j) reads) for every offset."""
    (s_h, s_w), (d_h, d_w) = stride, dilation
    return [(i, j, (slice(None), slice(None), slice(i * d_h, i * d_h + s_h * (oh - 1) + 1, s_h),
                    slice(j * d_w, j * d_w + s_w * (ow - 1) + 1, s_w))) for i in range(kh) for j in range(kw)]


def _is_depthwise(x, w, groups) -> bool:
    return groups > 1 and groups == x.shape[1] == w.shape[0]


@register("conv2d_forward")
def conv2d_forward(xp, x, w, stride, padding, dilation, groups, out_hw):
    n, c = x.shape[:2]
    o, cg, kh, kw = w.shape
    oh, ow = out_hw
    padded = pad2d(xp, x, padding)
    if _is_depthwise(x, w, groups):
        # One filter per channel: KH*KW shifted multiply-adds beat G tiny GEMMs, and no window copy.
        y = xp.zeros((n, c, oh, ow), x.dtype)
        for i, j, window in _offsets(kh, kw, oh, ow, stride, dilation):
            y += padded[window] * w[:, 0, i, j].reshape(1, c, 1, 1)
        return y, padded, padded.shape
    cols = _strided_windows(xp, padded, kh, kw, oh, ow, stride, dilation)
    cols = cols.reshape(groups, cg * kh * kw, n * oh * ow)  # the one copy
    y = xp.matmul(w.reshape(groups, o // groups, cg * kh * kw), cols)  # (G, O/G, N*OH*OW)
    y = y.reshape(o, n, oh, ow).transpose(1, 0, 2, 3)
    return y, cols, padded.shape


@register("conv2d_backward")
def conv2d_backward(xp, gy, w, cols, padded_shape, stride, padding, dilation, groups, need_x, need_w):
    o, cg, kh, kw = w.shape
    n, _, oh, ow = gy.shape
    if groups > 1 and groups == o == padded_shape[1] and cg == 1:  # depthwise: ``cols`` is the padded input
        return _depthwise_backward(xp, gy, w, cols, padding, stride, dilation, need_x, need_w)
    gy_cols = gy.transpose(1, 0, 2, 3).reshape(groups, o // groups, n * oh * ow)
    gx = gw = None
    if need_w:
        gw = xp.matmul(gy_cols, cols.transpose(0, 2, 1)).reshape(w.shape)
    if need_x:
        gcols = xp.matmul(w.reshape(groups, o // groups, cg * kh * kw).transpose(0, 2, 1), gy_cols)
        gcols = gcols.reshape(groups * cg, kh, kw, n, oh, ow)
        gx = col2im_add(xp, gcols, padded_shape, kh, kw, oh, ow, stride, dilation)
        ph, pw = padding
        gx = gx[:, :, ph: padded_shape[2] - ph, pw: padded_shape[3] - pw].transpose(1, 0, 2, 3)
    return gx, gw


def _depthwise_backward(xp, gy, w, padded, padding, stride, dilation, need_x, need_w):
    _, _, kh, kw = w.shape
    c, (oh, ow) = w.shape[0], gy.shape[2:]
    gx = xp.zeros(padded.shape, gy.dtype) if need_x else None
    gw = xp.zeros(w.shape, gy.dtype) if need_w else None
    for i, j, window in _offsets(kh, kw, oh, ow, stride, dilation):
        if need_w:
            gw[:, 0, i, j] = (gy * padded[window]).sum(axis=(0, 2, 3))
        if need_x:
            gx[window] += gy * w[:, 0, i, j].reshape(1, c, 1, 1)
    if need_x:
        (ph, pw), (hp, wp) = padding, padded.shape[2:]
        gx = gx[:, :, ph: hp - ph, pw: wp - pw]
    return gx, gw


@register("pool2d_windows")
def pool2d_windows(xp, x, kernel, stride, padding, out_hw, pad_value):
    """(N*C, KH*KW, OH*OW)-shaped copy of every window, for max and average pooling."""
    n, c = x.shape[:2]
    (kh, kw), (oh, ow) = kernel, out_hw
    padded = pad2d(xp, x.reshape(1, n * c, *x.shape[2:]), padding, pad_value)
    windows = _strided_windows(xp, padded, kh, kw, oh, ow, stride, (1, 1))  # (NC, KH, KW, 1, OH, OW)
    return windows.reshape(n * c, kh * kw, oh * ow), padded.shape


@register("pool2d_backward")
def pool2d_backward(xp, gwin, x_shape, padded_shape, kernel, stride, padding, out_hw):
    """Add window gradients (N*C, KH*KW, OH*OW) back into an input-shaped gradient."""
    n, c, h, w = x_shape
    (kh, kw), (oh, ow), (ph, pw) = kernel, out_hw, padding
    cols = gwin.reshape(n * c, kh, kw, 1, oh, ow)
    g = col2im_add(xp, cols, padded_shape, kh, kw, oh, ow, stride, (1, 1))[:, 0]
    return g[:, ph: ph + h, pw: pw + w].reshape(x_shape)
