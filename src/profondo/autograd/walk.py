"""The general walk behind grad() and backward(create_graph=..., inputs=...): several roots,
chosen inputs, and backward passes recorded as graphs (create_graph) so that they can be
differentiated again. ``backward()`` without those arguments keeps the first-order walk of
``profondo.autograd``."""

from __future__ import annotations

import copy

from . import (
    Function,
    _accumulate,
    _buffer,
    _grad_enabled,
    _leaf_hooks,
    _set_grad_mode,
    _topological_order,
    _unbroadcast,
)


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
        if fn._grad_hooks is not None:  # hooks on this operator's outputs (Tensor.register_hook)
            grads_out = [g if g is None or i not in fn._grad_hooks else _hooked(fn._grad_hooks[i], g, graph)
                         for i, g in enumerate(grads_out)]
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
    if _leaf_hooks:  # a leaf's hooks see its total gradient once, as in the first-order walk
        for key, (t, g) in list(got.items()):
            if t.creator is None and key in _leaf_hooks:
                got[key] = (t, _hooked(_leaf_hooks[key][1], g, graph))
    return got


def _hooked(hooks, g, graph: bool):
    """``g`` through the hooks of ``Tensor.register_hook``: each sees a Tensor, and a tensor it
    returns replaces the gradient (recorded in the graph with ``create_graph``)."""
    from ..tensor import Tensor

    for hook in hooks:
        out = hook(g if graph else Tensor(g))
        if out is not None:
            g = (out if isinstance(out, Tensor) else Tensor(out)) if graph else (out.data if isinstance(out, Tensor) else out)
    return g


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


def backward_into(root, grad, retain_graph, create_graph: bool, inputs) -> None:
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
        for hook in getattr(t, "_post_hooks", None) or ():  # its gradient is final (post-accumulate hooks)
            hook(t)


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
