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

import weakref
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
        return _in_grad_mode(fn, self._enabled)


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
        _set_grad_mode(self._previous)  # as a decorator it acts only while fn runs
        return _in_grad_mode(fn, self.mode)


def is_grad_enabled() -> bool:
    """True when operators called in this thread record a graph."""
    return _grad_enabled()


class inference_mode(no_grad):
    """PyTorch's inference_mode: here the same as :class:`no_grad` (no graph is recorded)."""

    def __new__(cls, mode=True):
        self = object.__new__(cls)
        if callable(mode) and not isinstance(mode, bool):  # bare @inference_mode
            return self(mode)
        self._enabled = not mode
        return self


def _in_grad_mode(fn, enabled: bool):
    """``fn`` wrapped to run with grad mode ``enabled`` in its thread, restored afterwards (the
    decorator form of the grad-mode context managers)."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        previous = _grad_enabled()
        _set_grad_mode(enabled)
        try:
            return fn(*args, **kwargs)
        finally:
            _set_grad_mode(previous)

    return wrapper


# --- in-place changes and hooks ----------------------------------------------------------
# Every in-place change of a tensor's array counts one "mutation" and remembers the array's
# memory; an operator records the count when it runs, so backward can tell whether an array
# it saved was changed after it was saved (PyTorch's version check) by one integer compare.
_mutations = 0
_modified: dict[int, tuple] = {}  # id(buffer) -> (weak reference to the buffer, mutation count)


def mark_modified(array) -> None:
    """Record that ``array``'s memory was just changed in place."""
    global _mutations
    _mutations += 1
    base = array if array.base is None else array.base
    if len(_modified) > 4096:  # forget buffers that no longer exist
        for key in [k for k, (ref, _) in _modified.items() if ref() is None]:
            del _modified[key]
    _modified[id(base)] = (weakref.ref(base), _mutations)


# id(tensor) -> (weak reference, [(mutation count, the tensor as it was before), ...]) for
# tensors that an in-place operation moved to a new node of the graph. An operator that read
# such a tensor earlier sends its gradient to the tensor as it was, as PyTorch does.
_rebased: dict[int, tuple] = {}


def mark_rebased(t, before) -> None:
    """Record that ``t`` now stands for an in-place result; ``before`` stands for its old node."""
    if len(_rebased) > 4096:
        for key in [k for k, (ref, _) in _rebased.items() if ref() is None]:
            del _rebased[key]
    entry = _rebased.get(id(t))
    if entry is None or entry[0]() is not t:
        entry = _rebased[id(t)] = (weakref.ref(t), [])
    entry[1].append((_mutations, before))


def _check_saved(fn) -> None:
    inputs = fn.inputs
    for i, t in enumerate(inputs):
        entry = _rebased.get(id(t))
        if entry is not None and entry[0]() is t:
            before = next((old for count, old in entry[1] if count > fn._epoch), None)
            if before is None:
                continue
            if fn.returns_view:  # PyTorch's views follow their base's in-place changes; here they do not
                raise RuntimeError(
                    f"{type(fn).__name__} made a view of a tensor of shape {tuple(t.shape)} that was then changed "
                    "by an inplace operation; the view's values follow the change but its gradient cannot: "
                    "clone() the view, or change the tensor before taking the view")
            # fn read t before an in-place change: its gradient goes to t as it was, as PyTorch's does
            fn.inputs = inputs = inputs[:i] + (before,) + inputs[i + 1:]
    for a in fn.saved:
        if not hasattr(a, "base"):  # saved numbers, None
            continue
        base = a if a.base is None else a.base
        entry = _modified.get(id(base))
        if entry is not None and entry[1] > fn._epoch and entry[0]() is base:
            raise RuntimeError(
                f"one of the variables needed for gradient computation has been modified by an inplace "
                f"operation: {type(fn).__name__} saved an array of shape {tuple(a.shape)} that was changed "
                "in place after it was used; clone() it before changing it, or change a copy")


class RemovableHandle:
    """What ``register_hook`` returns: ``remove()`` takes the hook away."""

    def __init__(self, hooks: list, hook) -> None:
        self._hooks, self._hook = hooks, hook

    def remove(self) -> None:
        if self._hook in self._hooks:
            self._hooks.remove(self._hook)


# id(leaf) -> (weak reference, hooks); keyed by id because a Tensor's == is element-wise
_leaf_hooks: dict[int, tuple] = {}


def register_hook(t, hook) -> RemovableHandle:
    """Call ``hook(grad)`` with ``t``'s gradient when backward computes it (see Tensor.register_hook)."""
    if t.creator is None:
        key = id(t)
        entry = _leaf_hooks.get(key)
        if entry is None or entry[0]() is not t:
            entry = _leaf_hooks[key] = (weakref.ref(t, lambda _: _leaf_hooks.pop(key, None)), [])
        hooks = entry[1]
    else:
        fn = t.creator
        if fn._grad_hooks is None:
            fn._grad_hooks = {}
        hooks = fn._grad_hooks.setdefault(t._index, [])
    hooks.append(hook)
    return RemovableHandle(hooks, hook)


def _run_hooks(hooks, g):
    from ..tensor import Tensor

    for hook in hooks:
        out = hook(Tensor(g))
        if out is not None:
            g = out.data if isinstance(out, Tensor) else out
    return g


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

    _epoch = 0  # the mutation count when it ran (see mark_modified)
    returns_view = False  # True where the output may share memory with the input (reshape, indexing)
    _grad_hooks = None  # output index -> hooks on that output's gradient
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
        # Every operator call of every step passes here: the common case (Tensors in, CPU,
        # one output) is kept to a few attribute reads.
        Tensor = _Tensor or _tensor_class()
        tensors = inputs
        for t in inputs:
            if not isinstance(t, Tensor):
                tensors = _as_tensors(inputs, Tensor)
                break
        data0 = tensors[0].data if tensors else None
        self.xp = _cupy if (_cupy is not None and isinstance(data0, _cupy.ndarray)) else np
        record = False
        if _grad_enabled():
            needs = tuple([t.requires_grad for t in tensors])
            if True in needs:
                record = True
                self.needs_input_grad = needs
        self.saved = ()
        out = self.forward(*[t.data for t in tensors])
        creator = self if record else None
        if isinstance(out, tuple):
            self.n_outputs = len(out)
            if record:
                self.output_meta = tuple((o.shape, o.dtype) for o in out)
            results = tuple(Tensor._wrap(o, creator, i) for i, o in enumerate(out))
        else:
            self.n_outputs = 1
            results = Tensor._wrap(out, creator, 0)
        if record:
            self.inputs = tensors
            self._epoch = _mutations
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


_Tensor = None


def _tensor_class():
    """profondo.Tensor (imported on first use: tensor.py imports this module)."""
    global _Tensor
    if _Tensor is None:
        from ..tensor import Tensor

        _Tensor = Tensor
    return _Tensor


def _as_tensors(inputs, Tensor) -> tuple:
    """The inputs as Tensors: arrays and numbers take the dtype and device of the first Tensor."""
    from ..tensor import as_tensor

    like = next((t.data for t in inputs if isinstance(t, Tensor)), None)
    return tuple(t if isinstance(t, Tensor) else as_tensor(t, like=like) for t in inputs)


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
        from .walk import backward_into

        return backward_into(root, grad, retain_graph, create_graph, inputs)
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
        if root.creator is None and _leaf_hooks and id(root) in _leaf_hooks:
            grad = _run_hooks(_leaf_hooks[id(root)][1], grad)
        _accumulate(root, grad, held)
        if root.creator is None:  # a leaf
            for hook in getattr(root, "_post_hooks", ()):
                hook(root)
            return
    hooked: dict[int, list] = {}  # leaves with hooks: their total gradient, hooked once at the end

    pending: dict[int, list] = {id(root.creator): [None] * root.creator.n_outputs}
    pending[id(root.creator)][root._index] = grad
    order = _topological_order(root.creator)
    waiting = _hooked_leaves(order) if _post_hooks_registered else None
    for fn in order:
        grads_out = pending.pop(id(fn), None)
        if grads_out is None:
            if waiting:
                _consumed(fn, waiting, hooked, held)
            continue
        if _mutations > fn._epoch:
            _check_saved(fn)
        if fn._grad_hooks is not None:
            grads_out = [g if g is None or i not in fn._grad_hooks else _run_hooks(fn._grad_hooks[i], g)
                         for i, g in enumerate(grads_out)]
        if fn.n_outputs > 1:
            # Outputs that received no gradient contribute zero; shapes come from the saved hint.
            grads_out = [g if g is not None else xp.zeros(s, d) for g, (s, d) in zip(grads_out, fn.output_meta)]
        grads_in = fn.backward(*grads_out)
        if not isinstance(grads_in, tuple):
            grads_in = (grads_in,)
        for t, g, needed in zip(fn.inputs, grads_in, fn.needs_input_grad):
            if not needed or g is None:
                continue
            if g.shape != t.data.shape:
                g = _unbroadcast(g, t.data.shape)
            parent = t.creator
            if parent is None:
                if _leaf_hooks and id(t) in _leaf_hooks:
                    entry = hooked.setdefault(id(t), [t, None])
                    entry[1] = g if entry[1] is None else entry[1] + g
                else:
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
        if waiting:
            _consumed(fn, waiting, hooked, held)
        if not retain_graph:
            fn.saved = ()
            fn.inputs = None
    for t, g in hooked.values():
        _accumulate(t, _run_hooks(_leaf_hooks[id(t)][1], g), held)


# --- post-accumulate-grad hooks -----------------------------------------------------------------
# A leaf's gradient is final once every function of this backward that reads the leaf has run:
# count those readers before the walk, call the leaf's hooks when the count reaches zero. The
# counting is done only while some hook is registered, so plain training pays nothing for it.
_post_hooks_registered = 0


class _PostAccumulateHandle(RemovableHandle):
    """What ``register_post_accumulate_grad_hook`` returns: ``remove()`` also uncounts the hook."""

    def remove(self) -> None:
        global _post_hooks_registered
        if self._hook in self._hooks:
            self._hooks.remove(self._hook)
            _post_hooks_registered -= 1


def add_post_accumulate_hook(tensor, hook) -> RemovableHandle:
    """Register ``hook(tensor)`` on the leaf ``tensor`` (see Tensor.register_post_accumulate_grad_hook)."""
    global _post_hooks_registered
    hooks = getattr(tensor, "_post_hooks", None)
    if hooks is None:
        hooks = tensor._post_hooks = []
    hooks.append(hook)
    _post_hooks_registered += 1
    return _PostAccumulateHandle(hooks, hook)


def _hooked_leaves(order) -> dict:
    """``{id(leaf): [leaf, readers]}`` for every hooked leaf that a function of ``order`` reads."""
    waiting: dict[int, list] = {}
    for fn in order:
        for t, needed in zip(fn.inputs, fn.needs_input_grad):
            if needed and t.creator is None and getattr(t, "_post_hooks", None):
                entry = waiting.get(id(t))
                if entry is None:
                    waiting[id(t)] = [t, 1]
                else:
                    entry[1] += 1
    return waiting


def _consumed(fn, waiting: dict, hooked: dict, held: set) -> None:
    """``fn`` has run (or received no gradient): a reader fewer for each hooked leaf it reads.
    A leaf whose tensor hooks hold back its gradient (``hooked``) gets it first, hooked, so
    that its post-accumulate hooks see the accumulated gradient, as in PyTorch."""
    for t in fn.inputs:
        entry = waiting.get(id(t))
        if entry is not None:
            entry[1] -= 1
            if entry[1] == 0:
                del waiting[id(t)]
                total = hooked.pop(id(t), None)
                if total is not None:
                    _accumulate(t, _run_hooks(_leaf_hooks[id(t)][1], total[1]), held)
                if t.grad is not None:
                    for hook in tuple(t._post_hooks):
                        hook(t)


def _buffer(a) -> int:
    """Identity of the memory behind ``a`` (views of one array share it)."""
    return id(a if a.base is None else a.base)


def _accumulate(t, g, held: set) -> None:
    """Add ``g`` into ``t.grad``, which must own its array: optimizers update it in place."""
    Tensor = _Tensor or _tensor_class()
    if g.dtype != t.data.dtype:
        g = g.astype(t.data.dtype)
    if t.grad is not None:  # out of place: t.grad's array may be referenced elsewhere
        t.grad.data = t.grad.data + g
        return
    # Pass-through operators (add, reshape, sum's broadcast) hand the same buffer to several
    # tensors, or a read-only broadcast view: such a gradient is copied before it is kept.
    key = _buffer(g)
    if key in held or not getattr(g.flags, "writeable", True) or (0 in g.strides and any(
            s == 0 and n > 1 for s, n in zip(g.strides, g.shape))):
        g = g.copy()
        key = _buffer(g)
    held.add(key)
    t.grad = Tensor(g)



from . import walk as _walk  # noqa: E402  (the general walk builds on the engine above)

grad = _walk.grad
