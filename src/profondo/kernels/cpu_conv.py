"""The CPU's own 2-D convolution: algorithms chosen per layer shape and direction.

Two families, each exact (they differ in float32 rounding only):

- ``im2col``: the portable kernel of ``im2col.py``, one window copy and one GEMM with the
  whole batch folded in, the BLAS threads splitting the product.
- ``im2col-blocked``: the batch cut in blocks whose window matrix fits in the cache; each block
  is one task for a small pool of worker threads (as many as the BLAS may use), each worker
  copying its windows and running its products on one BLAS thread. NumPy releases the GIL in
  copies, additions and products, so the window copies and col2im additions, single-threaded
  in the one-GEMM form, run on every core, and the window matrix is read back from the cache
  instead of memory. The output is written straight in NCHW order, and backward recomputes a
  block's windows from the saved input rather than keeping the whole window matrix alive.

The input gradient has three forms: ``col2im`` (one GEMM, kernel-offset slice additions),
``col2im-blocked`` and ``correlation-blocked`` (the correlation of the padded output gradient
with the flipped, transposed filters: an ordinary forward convolution, stride 1 only).

``profondo.backend.conv`` forces an algorithm per direction or, at "auto", measures the
candidates once per layer shape and keeps the fastest.
"""

from __future__ import annotations

import functools
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ..backend.convolution import conv as settings
from . import im2col, register

# A block's window matrix is kept under about this many bytes, so that it stays in the cache
# between the copy that writes it and the product that reads it.
BLOCK_BYTES = 1 << 21
# Images of at least this many output pixels get one product each (written in place); smaller
# ones are folded into one product per block and copied into place.
STACK_FROM = 256
# Products of at most this many multiply-adds run as one GEMM under "auto", unmeasured.
SMALL_MACS = 1 << 22
# What each thread's scratch buffers may hold before they are dropped and made afresh.
BUFFER_BYTES = 1 << 26


# --- worker threads, each on one BLAS thread ------------------------------------------------
class _Workers:
    """A thread pool as large as the BLAS thread count, and the switch that puts the BLAS on
    one thread while the pool runs (else each worker's product would start BLAS threads of its own)."""

    def __init__(self) -> None:
        self._blas = None
        self._pool: ThreadPoolExecutor | None = None
        self._size = 0
        self._lock = threading.Lock()

    def _controllers(self) -> list:
        if self._blas is None:
            try:
                from threadpoolctl import ThreadpoolController
                self._blas = list(ThreadpoolController().select(user_api="blas").lib_controllers)
            except Exception:  # no threadpoolctl: the BLAS threads cannot be set, so one worker
                self._blas = []
        return self._blas

    def count(self) -> int:
        blas = self._controllers()
        if not blas:
            return 1
        return max(1, min(max(c.get_num_threads() for c in blas), _CPUS))

    def map(self, fn, tasks: list, workers: int = 1) -> list:
        if workers == 1 or len(tasks) == 1:
            return [fn(*t) for t in tasks]
        blas = self._controllers()
        with self._lock:  # one parallel region at a time (the BLAS setting is process-wide)
            if self._pool is None or self._size != workers:
                if self._pool is not None:
                    self._pool.shutdown()
                self._pool, self._size = ThreadPoolExecutor(workers, thread_name_prefix="profondo-conv"), workers
            before = [c.get_num_threads() for c in blas]
            for c in blas:
                c.set_num_threads(1)
            try:
                return list(self._pool.map(lambda t: fn(*t), tasks))
            finally:
                for c, n in zip(blas, before):
                    c.set_num_threads(n)


    def forget(self) -> None:
        """After a fork: the child has none of the parent's pool threads, so it makes its own."""
        self._pool, self._size, self._lock = None, 0, threading.Lock()


_CPUS = os.cpu_count() or 1
workers = _Workers()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=workers.forget)

_local = threading.local()


def _buffer(name: str, shape: tuple, dtype, zero: bool = False) -> np.ndarray:
    """A scratch array of this thread, reused from call to call (``zero``: zeroed once, when made;
    the padded-input buffers rely on that, their borders never being written)."""
    cache = getattr(_local, "buffers", None)
    if cache is None:
        cache = _local.buffers = {}
    key = (name, shape, np.dtype(dtype))
    buf = cache.get(key)
    if buf is None:
        # Shapes change (another model, a smaller last batch): past a bound, start afresh.
        if sum(b.nbytes for b in cache.values()) > BUFFER_BYTES:
            cache.clear()
        buf = cache[key] = (np.zeros if zero else np.empty)(shape, dtype)
    return buf


# --- one block of the batch -------------------------------------------------------------------
class _Geometry:
    __slots__ = ("c", "h", "w", "o", "kh", "kw", "oh", "ow", "stride", "padding", "dilation", "ckk", "p")

    def __init__(self, x_shape, w_shape, stride, padding, dilation, out_hw) -> None:
        _, self.c, self.h, self.w = x_shape
        self.o, _, self.kh, self.kw = w_shape
        self.oh, self.ow = out_hw
        self.stride, self.padding, self.dilation = stride, padding, dilation
        self.ckk = self.c * self.kh * self.kw
        self.p = self.oh * self.ow


def _padded_block(x_blk: np.ndarray, g: _Geometry, name: str) -> np.ndarray:
    (ph, pw), b = g.padding, x_blk.shape[0]
    if not (ph or pw):
        return x_blk
    buf = _buffer(name, (b, x_blk.shape[1], x_blk.shape[2] + 2 * ph, x_blk.shape[3] + 2 * pw), x_blk.dtype, zero=True)
    buf[:, :, ph:ph + x_blk.shape[2], pw:pw + x_blk.shape[3]] = x_blk
    return buf


def _cols_block(x_blk: np.ndarray, g: _Geometry) -> np.ndarray:
    """(C*KH*KW, b*OH*OW) windows of a block, in this thread's buffer."""
    b = x_blk.shape[0]
    padded = _padded_block(x_blk, g, "pad")
    cols = _buffer("cols", (g.ckk, b * g.p), x_blk.dtype)
    windows = im2col._strided_windows(np, padded, g.kh, g.kw, g.oh, g.ow, g.stride, g.dilation)
    np.copyto(cols.reshape(g.c, g.kh, g.kw, b, g.oh, g.ow), windows)
    return cols


def _forward_block(x, w_mat, y, g: _Geometry, a: int, b: int) -> None:
    cols = _cols_block(x[a:b], g)
    n = b - a
    if g.p >= STACK_FROM:  # one product per image, written in place in NCHW order
        np.matmul(w_mat, cols.reshape(g.ckk, n, g.p).transpose(1, 0, 2), out=y[a:b].reshape(n, g.o, g.p))
    else:  # small images: one product for the block, then the (O, b) -> (b, O) copy
        acc = _buffer("acc", (g.o, n * g.p), x.dtype)
        np.matmul(w_mat, cols, out=acc)
        y[a:b] = acc.reshape(g.o, n, g.oh, g.ow).transpose(1, 0, 2, 3)


def _blocks(n: int, per_image: int, itemsize: int, count: int) -> list[tuple[int, int]]:
    """Batch ranges: each block's windows under BLOCK_BYTES, and at least one block per worker."""
    size = max(1, min(BLOCK_BYTES // max(1, per_image * itemsize), -(-n // count)))
    return [(a, min(n, a + size)) for a in range(0, n, size)]


def _threads(threads: int | None) -> int:
    return workers.count() if threads is None else max(1, min(threads, workers.count()))


def forward_blocked(x: np.ndarray, w: np.ndarray, stride, padding, dilation, out_hw,
                    out: np.ndarray | None = None, threads: int | None = None) -> np.ndarray:
    """Convolution (groups 1) by batch blocks over the worker threads (at most ``threads``; None:
    as many as the BLAS may use); NCHW output (into a C-contiguous ``out`` when given)."""
    g = _Geometry(x.shape, w.shape, stride, padding, dilation, out_hw)
    n = x.shape[0]
    y = np.empty((n, g.o, g.oh, g.ow), np.result_type(x, w)) if out is None else out
    w_mat = np.ascontiguousarray(w.reshape(g.o, g.ckk))
    count = _threads(threads)
    tasks = [(x, w_mat, y, g, a, b) for a, b in _blocks(n, g.ckk * g.p, y.itemsize, count)]
    workers.map(_forward_block, tasks, count)
    return y


def _backward_block(x, gy, correlation, w_mat, gx, g: _Geometry, a, b, need_w, input_grad):
    """The block's part of gw, transposed (returned), and its slice of gx (written) by col2im
    or by ``correlation`` (the flipped filters and the geometry of that convolution)."""
    n = b - a
    gy_cols = _buffer("gy", (g.o, n * g.p), gy.dtype)
    gy_cols.reshape(g.o, n, g.oh, g.ow)[...] = gy[a:b].transpose(1, 0, 2, 3)
    gw = None
    if need_w:  # transposed, (C*KH*KW, O): measured faster than (O, C*KH*KW) for these skinny products
        cols = _cols_block(x[a:b], g)
        gw = cols @ gy_cols.T
    if gx is None:
        return gw
    (ph, pw) = g.padding
    if input_grad == "correlation-blocked":
        flipped, back = correlation
        cols = _cols_block(gy[a:b], back)
        np.matmul(flipped, cols.reshape(back.ckk, n, back.p).transpose(1, 0, 2),
                  out=gx[a:b].reshape(n, g.c, g.h * g.w))
        return gw
    gcols = _buffer("gcols", (g.ckk, n * g.p), gy.dtype)
    np.matmul(w_mat.T, gy_cols, out=gcols)
    hp, wp = g.h + 2 * ph, g.w + 2 * pw
    acc = _buffer("gpad", (g.c, n, hp, wp), gy.dtype)
    acc.fill(0)
    (s_h, s_w), (d_h, d_w) = g.stride, g.dilation
    parts = gcols.reshape(g.c, g.kh, g.kw, n, g.oh, g.ow)
    for i in range(g.kh):
        for j in range(g.kw):
            acc[:, :, i * d_h: i * d_h + s_h * (g.oh - 1) + 1: s_h,
                j * d_w: j * d_w + s_w * (g.ow - 1) + 1: s_w] += parts[:, i, j]
    gx[a:b] = acc[:, :, ph:ph + g.h, pw:pw + g.w].transpose(1, 0, 2, 3)
    return gw


def _correlation_geometry(g: _Geometry, x_shape) -> _Geometry | None:
    """The forward convolution that computes the input gradient (stride 1, padding <= span - 1)."""
    (d_h, d_w), (ph, pw) = g.dilation, g.padding
    qh, qw = d_h * (g.kh - 1) - ph, d_w * (g.kw - 1) - pw
    if g.stride != (1, 1) or qh < 0 or qw < 0:
        return None
    return _Geometry((x_shape[0], g.o, g.oh, g.ow), (g.c, g.o, g.kh, g.kw), (1, 1), (qh, qw), g.dilation,
                     (g.h, g.w))


def backward_blocked(x: np.ndarray, gy: np.ndarray, w: np.ndarray, stride, padding, dilation, need_x: bool,
                     need_w: bool, input_grad: str, threads: int | None = None,
                     ) -> tuple[np.ndarray | None, np.ndarray | None, str]:
    """(gx, gw, the input-gradient form that ran) by batch blocks over the worker threads;
    ``input_grad`` "correlation-blocked" runs as "col2im-blocked" where it does not fit."""
    g = _Geometry(x.shape, w.shape, stride, padding, dilation, gy.shape[2:])
    n = x.shape[0]
    w_mat = np.ascontiguousarray(w.reshape(g.o, g.ckk))
    gx = np.empty(x.shape, gy.dtype) if need_x else None
    correlation = None
    if need_x and input_grad == "correlation-blocked":
        back = _correlation_geometry(g, x.shape)
        if back is None:
            input_grad = "col2im-blocked"
        else:
            flipped = np.ascontiguousarray(w.transpose(1, 0, 2, 3)[:, :, ::-1, ::-1]).reshape(g.c, back.ckk)
            correlation = (flipped, back)
    per_image = max(g.ckk * g.p, g.o * g.kh * g.kw * g.h * g.w if need_x else 0)
    count = _threads(threads)
    tasks = [(x, gy, correlation, w_mat, gx, g, a, b, need_w, input_grad)
             for a, b in _blocks(n, per_image, gy.itemsize, count)]
    parts = workers.map(_backward_block, tasks, count)
    gw = None
    if need_w:
        gw = parts[0]
        for p in parts[1:]:
            gw += p
        gw = gw.T.reshape(w.shape)
    return gx, gw, input_grad


# --- the registered kernels: choose, run, remember --------------------------------------------
class _Saved:
    """What forward keeps for backward: the input, and the portable kernel's window matrix
    when forward ran im2col (its weight gradient reuses it)."""

    __slots__ = ("x", "cols", "padded_shape", "key")

    def __init__(self, x, cols, padded_shape, key) -> None:
        self.x, self.cols, self.padded_shape, self.key = x, cols, padded_shape, key


def _key(x, w, stride, padding, dilation, groups) -> tuple:
    return (*x.shape, w.shape[0], *w.shape[2:], stride, padding, dilation, groups, x.dtype.name)


def _small(x_shape, w, out_hw) -> bool:
    """A product too small for blocks to pay (their tasks cost tens of microseconds each):
    "auto" runs the one-GEMM form there without measuring."""
    return x_shape[0] * w.size * out_hw[0] * out_hw[1] <= SMALL_MACS


def _supported(x, w, groups) -> bool:
    return groups == 1 and x.shape[0] > 0 and x.dtype == w.dtype and x.dtype in (np.float32, np.float64)


def _timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def _correlation_fits(w_shape, stride, padding, dilation) -> bool:
    return stride == (1, 1) and all(dilation[i] * (w_shape[2 + i] - 1) >= padding[i] for i in range(2))


def _settled(direction: str, key: tuple) -> str | None:
    """The algorithm ``direction`` will run for this shape, if already known (forced or measured)."""
    forced = getattr(settings, direction)
    if forced != "auto":
        return forced
    return settings.measured.get((direction, key)) if settings.benchmark else _RULE[direction]


# What "auto" runs without measuring (``benchmark = False``, the default): the single-GEMM forms,
# the same arithmetic on every run, whatever the machine's load.
_RULE = {"forward": "im2col", "weight_grad": "im2col", "input_grad": "col2im"}


# A measured choice ending in this ran its blocks on one worker thread: on a machine whose other
# cores are busy, workers that wait for each other can lose to one.
ONE = " x1"


def _one_worker_too(candidates: dict) -> dict:
    """The candidates, and each blocked one again on a single worker, where there are several."""
    if workers.count() == 1:
        return candidates
    more = dict(candidates)
    for name, fn in candidates.items():
        if name.endswith("-blocked"):
            more[name + ONE] = functools.partial(fn, 1)
    return more


def _choose(direction: str, key: tuple, candidates: dict, rounds: int = 3, measure: bool = True):
    """Run the forced algorithm, the cached choice, or (auto) each candidate ``rounds`` times in
    turn and keep the fastest (``benchmark = False``: the fixed rule; ``measure=False``: the first
    candidate); returns (algorithm, result of its last run)."""
    forced = getattr(settings, direction)
    if forced != "auto":  # a form this layer cannot take (correlation at stride 2) runs the first candidate
        name = forced if forced in candidates else next(iter(candidates))
        return name, candidates[name]()
    cached = settings.measured.get((direction, key))
    if cached is not None and cached not in candidates:  # measured on one worker of several; now one
        cached = cached.split(ONE)[0]
    if cached in candidates:
        return cached, candidates[cached]()
    if not settings.benchmark:
        name = _RULE[direction] if _RULE[direction] in candidates else next(iter(candidates))
        return name, candidates[name]()
    if not measure or len(candidates) == 1:
        name = next(iter(candidates))
        return name, candidates[name]()
    best, results = {}, {}
    for _ in range(rounds):
        for name, fn in candidates.items():
            results[name], seconds = _timed(fn)
            best[name] = min(best.get(name, seconds), seconds)
    name = min(best, key=best.get)
    settings.measured[(direction, key)] = name
    return name, results[name]


@register("conv2d_forward", "cpu")
def conv2d_forward(xp, x, w, stride, padding, dilation, groups, out_hw):
    if not _supported(x, w, groups):
        return im2col.conv2d_forward(xp, x, w, stride, padding, dilation, groups, out_hw)
    key = _key(x, w, stride, padding, dilation, groups)

    def portable():
        y, cols, padded_shape = im2col.conv2d_forward(np, x, w, stride, padding, dilation, groups, out_hw)
        return y, _Saved(x, cols, padded_shape, key)

    def blocked(threads=None):
        return forward_blocked(x, w, stride, padding, dilation, out_hw, threads=threads), _Saved(x, None, None, key)

    # First the one GEMM, which small products take unmeasured.
    candidates = {"im2col": portable, "im2col-blocked": blocked}
    algorithm, (y, saved) = _choose("forward", key, _one_worker_too(candidates),
                                    measure=not _small(x.shape, w, out_hw))
    settings.record(key, "forward", algorithm)
    saved.padded_shape = saved.padded_shape or (x.shape[0], x.shape[1], x.shape[2] + 2 * padding[0],
                                                x.shape[3] + 2 * padding[1])
    return y, saved, saved.padded_shape


@register("conv2d_backward", "cpu")
def conv2d_backward(xp, gy, w, saved, padded_shape, stride, padding, dilation, groups, need_x, need_w):
    if not isinstance(saved, _Saved):
        return im2col.conv2d_backward(xp, gy, w, saved, padded_shape, stride, padding, dilation, groups,
                                      need_x, need_w)
    x, key = saved.x, saved.key
    gx = gw = None
    x_forms = {"col2im-blocked", "correlation-blocked"}
    small = _small(x.shape, w, gy.shape[2:])
    w_form, x_form = _settled("weight_grad", key), _settled("input_grad", key)
    if need_w and need_x and not small and w_form and x_form and w_form.split(ONE)[0] == "im2col-blocked" and \
            x_form.split(ONE)[0] in x_forms:
        # Both directions settled on blocks: one pass, each block's output-gradient copy shared.
        one = ONE in w_form or ONE in x_form
        gx, gw, form = backward_blocked(x, gy, w, stride, padding, dilation, True, True, x_form.split(ONE)[0],
                                        threads=1 if one else None)
        settings.record(key, "weight_grad", w_form)
        settings.record(key, "input_grad", form + (ONE if one else ""))
        saved.cols = None
        return gx, gw
    if need_w:
        def whole_w():
            cols = saved.cols if saved.cols is not None else _whole_cols(x, w, stride, padding, dilation, gy.shape)
            return im2col.conv2d_backward(np, gy, w, cols, padded_shape, stride, padding, dilation, 1,
                                          False, True)[1]

        def blocked_w(threads=None):
            return backward_blocked(x, gy, w, stride, padding, dilation, False, True, "", threads)[1]

        candidates = {"im2col": whole_w, "im2col-blocked": blocked_w}
        algorithm, gw = _choose("weight_grad", key, _one_worker_too(candidates), measure=not small)
        settings.record(key, "weight_grad", algorithm)
    saved.cols = None  # the weight gradient was the last reader
    if need_x:
        def whole_x():  # the portable backward reads no window matrix for the input gradient
            return im2col.conv2d_backward(np, gy, w, None, padded_shape, stride, padding, dilation, 1,
                                          True, False)[0]

        def blocked_x(form):
            return lambda threads=None: backward_blocked(x, gy, w, stride, padding, dilation, True, False, form,
                                                         threads)[0]

        candidates = {"col2im": whole_x} if small else {}
        if _correlation_fits(w.shape, stride, padding, dilation):  # measured the faster blocked form
            candidates["correlation-blocked"] = blocked_x("correlation-blocked")
        candidates["col2im-blocked"] = blocked_x("col2im-blocked")
        candidates.setdefault("col2im", whole_x)
        algorithm, gx = _choose("input_grad", key, _one_worker_too(candidates), measure=not small)
        settings.record(key, "input_grad", algorithm)
    return gx, gw


def _whole_cols_shape(x, w, gy_shape):
    return (1, x.shape[1] * w.shape[2] * w.shape[3], gy_shape[0] * gy_shape[2] * gy_shape[3])


def _whole_cols(x, w, stride, padding, dilation, gy_shape):
    padded = im2col.pad2d(np, x, padding)
    windows = im2col._strided_windows(np, padded, w.shape[2], w.shape[3], gy_shape[2], gy_shape[3], stride, dilation)
    return windows.reshape(_whole_cols_shape(x, w, gy_shape))
