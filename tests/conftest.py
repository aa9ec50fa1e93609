"""Shared helpers for the engine's tests: random inputs, PyTorch parity (the operator
case tables and their harness live in tests/functional/harness.py).

Import them with ``from tests.conftest import torch_parity, run_profondo, ...`` (tests/ is a
package, so the name cannot clash with the rootless conftest.py of a subfolder).
Float arrays passed to the helpers are differentiable inputs; integer arrays (labels,
indices) pass through as constants.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pytest

import profondo

# float32 against float32 (PyTorch): summation order differs, so a few ulps of the largest values.
ATOL, RTOL = 1e-5, 1e-4


def randn(rng: np.random.Generator, *shape: int, scale: float = 1.0) -> np.ndarray:
    """Standard normal float32 values."""
    return (rng.standard_normal(shape) * scale).astype(np.float32)


def positive(rng: np.random.Generator, *shape: int) -> np.ndarray:
    """float32 values in [0.5, 2), for log, sqrt, division and powers."""
    return rng.uniform(0.5, 2.0, shape).astype(np.float32)


def away_from_zero(rng: np.random.Generator, *shape: int) -> np.ndarray:
    """Normal float32 values at least 0.1 from zero, for kinks such as abs and relu."""
    x = rng.standard_normal(shape)
    return (np.sign(x) * (np.abs(x) + 0.1)).astype(np.float32)


def labels(rng: np.random.Generator, n_classes: int, *shape: int) -> np.ndarray:
    """int64 class indices in [0, n_classes)."""
    return rng.integers(0, n_classes, shape).astype(np.int64)


def _outputs(out) -> list:
    return list(out) if isinstance(out, (tuple, list)) else [out]


def _projections(outs: Sequence[np.ndarray], seed: int) -> list[np.ndarray]:
    """Fixed random weights that turn the outputs into one scalar to back-propagate."""
    rng = np.random.default_rng(seed + 1000)
    return [rng.standard_normal(o.shape).astype(o.dtype) for o in outs]


def run_profondo(fn: Callable, arrays: Sequence[np.ndarray], seed: int = 0):
    """Run ``fn`` on the arrays (float ones requiring grad), back-propagate a fixed random
    projection of the outputs, and check that float32 stays float32 in outputs and gradients.

    Returns (output arrays, gradient arrays; None for integer inputs).
    """
    inputs = [profondo.from_numpy(a.copy(), requires_grad=a.dtype.kind == "f") for a in arrays]
    outs = _outputs(fn(*inputs))
    values = [o.numpy() for o in outs]
    float32 = all(a.dtype == np.float32 for a in arrays if a.dtype.kind == "f")
    for i, v in enumerate(values):
        assert not float32 or v.dtype == np.float32, f"float32 inputs gave output {i} of dtype {v.dtype}"
    terms = [(o * profondo.from_numpy(r)).sum() for o, r in zip(outs, _projections(values, seed)) if o.requires_grad]
    if terms:
        sum(terms[1:], terms[0]).backward()
    grads = [None if not t.requires_grad else np.zeros(t.shape, t.dtype) if t.grad is None else t.grad.numpy()
             for t in inputs]
    for i, g in enumerate(grads):
        assert g is None or not float32 or g.dtype == np.float32, f"float32 input {i} got a {g.dtype} gradient"
    return values, grads


def torch_parity(profondo_fn: Callable, torch_fn: Callable, arrays: Sequence[np.ndarray],
                 atol: float = ATOL, rtol: float = RTOL, seed: int = 0):
    """Run both frameworks on the same float32 inputs; compare every output and the gradient
    of every float input (of the same random projection of the outputs). Skips without torch.

    >>> torch_parity(lambda x: x.exp(), lambda x: x.exp(), [randn(rng, 2, 3)])
    """
    torch = pytest.importorskip("torch")
    p_outs, p_grads = run_profondo(profondo_fn, arrays, seed)
    t_inputs = [torch.tensor(a, requires_grad=a.dtype.kind == "f") for a in arrays]
    t_raw = _outputs(torch_fn(*t_inputs))
    t_outs = [o.detach().numpy() for o in t_raw]
    assert len(p_outs) == len(t_outs), f"{len(p_outs)} outputs, torch gives {len(t_outs)}"
    for i, (p, t) in enumerate(zip(p_outs, t_outs)):
        assert p.shape == t.shape, f"output {i}: shape {p.shape}, torch {t.shape}"
        np.testing.assert_allclose(p, t, rtol=rtol, atol=atol, err_msg=f"output {i}")
    terms = [(o * torch.from_numpy(r)).sum() for o, r in zip(t_raw, _projections(t_outs, seed)) if o.requires_grad]
    if terms:
        sum(terms[1:], terms[0]).backward()
    for i, (t, g) in enumerate(zip(t_inputs, p_grads)):
        if g is not None:
            expected = np.zeros(g.shape, np.float32) if t.grad is None else t.grad.numpy()
            np.testing.assert_allclose(g, expected, rtol=rtol, atol=atol, err_msg=f"gradient of input {i}")
    return p_outs, p_grads



def nn_module_classes() -> list[type]:
    """Every Module class that ``profondo.nn.__all__`` exports (the contract tests' subjects)."""
    import inspect

    from profondo import nn

    return [obj for name in nn.__all__ if inspect.isclass(obj := getattr(nn, name)) and issubclass(obj, nn.Module)]


def randomize_batch_norms(model, seed: int = 0):
    """Non-trivial running statistics and affine parameters (fresh ones are the identity) in
    every batch norm of ``model`` (``model`` itself included); returns ``model``."""
    from profondo import nn

    rng = np.random.default_rng(seed)
    for m in model.modules():
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            c = m.num_features
            m.running_mean.data[...] = rng.standard_normal(c) * 0.2
            m.running_var.data[...] = rng.uniform(0.5, 2.0, c)
            m.weight.data[...] = rng.uniform(0.5, 1.5, c)
            m.bias.data[...] = rng.standard_normal(c) * 0.1
    return model
