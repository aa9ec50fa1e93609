"""The autograd engine: operators record themselves, backward() walks the graph once.

An operator is a :class:`Function` subclass with ``forward(*arrays)`` and
``backward(*grad_outputs)``; it knows only its local gradients. The engine orders the
graph, accumulates gradients of tensors used more than once, sums gradients back over
broadcast axes, and frees what each operator saved as soon as its backward has run.

With ``create_graph=True`` (:func:`grad`, ``Tensor.backward``) the engine records the
backward pass itself, so that gradients can be differentiated again: each operator's
backward then runs on Tensors (see :class:`Function`), and ``profondo.autograd.functional``
builds Jacobians, Hessians and their products on top.
"""

from __future__ import annotations

import copy
from contextvars import ContextVar

import numpy as np

from ..backend import _cupy

# Whether operators record a graph, per thread as in PyTorch: no_grad in one thread leaves
# every other thread recording, and a new thread starts with recording on (the default).
# A context variable is per thread (and per asyncio task) and reads as fast as a global,
# faster than a threading.local attribute; every operator call reads it.
_grad_mode: ContextVar[bool] = ContextVar("profondo_grad_enabled", default=True)
_grad_enabled = _grad_mode.get
_set_grad_mode = _grad_mode.set


class no_grad:
    """Context manager (or decorator, with or without parentheses) under which no graph is
    recorded, in the calling thread only."""

    _enabled = False

    def __new__(cls, fn=None):
        self = super().__new__(cls)
        return self if fn is None else self(fn)  # bare @no_grad, as PyTorch allows

    def __enter__(self) -> None:
        self._previous = _grad_enabled()
        _set_grad_mode(self._enabled)

    def __exit__(self, *exc) -> None:
        _set_grad_mode(self._previous)

    def __call__(self, fn):
        import functools

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with type(self)():
                return fn(*args, **kwargs)

        return wrapper


class enable_grad(no_grad):
    """Turn graph recording back on inside a :class:`no_grad` block (in the calling thread)."""

    _enabled = True


class set_grad_enabled:
    """Turn graph recording on or off in the calling thread, as PyTorch's ``set_grad_enabled``.

    Called plainly (``set_grad_enabled(False)``) it takes effect at once and stays; used as
    ``with set_grad_enabled(mode):`` or as a decorator it restores the previous mode after.
    """

    def __init__(self, mode: bool) -> None:
        if not isinstance(mode, (bool, np.bool_)):
            raise TypeError(f"set_grad_enabled expected a bool, received {type(mode).__name__} {mode!r}")
        self.mode = bool(mode)
        self._previous = _grad_enabled()
        _set_grad_mode(self.mode)

    def __enter__(self) -> None:
        pass

    def __exit__(self, *exc) -> None:
        _set_grad_mode(self._previous)

    def __call__(self, fn):
        import functools

        _set_grad_mode(self._previous)  # as a decorator it acts only while fn runs
        mode = self.mode

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            previous = _grad_enabled()
            _set_grad_mode(mode)
            try:
                return fn(*args, **kwargs)
            finally:
                _set_grad_mode(previous)

        return wrapper


def is_grad_enabled() -> bool:
    """True when operators called in this thread record a graph."""
    return _grad_enabled()


class Function:
    """Base class of every operator.

    Subclasses set constructor arguments as attributes, implement ``forward`` on arrays
    (using ``self.xp`` so that one body serves NumPy and CuPy) and ``backward`` returning
    one gradient per input (``None`` where ``self.needs_input_grad[i]`` is False).

    Higher orders (``create_graph=True``) take one of two routes:

    - ``differentiable_backward = True``: the same ``backward`` body runs on Tensors. The
      engine hands it Tensor gradients, ``self.saved`` with every saved array that is one of
      the inputs or outputs replaced by that Tensor (other saved arrays, such as masks and
      indices, stay constant arrays), and as ``self.xp`` a namespace whose ``exp``, ``where``,
      ``broadcast_to``... are differentiable operators. Operator overloads and array methods
      (``*``, ``@``, ``.sum``, ``.reshape``, ``.T``) serve both modes.
    - ``composite(*inputs)``: the forward written with other (differentiable) operators on
      Tensors. With ``create_graph=True`` the engine differentiates the composite in place of
      ``backward``, so a fused or kernel-backed operator keeps its fast first-order path.

    An operator with neither raises a clear error when asked for a differentiable backward.
    """

    differentiable_backward = False

    def composite(self, *inputs):  # pragma: no cover - the absence of a composite is tested by identity
        raise NotImplementedError

    def save_for_backward(self, *arrays) -> None:
        self.saved = arrays

    def forward(self, *arrays):  # pragma: no cover - abstract
        raise NotImplementedError

    def backward(self, *grad_outputs):  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__} has no backward")

    def apply(self, *inputs):
        """Run forward on the inputs' arrays and, when a gradient is needed, record the call."""
        from ..tensor import Tensor, as_tensor

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
        record = any(needs) and _grad_enabled()
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
            self._out = out  # lets create_graph tell saved outputs from other saved arrays
        else:
            self.saved = ()
        return results

    def __call__(self, *inputs):
        """Use an operator inside another operator's backward: on arrays (the first-order path)
        its forward runs directly and nothing is recorded; on Tensors (``create_graph``) it is
        applied, so that its own backward extends the graph."""
        from ..tensor import Tensor

        for t in inputs:
            if isinstance(t, Tensor):
                return self.apply(*inputs)
        self.xp = _cupy if (_cupy is not None and isinstance(inputs[0], _cupy.ndarray)) else np
        self.saved = ()
        return self.forward(*inputs)


def unwrap(x):
    """The array inside a Tensor; anything else unchanged. (Not ``getattr(x, "data", x)``: a
    NumPy array's ``.data`` is a memoryview.)"""
    from ..tensor import Tensor

    return x.data if isinstance(x, Tensor) else x


def _unbroadcast(grad, shape):
    """Sum ``grad`` over the axes along which an input of ``shape`` was broadcast."""
    if grad.shape == shape:
        return grad
    extra = grad.ndim - len(shape)
    axes = tuple(range(extra)) + tuple(extra + i for i, n in enumerate(shape) if n == 1 and grad.shape[extra + i] != 1)
    # keepdims, then reshape: an array even for a 0-d input (a plain sum would give a NumPy scalar)
    return grad.sum(axis=axes, keepdims=True).reshape(shape)


def _topological_order(*root_fns) -> list:
    """Functions reachable from ``root_fns``, each after every function that consumes it."""
    order, visited, stack = [], set(), [(fn, False) for fn in reversed(root_fns)]
    while stack:
        fn, expanded = stack.pop()
        if expanded:
            order.append(fn)
            continue
        # Mark on expansion, not on push: a function pushed early by one consumer must still
        # finish after every other consumer that is expanded before it (y + exp(y)).
        if id(fn) in visited:
            continue
        visited.add(id(fn))
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
                stack.append((parent, False))
    order.reverse()
    return order


def backward(root, grad=None, retain_graph: bool | None = None, create_graph: bool = False, inputs=None) -> None:
    """Accumulate d(root)/d(leaf) into ``leaf.grad`` for every leaf that requires grad (only
    into ``inputs`` when given); with ``create_graph`` the gradients are recorded in a graph."""
    from ..tensor import Tensor

    if create_graph or inputs is not None:
        return _backward_into(root, grad, retain_graph, create_graph, inputs)
    if not root.requires_grad:
        raise RuntimeError("backward() on a tensor that does not require grad (no input required grad, or it was made under no_grad)")
    xp = root.xp
    held: set[int] = set()  # buffers that a .grad holds, or the caller's own gradient array
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
        held.add(_buffer(grad))
    if root.creator is None or root._retain:
        _accumulate(root, grad, held)
        if root.creator is None:  # a leaf
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
                _accumulate(t, g, held)
            else:
                slots = pending.get(id(parent))
                if slots is None:
                    slots = pending[id(parent)] = [None] * parent.n_outputs
                previous = slots[t._index]
                # Out of place: a gradient array may be shared by several inputs (x + x).
                slots[t._index] = g if previous is None else previous + g
                if t._retain:
                    _accumulate(t, g, held)
        if not retain_graph:
            fn.saved = ()
            fn.inputs = None


def _buffer(a) -> int:
    """Identity of the memory behind ``a`` (views of one array share it)."""
    return id(a if a.base is None else a.base)


def _accumulate(t, g, held: set) -> None:
    """Add ``g`` into ``t.grad``, which must own its array: optimizers update it in place."""
    from ..tensor import Tensor

    if g.dtype != t.data.dtype:
        g = g.astype(t.data.dtype)
    if t.grad is not None:  # out of place: t.grad's array may be referenced elsewhere
        t.grad.data = t.grad.data + g
        return
    # Pass-through operators (add, reshape, sum's broadcast) hand the same buffer to several
    # tensors, or a read-only broadcast view: such a gradient is copied before it is kept.
    key = _buffer(g)
    if key in held or not getattr(g.flags, "writeable", True) or any(
            s == 0 and n > 1 for s, n in zip(g.strides, g.shape)):
        g = g.copy()
        key = _buffer(g)
    held.add(key)
    t.grad = Tensor(g)


# --- the general walk: several roots, chosen inputs, and create_graph ----------------------
class _Alias(Function):
    """The identity, recorded: gives each input of a composite its own node, so that an input
    used twice (``mse_loss(x, x)``) receives one gradient per position."""

    differentiable_backward = True

    def forward(self, x):
        return x

    def backward(self, gy):
        return gy


def _graph_saved(fn) -> tuple:
    """``fn.saved`` for a backward that runs on Tensors: each saved array that is one of the
    inputs (first unused position first, so that ``x * x.detach()`` maps right) or one of the
    outputs becomes that Tensor; outputs are recomputed once, from the inputs, as Tensors."""
    inputs, used, replay, mapped = fn.inputs, set(), None, []
    out = getattr(fn, "_out", None)
    outs = out if isinstance(out, tuple) else (out,)
    for a in fn.saved:
        if a is None or not hasattr(a, "shape"):
            mapped.append(a)
            continue
        hits = [j for j, t in enumerate(inputs) if t.data is a]
        if hits:
            j = next((j for j in hits if j not in used), hits[0])
            used.add(j)
            mapped.append(inputs[j])
            continue
        k = next((k for k, o in enumerate(outs) if o is a), None)
        if k is None:
            mapped.append(a)  # a mask, indices, a constant: not differentiated
            continue
        if replay is None:
            r = copy.copy(fn).apply(*inputs)
            replay = r if isinstance(r, tuple) else (r,)
        mapped.append(replay[k])
    return tuple(mapped)


def _backward_graph(fn, grads_out) -> tuple:
    """One operator's input gradients as Tensors recorded in the graph (create_graph)."""
    from ..tensor import Tensor

    previous = _grad_enabled()
    _set_grad_mode(True)
    try:
        if type(fn).composite is not Function.composite:
            aliases = tuple(_Alias().apply(t) for t in fn.inputs)
            outs = fn.composite(*aliases)
            outs = outs if isinstance(outs, tuple) else (outs,)
            pairs = [(o, g) for o, g in zip(outs, grads_out) if o.requires_grad]
            targets = [a for a, need in zip(aliases, fn.needs_input_grad) if need]
            got = _run([o for o, _ in pairs], [g for _, g in pairs], True, True, targets, cut=True) if pairs else {}
            return tuple(got[id(a)][1] if need and id(a) in got else None
                         for a, need in zip(aliases, fn.needs_input_grad))
        if not fn.differentiable_backward:
            raise RuntimeError(
                f"{type(fn).__name__} has no differentiable backward, so create_graph=True cannot record its "
                "gradient: write its backward with operations that accept Tensors and set "
                "differentiable_backward = True, or define composite() (its forward written with other operators)")
        from .graph_xp import namespace

        saved, xp = fn.saved, fn.xp
        fn.saved, fn.xp = _graph_saved(fn), namespace(xp)
        try:
            grads_in = fn.backward(*grads_out)
        finally:
            fn.saved, fn.xp = saved, xp
        grads_in = grads_in if isinstance(grads_in, tuple) else (grads_in,)
        return tuple(g if g is None or isinstance(g, Tensor) else Tensor(g) for g in grads_in)
    finally:
        _set_grad_mode(previous)


def _run(roots, grads, graph: bool, retain_graph: bool, targets=None, cut: bool = False) -> dict:
    """Back-propagate ``grads`` from ``roots``; returns {id(tensor): (tensor, gradient)}.

    The tensors collected are ``targets`` when given (only the operators that lead to one run),
    else every leaf that requires grad and every tensor that retains its gradient. Gradients
    are arrays, or Tensors recorded in the graph when ``graph``. With ``cut`` the walk stops at
    the targets instead of passing through them (a composite's inputs).
    """
    from ..tensor import Tensor

    wanted = None if targets is None else {id(t) for t in targets}
    got: dict[int, tuple] = {}

    def wants(t) -> bool:
        return (t.creator is None or t._retain) if wanted is None else id(t) in wanted

    def collect(t, g) -> None:
        if g.dtype != t.data.dtype:
            g = g.astype(t.data.dtype)
        key = id(t)
        got[key] = (t, g) if key not in got else (t, got[key][1] + g)

    pending: dict[int, list] = {}
    root_fns = []
    for r, g in zip(roots, grads):
        if wants(r):
            collect(r, g)
        if r.creator is None or (cut and wants(r)):
            continue
        slots = pending.get(id(r.creator))
        if slots is None:
            slots = pending[id(r.creator)] = [None] * r.creator.n_outputs
            root_fns.append(r.creator)
        slots[r._index] = g if slots[r._index] is None else slots[r._index] + g
    order = _topological_order(*root_fns)
    needed = None
    if wanted is not None:  # the operators from which some target can be reached
        needed = set()
        for fn in reversed(order):  # producers before their consumers
            for t in fn.inputs:
                if id(t) in wanted or (t.creator is not None and id(t.creator) in needed and not (cut and id(t) in wanted)):
                    needed.add(id(fn))
                    break
    for fn in order:
        if needed is not None and id(fn) not in needed:
            continue
        grads_out = pending.pop(id(fn), None)
        if grads_out is None:
            continue
        if fn.n_outputs > 1:
            grads_out = [g if g is not None else (Tensor(fn.xp.zeros(s, d)) if graph else fn.xp.zeros(s, d))
                         for g, (s, d) in zip(grads_out, fn.output_meta)]
        grads_in = _backward_graph(fn, grads_out) if graph else fn.backward(*grads_out)
        if not isinstance(grads_in, tuple):
            grads_in = (grads_in,)
        for t, g, need in zip(fn.inputs, grads_in, fn.needs_input_grad):
            if not need or g is None:
                continue
            g = _unbroadcast(g, t.data.shape)
            want = wants(t)
            if want:
                collect(t, g)
            parent = t.creator
            if parent is None or (cut and want) or (needed is not None and id(parent) not in needed):
                continue
            slots = pending.get(id(parent))
            if slots is None:
                slots = pending[id(parent)] = [None] * parent.n_outputs
            previous = slots[t._index]
            slots[t._index] = g if previous is None else previous + g
        if not retain_graph:
            fn.saved = ()
            fn.inputs = None
    return got


def _seed(root, grad, graph: bool, where: str):
    """The gradient that starts a walk from ``root``: ones for a one-element root, else ``grad``."""
    from ..tensor import Tensor

    if not root.requires_grad:
        raise RuntimeError(f"{where}: a tensor that does not require grad (no input required grad, or it was made "
                           "under no_grad)")
    if grad is None:
        if root.data.size != 1:
            raise RuntimeError(f"{where}: a non-scalar tensor of shape {tuple(root.shape)} needs an explicit gradient "
                               "of the same shape (grad_outputs, or backward(gradient)), or reduce it first (y.sum())")
        ones = root.xp.ones_like(root.data)
        return Tensor(ones) if graph else ones
    if isinstance(grad, Tensor):
        data = grad.data
    else:
        data = root.xp.asarray(grad, dtype=root.data.dtype)
        grad = Tensor(data)
    if data.shape != root.data.shape:
        raise ValueError(f"{where}: gradient of shape {tuple(data.shape)} given for a tensor of shape {tuple(root.shape)}")
    return grad if graph else data


def _as_tuple(x) -> tuple:
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


def _backward_into(root, grad, retain_graph, create_graph: bool, inputs) -> None:
    """Tensor.backward with ``create_graph`` or ``inputs``: the general walk, into ``.grad``."""
    from ..tensor import Tensor

    targets = None if inputs is None else _as_tuple(inputs)
    if targets is not None:
        if not targets:
            raise RuntimeError("backward(inputs=...): expected at least one tensor, received none")
        for i, t in enumerate(targets):
            if not isinstance(t, Tensor) or not t.requires_grad:
                raise RuntimeError(f"backward(inputs=...): input {i} does not require grad")
    seed = _seed(root, grad, create_graph, "backward()")
    retain = create_graph if retain_graph is None else retain_graph
    got = _run([root], [seed], create_graph, retain, targets)
    held: set[int] = set()
    for t, g in got.values():
        if create_graph:
            t.grad = g if t.grad is None else t.grad + g
        else:
            _accumulate(t, g, held)


def grad(outputs, inputs, grad_outputs=None, retain_graph: bool | None = None, create_graph: bool = False,
         allow_unused: bool = False) -> tuple:
    """The gradients of ``outputs`` with respect to ``inputs``, returned rather than accumulated
    into ``.grad`` (PyTorch's ``torch.autograd.grad``).

    ``grad_outputs`` holds the vector of the vector-Jacobian product, one per output (None: ones,
    for one-element outputs). With ``create_graph=True`` the returned gradients are recorded in
    the graph and can be differentiated again; ``retain_graph`` defaults to ``create_graph``.
    An input that the outputs do not depend on raises unless ``allow_unused`` (then None).

    >>> x = profondo.tensor([1.0, 2.0], requires_grad=True)
    >>> (g,) = grad((x ** 3).sum(), x, create_graph=True)    # 3 x^2
    >>> grad(g.sum(), x)                                      # 6 x
    (tensor([ 6., 12.]),)
    """
    from ..tensor import Tensor

    outs, targets = _as_tuple(outputs), _as_tuple(inputs)
    if grad_outputs is None:
        seeds = (None,) * len(outs)
    else:
        seeds = _as_tuple(grad_outputs)
        if len(seeds) != len(outs):
            raise ValueError(f"grad: {len(seeds)} grad_outputs given for {len(outs)} outputs")
    for i, t in enumerate(targets):
        if not isinstance(t, Tensor):
            raise TypeError(f"grad: input {i} is a {type(t).__name__}, expected a Tensor")
        if not t.requires_grad:
            raise RuntimeError(f"grad: input {i} (shape {tuple(t.shape)}) does not require grad")
    pairs = [(o, _seed(o, g, create_graph, f"grad: output {i}")) for i, (o, g) in enumerate(zip(outs, seeds))]
    retain = create_graph if retain_graph is None else retain_graph
    got = _run([o for o, _ in pairs], [g for _, g in pairs], create_graph, retain, targets)
    results, held = [], set()
    for i, t in enumerate(targets):
        if id(t) not in got:
            if not allow_unused:
                raise RuntimeError(f"grad: input {i} (shape {tuple(t.shape)}) was not used to compute the outputs; "
                                   "pass allow_unused=True to receive None for it")
            results.append(None)
            continue
        g = got[id(t)][1]
        if not create_graph:  # an array of its own (a pass-through gradient may be shared or a broadcast view)
            key = _buffer(g)
            if key in held or not getattr(g.flags, "writeable", True) or any(
                    s == 0 and n > 1 for s, n in zip(g.strides, g.shape)):
                g = g.copy()
                key = _buffer(g)
            held.add(key)
            g = Tensor(g)
        results.append(g)
    return tuple(results)
