"""Check an operator's backward against central differences in float64, at first order
(gradcheck) and at second order (gradgradcheck)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from .autograd import enable_grad, grad, no_grad
from .tensor import Tensor


class GradcheckError(AssertionError):
    """Raised when analytic and numeric gradients disagree."""


def gradcheck(fn: Callable, inputs: Sequence, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3,
              raise_exception: bool = True, seed: int = 0, fast_mode: bool = False) -> bool:
    """Compare the gradients backward() gives with central differences, in float64.

    Floating inputs are copied to float64 (those marked ``requires_grad`` are checked; plain
    arrays are checked too); integer inputs (labels, indices) pass through unchanged. A
    random projection of the output, fixed by ``seed``, turns it into a scalar.

    ``fast_mode=True`` (PyTorch's name) checks, for each input, the derivative along one random
    direction instead of along every element: two evaluations per input instead of two per
    element, and a wrong gradient still fails unless its error is orthogonal to that direction.

    >>> x = profondo.randn(3, 4, dtype="float64", requires_grad=True)
    >>> gradcheck(lambda t: (t * t).sum(axis=1), [x])
    True
    """
    prepared = []
    for x in inputs:
        data = x.data if isinstance(x, Tensor) else np.asarray(x)
        if data.dtype.kind == "f":
            wanted = x.requires_grad if isinstance(x, Tensor) else True
            prepared.append(Tensor(np.array(data.get() if hasattr(data, "get") else data, dtype=np.float64), wanted))
        else:
            prepared.append(x if isinstance(x, Tensor) else Tensor(data))
    rng = np.random.default_rng(seed)
    projections: list[np.ndarray] = []

    def scalar_output() -> Tensor:
        out = fn(*prepared)
        outs = out if isinstance(out, (tuple, list)) else (out,)
        if not projections:
            projections.extend(rng.standard_normal(o.shape) for o in outs)
        total = None
        for o, r in zip(outs, projections):
            term = (o * Tensor(r)).sum()
            total = term if total is None else total + term
        return total

    loss = scalar_output()
    for t in prepared:
        t.grad = None
    loss.backward()
    for i, t in enumerate(prepared):
        if not t.requires_grad:
            continue
        analytic = t.grad.data if t.grad is not None else np.zeros_like(t.data)
        numeric = np.zeros_like(t.data)
        if fast_mode:
            direction = rng.standard_normal(t.data.shape)
            original = t.data.copy()
            with no_grad():
                t.data[...] = original + eps * direction
                up = scalar_output().item()
                t.data[...] = original - eps * direction
                down = scalar_output().item()
                t.data[...] = original
            numeric_d, analytic_d = (up - down) / (2 * eps), float((analytic * direction).sum())
            if abs(analytic_d - numeric_d) > atol + rtol * abs(numeric_d):
                message = (f"gradcheck (fast_mode) failed for input {i} (shape {tuple(t.shape)}): along a random "
                           f"direction the analytic derivative is {analytic_d:.8g}, the numeric {numeric_d:.8g} "
                           f"(atol={atol}, rtol={rtol})" + ("" if t.grad is not None else "; backward gave this input no gradient"))
                if raise_exception:
                    raise GradcheckError(message)
                return False
            continue
        with no_grad():
            for index in np.ndindex(*t.data.shape):
                original = t.data[index]
                t.data[index] = original + eps
                up = scalar_output().item()
                t.data[index] = original - eps
                down = scalar_output().item()
                t.data[index] = original
                numeric[index] = (up - down) / (2 * eps)
        bad = np.abs(analytic - numeric) > atol + rtol * np.abs(numeric)
        if bad.any():
            where = tuple(int(j) for j in np.argwhere(bad)[0])
            message = (f"gradcheck failed for input {i} (shape {tuple(t.shape)}) at index {where}: "
                       f"analytic {analytic[where]:.8g} vs numeric {numeric[where]:.8g} "
                       f"({int(bad.sum())} of {bad.size} elements outside atol={atol}, rtol={rtol})"
                       + ("" if t.grad is not None else "; backward gave this input no gradient"))
            if raise_exception:
                raise GradcheckError(message)
            return False
    return True


def gradgradcheck(fn: Callable, inputs: Sequence, grad_outputs: Sequence | None = None, eps: float = 1e-6,
                  atol: float = 1e-5, rtol: float = 1e-3, raise_exception: bool = True, seed: int = 0,
                  fast_mode: bool = False) -> bool:
    """Check second derivatives by central differences in float64 (PyTorch's ``gradgradcheck``).

    The gradients of ``fn``, taken with ``create_graph=True`` for the vectors ``grad_outputs``
    (random, fixed by ``seed``, when None), form a function of the inputs and of those
    vectors; :func:`gradcheck` then compares its derivatives, which the engine computes by
    differentiating the recorded backward pass, with central differences. In a failure message
    the inputs are numbered first, then the grad_outputs. ``fast_mode`` as in :func:`gradcheck`.

    >>> x = profondo.randn(3, dtype="float64", requires_grad=True)
    >>> gradgradcheck(lambda t: (t * t * t).sum(), [x])
    True
    """
    prepared = [Tensor(np.array(_host(x.data), dtype=np.float64), x.requires_grad)
                if isinstance(x, Tensor) and x.data.dtype.kind == "f" else x for x in inputs]
    n = len(prepared)
    differentiable = [i for i, t in enumerate(prepared) if isinstance(t, Tensor) and t.requires_grad]
    outs = fn(*prepared)
    outs = list(outs) if isinstance(outs, (tuple, list)) else [outs]
    if grad_outputs is None:
        rng = np.random.default_rng(seed + 1)
        grad_outputs = [rng.standard_normal(o.shape) for o in outs]
    vectors = [Tensor(np.array(_host(v.data if isinstance(v, Tensor) else v), dtype=np.float64), True)
               for v in grad_outputs]
    if len(vectors) != len(outs):
        raise ValueError(f"gradgradcheck: {len(vectors)} grad_outputs given for {len(outs)} outputs")

    def first_derivatives(*args):
        xs, vs = args[:n], args[n:]
        with enable_grad():
            out = fn(*xs)
            out = list(out) if isinstance(out, (tuple, list)) else [out]
            pairs = [(o, v) for o, v in zip(out, vs) if o.requires_grad]
            grads = grad([o for o, _ in pairs], [xs[i] for i in differentiable], [v for _, v in pairs],
                         create_graph=True, allow_unused=True)
        return tuple(g if g is not None else Tensor(np.zeros(xs[i].shape)) for g, i in zip(grads, differentiable))

    return gradcheck(first_derivatives, [*prepared, *vectors], eps, atol, rtol, raise_exception, seed, fast_mode)


def _host(a):
    return a.get() if hasattr(a, "get") else a
