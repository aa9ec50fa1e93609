"""The CPU's convolution algorithms, each forced in turn: float64 gradcheck, float32 parity with
PyTorch (output, input, weight and bias gradients), non-contiguous inputs, the worker threads
and the measured choice."""

import os
import signal

import numpy as np
import pytest

import profondo
import profondo.functional as F
from profondo import gradcheck, kernels
from profondo.backend import conv as settings
from profondo.kernels import cpu_conv

FORWARD = ["im2col", "im2col-blocked"]
WEIGHT_GRAD = ["im2col", "im2col-blocked"]
INPUT_GRAD = ["col2im", "col2im-blocked", "correlation-blocked"]

# (input shape, weight shape, stride, padding, dilation)
SHAPES = [
    ((3, 4, 7, 6), (5, 4, 3, 3), 1, 1, 1),
    ((2, 3, 8, 9), (4, 3, 5, 5), 1, 2, 1),
    ((3, 2, 9, 8), (3, 2, 3, 2), (2, 1), (1, 0), 1),   # strided: correlation gives way to col2im
    ((2, 3, 9, 9), (2, 3, 3, 3), 1, 2, 2),             # dilated
    ((2, 3, 6, 6), (4, 3, 3, 3), 1, 0, 1),             # no padding: windows straight over the input
    ((1, 2, 5, 5), (3, 2, 5, 5), 1, 0, 1),             # the kernel covers the input
]
# Every algorithm of every direction, each family both alone and mixed with the other.
COMBOS = [("im2col", "im2col", "col2im"), ("im2col-blocked", "im2col-blocked", "col2im-blocked"),
          ("im2col", "im2col-blocked", "correlation-blocked"), ("im2col-blocked", "im2col", "correlation-blocked"),
          ("im2col-blocked", "im2col", "col2im")]
assert {c[0] for c in COMBOS} == set(FORWARD) and {c[1] for c in COMBOS} == set(WEIGHT_GRAD)
assert {c[2] for c in COMBOS} == set(INPUT_GRAD)


@pytest.fixture(autouse=True)
def fresh_settings():
    settings.clear()
    settings.benchmark = True  # most tests here exercise the measured choice
    yield
    settings.forward = settings.weight_grad = settings.input_grad = "auto"
    settings.benchmark = False
    settings.clear()


def _force(forward, weight_grad, input_grad):
    settings.forward, settings.weight_grad, settings.input_grad = forward, weight_grad, input_grad


@pytest.mark.parametrize("combo", COMBOS, ids="/".join)
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: f"{s[0]}*{s[1]}-s{s[2]}-p{s[3]}-d{s[4]}")
def test_gradcheck(combo, shape):
    _force(*combo)
    xs, ws, stride, padding, dilation = shape
    rng = np.random.default_rng(0)
    x = profondo.tensor(rng.standard_normal(xs), requires_grad=True)
    w = profondo.tensor(rng.standard_normal(ws), requires_grad=True)
    b = profondo.tensor(rng.standard_normal(ws[0]), requires_grad=True)
    assert gradcheck(lambda x, w, b: F.conv2d(x, w, b, stride, padding, dilation), [x, w, b])


def _same(t):
    return t


def _torch_check(x, w, b, stride, padding, dilation, make_input=_same, make_weight=_same):
    torch = pytest.importorskip("torch")
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    px, pw, pb = (profondo.tensor(a, requires_grad=True) for a in (x, w, b))
    gy = np.random.default_rng(5)
    y = F.conv2d(make_input(px), make_weight(pw), pb, stride, padding, dilation)
    g = gy.standard_normal(y.shape).astype(np.float32)
    (y * profondo.tensor(g)).sum().backward()
    ty = torch.nn.functional.conv2d(make_input(tx), make_weight(tw), tb, stride, padding, dilation)
    (ty * torch.tensor(g)).sum().backward()
    for ours, theirs in ((y, ty), (px.grad, tx.grad), (pw.grad, tw.grad), (pb.grad, tb.grad)):
        assert ours.dtype == np.float32
        np.testing.assert_allclose(ours.numpy(), theirs.detach().numpy(), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("combo", COMBOS, ids="/".join)
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: f"{s[0]}*{s[1]}-s{s[2]}-p{s[3]}-d{s[4]}")
def test_parity_with_pytorch(combo, shape):
    _force(*combo)
    xs, ws, stride, padding, dilation = shape
    rng = np.random.default_rng(1)
    x, w, b = (rng.standard_normal(s).astype(np.float32) for s in (xs, ws, (ws[0],)))
    _torch_check(x, w, b, stride, padding, dilation)


@pytest.mark.parametrize("combo", COMBOS, ids="/".join)
def test_non_contiguous_inputs(combo):
    """A channels-last input seen as NCHW, and a transposed weight."""
    _force(*combo)
    rng = np.random.default_rng(2)
    x = rng.standard_normal((3, 8, 7, 4)).astype(np.float32)  # (N, H, W, C): permuted to (N, C, H, W)
    w = rng.standard_normal((4, 5, 3, 3)).astype(np.float32)  # (C, O, KH, KW): permuted to (O, C, KH, KW)
    b = rng.standard_normal(5).astype(np.float32)
    _torch_check(x, w, b, 1, 1, 1, lambda t: t.permute(0, 3, 1, 2), lambda t: t.permute(1, 0, 2, 3))


def test_a_batch_larger_than_one_block_uses_several_blocks_and_workers():
    """A batch split into many blocks, run on two worker threads, matches PyTorch; the BLAS
    thread count is back where it was afterwards."""
    threadpoolctl = pytest.importorskip("threadpoolctl")
    _force("im2col-blocked", "im2col-blocked", "col2im-blocked")
    rng = np.random.default_rng(3)
    x = rng.standard_normal((24, 8, 12, 12)).astype(np.float32)
    w, b = rng.standard_normal((6, 8, 3, 3)).astype(np.float32), rng.standard_normal(6).astype(np.float32)
    image_bytes = 8 * 9 * 144 * 4
    with threadpoolctl.threadpool_limits(2, user_api="blas"):
        assert cpu_conv.workers.count() == min(2, os.cpu_count())
        blocks = cpu_conv._blocks(24, 8 * 9 * 144, 4, 2)
        assert [a for a, _ in blocks] == list(range(0, 24, blocks[0][1])) and blocks[-1][1] == 24
        assert len(blocks) >= 2 and blocks[0][1] * image_bytes <= max(cpu_conv.BLOCK_BYTES, image_bytes)
        _torch_check(x, w, b, 1, 1, 1)
        assert profondo.get_num_threads() == 2


def test_auto_measures_once_per_shape_and_keeps_the_choice():
    rng = np.random.default_rng(4)
    x = profondo.tensor(rng.standard_normal((16, 8, 16, 16)).astype(np.float32), requires_grad=True)
    w = profondo.tensor(rng.standard_normal((16, 8, 3, 3)).astype(np.float32), requires_grad=True)
    assert 16 * w.numpy().size * 16 * 16 > cpu_conv.SMALL_MACS  # large enough to be measured
    F.conv2d(x, w, padding=1).sum().backward()
    key = (16, 8, 16, 16, 16, 3, 3, (1, 1), (1, 1), (1, 1), 1, "float32")
    chosen = settings.chosen()[key]
    base = {d: a.split(cpu_conv.ONE)[0] for d, a in chosen.items()}  # " x1": blocks on one worker
    assert base["forward"] in FORWARD and base["weight_grad"] in WEIGHT_GRAD
    assert base["input_grad"] in INPUT_GRAD
    assert {d: settings.measured[(d, key)] for d in ("forward", "weight_grad", "input_grad")} == chosen
    settings.measured[("forward", key)] = "im2col"  # a cached choice is what runs next time
    F.conv2d(x, w, padding=1)
    assert settings.chosen()[key]["forward"] == "im2col"
    settings.clear()
    assert settings.chosen() == {} and settings.measured == {}


def test_auto_runs_small_products_as_one_gemm_unmeasured():
    x = profondo.randn(4, 3, 10, 10, requires_grad=True)
    F.conv2d(x, profondo.randn(5, 3, 3, 3, requires_grad=True), padding=1).sum().backward()
    (key, chosen), = settings.chosen().items()
    assert chosen == {"forward": "im2col", "weight_grad": "im2col", "input_grad": "col2im"}
    assert settings.measured == {}


def test_without_benchmark_auto_follows_the_fixed_rule_and_measures_nothing():
    settings.benchmark = False
    x = profondo.zeros(16, 8, 16, 16, requires_grad=True)
    F.conv2d(x, profondo.zeros(16, 8, 3, 3, requires_grad=True), padding=1).sum().backward()
    (key, chosen), = settings.chosen().items()
    assert chosen == {"forward": "im2col", "weight_grad": "im2col", "input_grad": "col2im"}
    assert settings.measured == {}


def test_grouped_and_float16_convolutions_take_the_portable_kernel():
    rng = np.random.default_rng(6)
    x, w = rng.standard_normal((2, 4, 5, 5)), rng.standard_normal((4, 2, 3, 3))
    y, cols, _ = cpu_conv.conv2d_forward(np, x, w, (1, 1), (1, 1), (1, 1), 2, (5, 5))
    expected, _, _ = kernels.im2col.conv2d_forward(np, x, w, (1, 1), (1, 1), (1, 1), 2, (5, 5))
    np.testing.assert_array_equal(y, expected)
    assert settings.chosen() == {}  # nothing chosen: only groups == 1 has a choice


def test_without_benchmark_the_results_equal_the_single_gemm_kernels_bit_for_bit():
    """benchmark = False (the default) must reproduce the one-GEMM kernels exactly: the README's
    accuracies were measured with them."""
    settings.benchmark = False
    rng = np.random.default_rng(7)
    x = rng.standard_normal((16, 8, 32, 32)).astype(np.float32)
    w = rng.standard_normal((16, 8, 3, 3)).astype(np.float32)
    y, saved, padded = cpu_conv.conv2d_forward(np, x, w, (2, 2), (1, 1), (1, 1), 1, (16, 16))
    y_old, cols, padded_old = kernels.im2col.conv2d_forward(np, x, w, (2, 2), (1, 1), (1, 1), 1, (16, 16))
    np.testing.assert_array_equal(y, y_old)
    gy = rng.standard_normal(y.shape).astype(np.float32)
    gx, gw = cpu_conv.conv2d_backward(np, gy, w, saved, padded, (2, 2), (1, 1), (1, 1), 1, True, True)
    gx_old, gw_old = kernels.im2col.conv2d_backward(np, gy, w, cols, padded_old, (2, 2), (1, 1), (1, 1), 1,
                                                    True, True)
    np.testing.assert_array_equal(gx, gx_old)
    np.testing.assert_array_equal(gw, gw_old)
    (key, chosen), = settings.chosen().items()
    assert chosen == {"forward": "im2col", "weight_grad": "im2col", "input_grad": "col2im"}


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this platform")
def test_a_forked_child_makes_its_own_worker_pool():
    """The parent's pool threads do not exist in a forked child: it must not wait on them."""
    threadpoolctl = pytest.importorskip("threadpoolctl")
    _force("im2col-blocked", "im2col-blocked", "col2im-blocked")
    x, w = np.ones((8, 4, 16, 16), np.float32), np.ones((4, 4, 3, 3), np.float32)
    with threadpoolctl.threadpool_limits(2, user_api="blas"):
        expected = cpu_conv.forward_blocked(x, w, (1, 1), (1, 1), (1, 1), (16, 16))  # the parent's pool runs
        pid = os.fork()
        if pid == 0:  # the child: exit 0 only if its convolution finishes (within 20 s) and is right
            signal.alarm(20)
            try:
                y = cpu_conv.forward_blocked(x, w, (1, 1), (1, 1), (1, 1), (16, 16))
                os._exit(0 if np.array_equal(y, expected) else 1)
            except BaseException:
                os._exit(2)
        _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


def test_auto_also_measures_blocks_on_one_worker_and_runs_that_choice():
    """Where the BLAS has several threads, each blocked form is measured on one worker as well;
    a choice of one worker runs on one, and falls back to the plain form once there is only one."""
    threadpoolctl = pytest.importorskip("threadpoolctl")
    if os.cpu_count() < 2:
        pytest.skip("one CPU: no second worker to compare against")
    rng = np.random.default_rng(7)
    x = rng.standard_normal((16, 8, 16, 16)).astype(np.float32)
    w = rng.standard_normal((16, 8, 3, 3)).astype(np.float32)
    key = (16, 8, 16, 16, 16, 3, 3, (1, 1), (1, 1), (1, 1), 1, "float32")
    expected = cpu_conv.im2col.conv2d_forward(np, x, w, (1, 1), (1, 1), (1, 1), 1, (16, 16))[0]
    with threadpoolctl.threadpool_limits(2, user_api="blas"):
        names = list(cpu_conv._one_worker_too({"im2col-blocked": print, "im2col": print}))
        assert names == ["im2col-blocked", "im2col", "im2col-blocked x1"]
        settings.measured[("forward", key)] = "im2col-blocked x1"
        y, _, _ = cpu_conv.conv2d_forward(np, x, w, (1, 1), (1, 1), (1, 1), 1, (16, 16))
        assert settings.chosen()[key]["forward"] == "im2col-blocked x1"
    with threadpoolctl.threadpool_limits(1, user_api="blas"):
        cpu_conv.conv2d_forward(np, x, w, (1, 1), (1, 1), (1, 1), 1, (16, 16))
        assert settings.chosen()[key]["forward"] == "im2col-blocked"
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-4)
