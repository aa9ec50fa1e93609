"""2-D convolution over volumes: (N, C, H, W) input, (O, C/groups, KH, KW) shared filters."""

from __future__ import annotations

from .. import kernels
from ..autograd import Function


def _pair(v, name: str) -> tuple[int, int]:
    pair = (v, v) if isinstance(v, int) else tuple(v)
    if len(pair) != 2 or not all(isinstance(i, int) for i in pair):
        raise ValueError(f"{name}: expected an int or a pair of ints, received {v!r}")
    return pair


def output_size(size: int, kernel: int, stride: int = 1, padding: int = 0, dilation: int = 1,
                exact: bool = False, where: str = "conv2d", axis: str = "W") -> int:
    """The size rule ``W_out = (W_in - F + 2P)/S + 1`` (F = dilation*(K-1)+1).

    With ``exact=True`` a stride that does not divide raises, showing the arithmetic (the
    rule as taught for hand-designed networks); otherwise the result is floored, as in
    PyTorch. An output of size < 1 always raises.

    >>> output_size(32, 5)          # the lecture's 32x32 input, 5x5 filters, stride 1, no padding
    28
    """
    span = dilation * (kernel - 1) + 1
    numerator = size - span + 2 * padding
    arithmetic = f"{where}: {axis}_out = ({size} - {span} + 2*{padding})/{stride} + 1"
    if numerator < 0:
        raise ValueError(f"{arithmetic} = {numerator / stride + 1:g}: the window ({span}) is larger than "
                         f"the padded input ({size + 2 * padding})")
    if exact and numerator % stride:
        raise ValueError(f"{arithmetic} = {numerator / stride + 1:g} is not an integer: change the padding "
                         "or the stride so that the windows tile the input")
    return numerator // stride + 1


def _window_stack(x, kernel, stride, padding, dilation, value=0.0):
    """Every window of a (N, C, H, W) Tensor as (N, C, KH*KW, OH, OW), built from differentiable
    operators (pad, strided slices, stack): the composite form of convolution and pooling."""
    from .shape import pad, stack

    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = kernel, stride, padding, dilation
    oh = output_size(x.shape[2], kh, sh, ph, dh, axis="H")
    ow = output_size(x.shape[3], kw, sw, pw, dw, axis="W")
    if ph or pw:
        x = pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), value=value)
    views = [x[:, :, i * dh:i * dh + sh * (oh - 1) + 1:sh, j * dw:j * dw + sw * (ow - 1) + 1:sw]
             for i in range(kh) for j in range(kw)]
    return stack(views, axis=2)


class Conv2d(Function):
    def __init__(self, stride, padding, dilation, groups) -> None:
        self.stride, self.padding, self.dilation, self.groups = stride, padding, dilation, groups

    def forward(self, x, w, b=None):
        if x.ndim != 4:
            raise ValueError(f"conv2d: expected input of shape (N, C, H, W), received {tuple(x.shape)}")
        if w.ndim != 4:
            raise ValueError(f"conv2d: expected weight of shape (out_channels, in_channels/groups, KH, KW), "
                             f"received {tuple(w.shape)}")
        g = self.groups
        if x.shape[1] != w.shape[1] * g or w.shape[0] % g:
            raise ValueError(f"conv2d: input has {x.shape[1]} channels (shape {tuple(x.shape)}), the weight "
                             f"{tuple(w.shape)} with groups={g} expects {w.shape[1] * g}")
        if b is not None and b.shape != (w.shape[0],):
            raise ValueError(f"conv2d: bias of shape {tuple(b.shape)}, expected ({w.shape[0]},)")
        out_hw = tuple(output_size(x.shape[2 + i], w.shape[2 + i], self.stride[i], self.padding[i],
                                   self.dilation[i], axis="HW"[i]) for i in range(2))
        y, cols, padded_shape = kernels.get("conv2d_forward", self.xp)(
            self.xp, x, w, self.stride, self.padding, self.dilation, g, out_hw)
        if b is not None:
            y += b.reshape(1, -1, 1, 1)
        self.padded_shape = padded_shape
        self.save_for_backward(w, cols)
        return y

    def backward(self, gy):
        w, cols = self.saved
        needs = self.needs_input_grad
        gx, gw = kernels.get("conv2d_backward", self.xp)(
            self.xp, gy, w, cols, self.padded_shape, self.stride, self.padding, self.dilation,
            self.groups, needs[0], needs[1])
        gb = gy.sum(axis=(0, 2, 3)) if len(needs) > 2 and needs[2] else None
        return gx, gw, gb

    def composite(self, x, w, b=None):
        """One matrix product of the weight with every window (im2col written with operators)."""
        n, g = x.shape[0], self.groups
        o, cg, kh, kw = w.shape
        win = _window_stack(x, (kh, kw), self.stride, self.padding, self.dilation)
        oh, ow = win.shape[3:]
        y = w.reshape(g, o // g, cg * kh * kw) @ win.reshape(n, g, cg * kh * kw, oh * ow)
        y = y.reshape(n, o, oh, ow)
        return y if b is None else y + b.reshape(1, o, 1, 1)


def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups: int = 1):
    """Convolve a batch of volumes with shared filters (PyTorch's argument order).

    >>> x = profondo.randn(1, 3, 32, 32); w = profondo.randn(6, 3, 5, 5)
    >>> conv2d(x, w).shape            # 6 filters 5x5, stride 1, pad 0: (32 - 5)/1 + 1 = 28
    (1, 6, 28, 28)
    """
    op = Conv2d(_pair(stride, "conv2d stride"), _pair(padding, "conv2d padding"),
                _pair(dilation, "conv2d dilation"), int(groups))
    return op.apply(x, weight) if bias is None else op.apply(x, weight, bias)
