"""Max and average pooling over (N, C, H, W) volumes, and global average pooling."""

from __future__ import annotations

from .. import kernels
from ..autograd import Function
from .conv import _pair, _window_stack, output_size


def _tiles(x, kernel, stride, padding) -> bool:
    """True when windows tile the input exactly, so a reshape replaces the strided copy."""
    return padding == (0, 0) and kernel == stride and x.shape[2] % kernel[0] == 0 and x.shape[3] % kernel[1] == 0


class _Pool2d(Function):
    kind = "pool2d"

    def __init__(self, kernel, stride, padding) -> None:
        self.kernel, self.stride, self.padding = kernel, stride, padding

    def _windows(self, x):
        if x.ndim != 4:
            raise ValueError(f"{self.kind}: expected input of shape (N, C, H, W), received {tuple(x.shape)}")
        (kh, kw), (ph, pw) = self.kernel, self.padding
        if ph > kh // 2 or pw > kw // 2:
            raise ValueError(f"{self.kind}: padding {self.padding} must be at most half the kernel {self.kernel}")
        n, c, h, w = x.shape
        self.x_shape = x.shape
        self.out_hw = (output_size(h, kh, self.stride[0], ph, where=self.kind, axis="H"),
                       output_size(w, kw, self.stride[1], pw, where=self.kind, axis="W"))
        oh, ow = self.out_hw
        self.tiled = _tiles(x, self.kernel, self.stride, self.padding)
        if self.tiled:  # (N*C, KH*KW, OH*OW) by reshape + one transpose copy
            win = x.reshape(n * c, oh, kh, ow, kw).transpose(0, 2, 4, 1, 3).reshape(n * c, kh * kw, oh * ow)
            self.padded_shape = None
            return win
        pad_value = -self.xp.inf if self.kind == "max_pool2d" else 0.0
        win, self.padded_shape = kernels.get("pool2d_windows", self.xp)(
            self.xp, x, self.kernel, self.stride, self.padding, self.out_hw, pad_value)
        return win

    def _unwindow(self, gwin):
        n, c, h, w = self.x_shape
        (kh, kw), (oh, ow) = self.kernel, self.out_hw
        if self.tiled:
            return gwin.reshape(n * c, kh, kw, oh, ow).transpose(0, 3, 1, 4, 2).reshape(self.x_shape)
        return kernels.get("pool2d_backward", self.xp)(
            self.xp, gwin, self.x_shape, self.padded_shape, self.kernel, self.stride, self.padding, self.out_hw)


class MaxPool2d(_Pool2d):
    """Maximum of each window; the first maximum (row-major) takes the gradient, as in PyTorch.

    Windows that tile the input (kernel == stride, no padding) take the fast path: the
    maximum of KH*KW strided views, with no window copy and no argmax.
    """

    kind = "max_pool2d"

    def forward(self, x):
        if x.ndim == 4 and _tiles(x, self.kernel, self.stride, self.padding):
            return self._forward_tiled(x)
        win = self._windows(x)
        idx = win.argmax(axis=1)
        y = self.xp.take_along_axis(win, idx[:, None], axis=1)[:, 0]
        self.save_for_backward(idx)
        n, c = x.shape[:2]
        return y.reshape(n, c, *self.out_hw)

    def _offsets(self):
        kh, kw = self.kernel
        return [(slice(None), slice(None), slice(i, None, kh), slice(j, None, kw)) for i in range(kh) for j in range(kw)]

    def _forward_tiled(self, x):
        self.tiled = True
        offsets = self._offsets()
        y = x[offsets[0]].copy()
        for o in offsets[1:]:
            self.xp.maximum(y, x[o], out=y)
        self.save_for_backward(x, y)
        return y

    def backward(self, gy):
        xp = self.xp
        if self.tiled:
            x, y = self.saved
            gx = xp.zeros_like(x)  # keeps x's memory layout, so no copy follows
            unclaimed = None
            for o in self._offsets():  # window order decides ties
                hit = x[o] == y
                if unclaimed is None:
                    unclaimed = ~hit
                else:
                    hit &= unclaimed
                    unclaimed &= ~hit
                xp.multiply(gy, hit, out=gx[o])
            return gx
        (idx,) = self.saved
        nc = idx.shape[0]
        gwin = xp.zeros((nc, self.kernel[0] * self.kernel[1], idx.shape[1]), gy.dtype)
        xp.put_along_axis(gwin, idx[:, None], gy.reshape(nc, 1, idx.shape[1]), axis=1)  # not -1: N may be 0
        return self._unwindow(gwin)

    def composite(self, x):
        from .shape import gather

        win = _window_stack(x, self.kernel, self.stride, self.padding, (1, 1), -float("inf"))
        first = win.data.argmax(axis=2)[:, :, None]  # the first maximum in window order, as forward
        n, c, _, oh, ow = win.shape
        return gather(win, 2, first).reshape(n, c, oh, ow)


class AvgPool2d(_Pool2d):
    """Average over each window, padding zeros counted (PyTorch's count_include_pad=True)."""

    kind = "avg_pool2d"

    def forward(self, x):
        win = self._windows(x)
        n, c = x.shape[:2]
        return win.mean(axis=1, dtype=x.dtype).reshape(n, c, *self.out_hw)

    def backward(self, gy):
        k = self.kernel[0] * self.kernel[1]
        nc = gy.shape[0] * gy.shape[1]
        ohw = gy.shape[2] * gy.shape[3]
        gwin = self.xp.broadcast_to(gy.reshape(nc, 1, ohw) / k, (nc, k, ohw))
        return self._unwindow(gwin)

    def composite(self, x):
        return _window_stack(x, self.kernel, self.stride, self.padding, (1, 1)).mean(axis=2)


def _pool_args(kernel_size, stride, padding, name):
    kernel = _pair(kernel_size, f"{name} kernel_size")
    return kernel, (kernel if stride is None else _pair(stride, f"{name} stride")), _pair(padding, f"{name} padding")


def max_pool2d(x, kernel_size, stride=None, padding=0):
    """Maximum of each window (stride defaults to the kernel size). ``max_pool2d(x, 2)``"""
    return MaxPool2d(*_pool_args(kernel_size, stride, padding, "max_pool2d")).apply(x)


def avg_pool2d(x, kernel_size, stride=None, padding=0):
    """Mean of each window, padded zeros included. ``avg_pool2d(x, 3, 1, 1)``"""
    return AvgPool2d(*_pool_args(kernel_size, stride, padding, "avg_pool2d")).apply(x)


def global_avg_pool2d(x):
    """Mean over H and W: (N, C, H, W) -> (N, C)."""
    from .reduction import mean

    if x.ndim != 4:
        raise ValueError(f"global_avg_pool2d: expected input of shape (N, C, H, W), received {tuple(x.shape)}")
    return mean(x, axis=(2, 3))



def _adaptive_bounds(n_in: int, n_out: int) -> list[tuple[int, int]]:
    # PyTorch's windows: [floor(i * n_in / n_out), ceil((i + 1) * n_in / n_out))
    return [((i * n_in) // n_out, -(-((i + 1) * n_in) // n_out)) for i in range(n_out)]


def adaptive_avg_pool2d(x, output_size):
    """Mean over the windows that divide H x W into ``output_size`` cells (PyTorch's windows;
    None in ``output_size`` keeps that axis). ``adaptive_avg_pool2d(x, 1)`` -> (N, C, 1, 1)."""
    from .reduction import mean
    from .shape import stack

    if x.ndim != 4:
        raise ValueError(f"adaptive_avg_pool2d: expected input of shape (N, C, H, W), received {tuple(x.shape)}")
    size = (output_size, output_size) if isinstance(output_size, int) or output_size is None else tuple(output_size)
    (h, w), (oh, ow) = x.shape[2:], (size[0] or x.shape[2], size[1] or x.shape[3])
    if (oh, ow) == (1, 1):
        return mean(x, axis=(2, 3), keepdims=True)
    if h % oh == 0 and w % ow == 0:
        return avg_pool2d(x, (h // oh, w // ow))
    rows = [stack([mean(x[:, :, r0:r1, c0:c1], axis=(2, 3)) for c0, c1 in _adaptive_bounds(w, ow)], axis=-1)
            for r0, r1 in _adaptive_bounds(h, oh)]
    return stack(rows, axis=-2)
