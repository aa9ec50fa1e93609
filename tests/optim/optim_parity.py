"""Side-by-side runs of a profondo optimizer and its torch.optim twin (imported by the optim tests).

Not a conftest.py: other tests import the top-level tests/conftest.py by that name.
"""

import numpy as np
import pytest

from profondo import nn
from profondo.tensor import Tensor

SHAPES = ((4, 3), (3,), (2, 1, 2, 2))


def _grad(w: np.ndarray, noise: np.ndarray) -> np.ndarray:
    """A gradient that depends on the position, so that trajectories feed back."""
    return (np.sin(w) + 0.5 * noise).astype(np.float32)


def trajectory(make_ours, make_torch, steps: int = 8, seed: int = 0, rtol: float = 2e-5, atol: float = 1e-6):
    """Run profondo's and torch's optimizer side by side on identical gradient rules; compare every step."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(seed)
    start = [rng.standard_normal(s).astype(np.float32) for s in SHAPES]
    ours = [nn.Parameter(a.copy()) for a in start]
    theirs = [torch.nn.Parameter(torch.from_numpy(a.copy())) for a in start]
    opt, ref = make_ours(ours), make_torch(torch, theirs)
    for step in range(steps):
        noise = [rng.standard_normal(s).astype(np.float32) for s in SHAPES]
        for p, q, n in zip(ours, theirs, noise):
            p.grad = Tensor(_grad(p.data, n))
            q.grad = torch.from_numpy(_grad(q.detach().numpy(), n))
        opt.step()
        ref.step()
        for i, (p, q) in enumerate(zip(ours, theirs)):
            np.testing.assert_allclose(p.data, q.detach().numpy(), rtol=rtol, atol=atol,
                                       err_msg=f"parameter {i} after step {step + 1}")
    return opt, ours

