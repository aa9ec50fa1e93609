"""The same operators on "cuda" (CuPy) and on the CPU give the same values and gradients."""

import numpy as np
import pytest

import profondo
import profondo.functional as F

pytestmark = pytest.mark.skipif(not profondo.cuda_available(), reason="CUDA needs CuPy and a visible GPU")

OPS = {
    "matmul_broadcast": (lambda a, b: a @ b, [(2, 3, 4), (4, 5)]),
    "linear_relu": (lambda x, w, b: F.relu(F.linear(x, w, b)), [(5, 4), (3, 4), (3,)]),
    "conv2d": (lambda x, w, b: F.conv2d(x, w, b, stride=2, padding=1, groups=2), [(2, 4, 7, 7), (6, 2, 3, 3), (6,)]),
    "max_pool2d": (lambda x: F.max_pool2d(x, 3, 2, 1), [(2, 3, 7, 7)]),
    "avg_pool2d_tiled": (lambda x: F.avg_pool2d(x, 2), [(2, 3, 4, 4)]),
    "batch_norm": (lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True), [(4, 3, 2, 2), (3,), (3,)]),
    "softmax_reductions": (lambda x: F.softmax(x, 1).max(axis=1) + F.logsumexp(x, axis=1) + x.var(axis=1), [(4, 5)]),
    "getitem_gather": (lambda x: x[[0, 0, 2]][:, ::-1] + F.gather(x[:3], 1, profondo.zeros(3, 5, dtype="int64", device=x.device)),
                       [(4, 5)]),
}


def _run(fn, arrays, dev):
    inputs = [profondo.tensor(a, requires_grad=True, device=dev) for a in arrays]
    out = fn(*inputs)
    out.sum().backward()
    return out, [t.grad for t in inputs]


@pytest.mark.parametrize("name", OPS)
def test_cuda_matches_cpu(name):
    fn, shapes = OPS[name]
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    cpu_out, cpu_grads = _run(fn, arrays, "cpu")
    gpu_out, gpu_grads = _run(fn, arrays, "cuda")
    assert gpu_out.device == "cuda:0" and gpu_out.dtype == np.float32
    np.testing.assert_allclose(gpu_out.numpy(), cpu_out.numpy(), rtol=1e-4, atol=1e-5)
    for g_cpu, g_gpu in zip(cpu_grads, gpu_grads):
        assert g_gpu.device == "cuda:0" and g_gpu.dtype == np.float32
        np.testing.assert_allclose(g_gpu.numpy(), g_cpu.numpy(), rtol=1e-4, atol=1e-5)


def test_cross_entropy_on_cuda():
    rng = np.random.default_rng(0)
    logits, labels = rng.standard_normal((6, 4)).astype(np.float32), rng.integers(0, 4, 6)
    losses = []
    for dev in ("cpu", "cuda"):
        x = profondo.tensor(logits, requires_grad=True, device=dev)
        loss = F.cross_entropy(x, profondo.tensor(labels, device=dev), label_smoothing=0.1)
        loss.backward()
        losses.append((loss.item(), x.grad.numpy()))
    assert losses[1][0] == pytest.approx(losses[0][0], rel=1e-5)
    np.testing.assert_allclose(losses[1][1], losses[0][1], rtol=1e-4, atol=1e-6)


def test_moving_between_devices_is_differentiable():
    x = profondo.ones(3, requires_grad=True)
    y = (x.to("cuda") * 2).cpu()
    assert y.device == "cpu"
    y.sum().backward()
    assert x.grad.device == "cpu" and x.grad.tolist() == [2, 2, 2]
