"""The autograd engine: operators record themselves, backward() walks the graph once.

An operator is a :class:`Function` subclass with ``forward(*arrays)`` and
``backward(*grad_outputs)``; it knows only its local gradients. The engine orders the
graph, accumulates gradients of tensors used more than once, sums gradients back over
broadcast axes, and frees what each operator saved as soon as its backward has run.
"""

from __future__ import annotations

import numpy as np

from .backend import _cupy

_grad_enabled = True


class no_grad:
    """Context manager (or decorator) under which no graph is recorded."""

    _enabled = False

    def __enter__(self) -> None:
        global _grad_enabled
        self._previous, _grad_enabled = _grad_enabled, self._enabled

    def __exit__(self, *exc) -> None:
        global _grad_enabled
        _grad_enabled = self._previous

    def __call__(self, fn):
        import functools

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with type(self)():
                return fn(*args, **kwargs)

        return wrapper


class enable_grad(no_grad):
    """Turn graph recording back on inside a :class:`no_grad` block."""

    _enabled = True


def is_grad_enabled() -> bool:
    return _grad_enabled


class Function:
    """Base class of every operator.

    Subclasses set constructor arguments as attributes, implement ``forward`` on arrays
    (using ``self.xp`` so that one body serves NumPy and CuPy) and ``backward`` returning
    one gradient per input (``None`` where ``self.needs_input_grad[i]`` is False).
    """

    def save_for_backward(self, *arrays) -> None:
        self.saved = arrays

    def forward(self, *arrays):  # pragma: no cover - abstract
        raise NotImplementedError

    def backward(self, *grad_outputs):  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__} has no backward")

    def apply(self, *inputs):
        """Run forward on the inputs' arrays and, when a gradient is needed, record the call."""
        from .tensor import Tensor, as_tensor

        first = None
        for t in inputs:
            if isinstance(t, Tensor):
                first = t
                break
        like = first.data if first is not None else None
        tensors = tuple(t if isinstance(t, Tensor) else as_tensor(t, like=like) for t in inputs)
        data0 = tensors[0].data if tensors else like
        self.xp = _cupy if (_cupy is not None and isinstance(data0, _cupy.ndarray)) else np
        needs = tuple(t.requires_grad for t in tensors)
        record = _grad_enabled and any(needs)
        if record:
            self.needs_input_grad = needs
        self.saved = ()
        out = self.forward(*(t.data for t in tensors))
        if isinstance(out, tuple):
            self.n_outputs = len(out)
            if record:
                self.output_meta = tuple((o.shape, o.dtype) for o in out)
            results = tuple(Tensor._wrap(o, self if record else None, i) for i, o in enumerate(out))
        else:
            self.n_outputs = 1
            results = Tensor._wrap(out, self if record else None, 0)
        if record:
            self.inputs = tensors
        else:
            self.saved = ()
        return results


def _unbroadcast(grad, shape):
    """Sum ``grad`` over the axes along which an input of ``shape`` was broadcast."""
    if grad.shape == shape:
        return grad
    extra = grad.ndim - len(shape)
    if extra:
        grad = grad.sum(axis=tuple(range(extra)))
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if axes:
        grad = grad.sum(axis=axes, keepdims=True)
    return grad.reshape(shape)


def _topological_order(root_fn) -> list:
    """Functions reachable from ``root_fn``, each after every function that consumes it."""
    order, visited, stack = [], {id(root_fn)}, [(root_fn, False)]
    while stack:
        fn, expanded = stack.pop()
        if expanded:
            order.append(fn)
            continue
        stack.append((fn, True))
        inputs = getattr(fn, "inputs", None)
        if inputs is None:
            raise RuntimeError(
                f"backward through {type(fn).__name__} a second time: its saved arrays were "
                "freed by the first backward; pass retain_graph=True to the first call"
            )
        for t in inputs:
            parent = t.creator
            if parent is not None and id(parent) not in visited:
                visited.add(id(parent))
                stack.append((parent, False))
    order.reverse()
    return order


def backward(root, grad=None, retain_graph: bool = False) -> None:
    """Accumulate d(root)/d(leaf) into ``leaf.grad`` for every leaf that requires grad."""
    from .tensor import Tensor

    if not root.requires_grad:
        raise RuntimeError("backward() on a tensor that does not require grad (no input required grad, or it was made under no_grad)")
    xp = root.xp
    if grad is None:
        if root.data.size != 1:
            raise RuntimeError(
                f"backward() on a non-scalar tensor of shape {tuple(root.shape)} needs an explicit "
                "gradient of the same shape: call y.backward(gradient), or reduce y first (y.sum())"
            )
        grad = xp.ones_like(root.data)
    else:
        grad = grad.data if isinstance(grad, Tensor) else xp.asarray(grad, dtype=root.data.dtype)
        if grad.shape != root.data.shape:
            raise ValueError(f"backward(): gradient of shape {tuple(grad.shape)} given for a tensor of shape {tuple(root.shape)}")
    if root.creator is None:  # a leaf
        _accumulate_leaf(root, grad)
        return

    pending: dict[int, list] = {id(root.creator): [None] * root.creator.n_outputs}
    pending[id(root.creator)][root._index] = grad
    for fn in _topological_order(root.creator):
        grads_out = pending.pop(id(fn), None)
        if grads_out is None:
            continue
        if fn.n_outputs > 1:
            # Outputs that received no gradient contribute zero; shapes come from the saved hint.
            grads_out = [g if g is not None else xp.zeros(s, d) for g, (s, d) in zip(grads_out, fn.output_meta)]
        grads_in = fn.backward(*grads_out)
        if not isinstance(grads_in, tuple):
            grads_in = (grads_in,)
        for t, g, needed in zip(fn.inputs, grads_in, fn.needs_input_grad):
            if not needed or g is None:
                continue
            g = _unbroadcast(g, t.data.shape)
            parent = t.creator
            if parent is None:
                _accumulate_leaf(t, g)
            else:
                slots = pending.get(id(parent))
                if slots is None:
                    slots = pending[id(parent)] = [None] * parent.n_outputs
                previous = slots[t._index]
                # Out of place: a gradient array may be shared by several inputs (x + x).
                slots[t._index] = g if previous is None else previous + g
            if t._retain:
                t.grad = Tensor(g if t.grad is None else t.grad.data + g)
        if not retain_graph:
            fn.saved = ()
            fn.inputs = None


def _accumulate_leaf(t, g) -> None:
    from .tensor import Tensor

    if g.dtype != t.data.dtype:
        g = g.astype(t.data.dtype)
    if t.grad is None:
        t.grad = Tensor(g)
    else:  # out of place for the same reason as above
        t.grad.data = t.grad.data + g
