"""Jacobians, Hessians and their products, with PyTorch's ``torch.autograd.functional`` names.

Each function takes ``func`` (Tensors in, a Tensor or a tuple of Tensors out) and ``inputs``
(a Tensor or a tuple of Tensors). Results follow the structure of the arguments: a Tensor
for a Tensor, a tuple for a tuple. The inputs are differentiated as given, but the results
are cut from any graph unless ``create_graph=True``; ``strict=True`` raises where an output
does not depend on an input (otherwise that block is zeros).

Reverse mode builds the Jacobian one row at a time: the gradient of one output element
(a vector-Jacobian product with a one-hot vector) is one row. For y = W x:

>>> W = profondo.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
>>> x = profondo.tensor([1.0, 0.0, -1.0])
>>> jacobian(lambda x: W @ x, x)
tensor([[1., 2., 3.],
        [4., 5., 6.]])

A fully connected layer without bias is that product, so its Jacobian with respect to its
input is its weight matrix:

>>> layer = profondo.nn.Linear(3, 2, bias=False)
>>> bool((jacobian(layer, x) == layer.weight).numpy().all())
True
>>> hessian(lambda x: (x ** 3).sum(), profondo.tensor([1.0, 2.0]))          # diag(6 x)
tensor([[ 6.,  0.],
        [ 0., 12.]])
"""

from __future__ import annotations

from collections.abc import Callable

from .. import functional as F
from ..tensor import Tensor
from . import enable_grad, grad

__all__ = ["hessian", "hvp", "jacobian", "jvp", "vhp", "vjp"]


def _tuple(x, what: str, where: str) -> tuple[bool, tuple]:
    """(was it a tuple, the Tensors as a tuple), checking that each is a Tensor."""
    is_tuple = isinstance(x, (tuple, list))
    items = tuple(x) if is_tuple else (x,)
    for i, t in enumerate(items):
        if not isinstance(t, Tensor):
            raise TypeError(f"{where}: {what} must be a Tensor or a tuple of Tensors, but item {i} is a "
                            f"{type(t).__name__}")
    return is_tuple, items


def _prepare(inputs: tuple, create_graph: bool) -> tuple:
    """Inputs to differentiate: kept in their graph when create_graph (so that the result can be
    differentiated with respect to what made them), otherwise fresh leaves sharing the data."""
    out = []
    for i, t in enumerate(inputs):
        if t.dtype.kind != "f":
            raise TypeError(f"inputs must be floating tensors to be differentiated, input {i} has dtype {t.dtype}")
        out.append(t.reshape(t.shape) if create_graph and t.requires_grad else Tensor(t.data, requires_grad=True))
    return tuple(out)


def _finish(items, create_graph: bool, is_tuple: bool):
    items = tuple(t if create_graph else Tensor(t.data) for t in items)
    return items if is_tuple else items[0]


def _grads(outputs, inputs, vectors, create_graph: bool, strict: bool, where: str) -> tuple:
    """grad() over the outputs that require grad; zeros (or an error when strict) elsewhere."""
    pairs = [(o, v) for o, v in zip(outputs, vectors) if o.requires_grad]
    if strict and len(pairs) < len(outputs):
        raise RuntimeError(f"{where} (strict=True): an output does not require grad, so it does not depend on the inputs")
    found = grad([o for o, _ in pairs], inputs, [v for _, v in pairs], retain_graph=True, create_graph=create_graph,
                 allow_unused=True) if pairs else (None,) * len(inputs)
    result = []
    for i, (g, t) in enumerate(zip(found, inputs)):
        if g is None:
            if strict:
                raise RuntimeError(f"{where} (strict=True): the output does not depend on input {i}")
            g = Tensor(t.xp.zeros(t.shape, t.dtype))
        result.append(g)
    return tuple(result)


def _vectors(v, outputs, where: str, what: str) -> tuple:
    if v is None:
        for o in outputs:
            if o.data.size != 1:
                raise RuntimeError(f"{where}: v may be omitted only when {what} has a single element; received shape "
                                   f"{tuple(o.shape)}")
        return tuple(Tensor(o.xp.ones_like(o.data)) for o in outputs)
    _, vs = _tuple(v, "v", where)
    if len(vs) != len(outputs) or any(a.shape != b.shape for a, b in zip(vs, outputs)):
        raise ValueError(f"{where}: v has shapes {[tuple(a.shape) for a in vs]}, expected those of {what}, "
                         f"{[tuple(b.shape) for b in outputs]}")
    return vs


def vjp(func: Callable, inputs, v=None, create_graph: bool = False, strict: bool = False):
    """(func(inputs), v^T J): the vector-Jacobian product, one backward pass.

    >>> x = profondo.tensor([1.0, 2.0])
    >>> vjp(lambda x: x * x, x, profondo.tensor([1.0, 10.0]))[1]
    tensor([ 2., 40.])
    """
    is_tuple, inputs = _tuple(inputs, "inputs", "vjp")
    with enable_grad():
        ins = _prepare(inputs, create_graph)
        out_tuple, outs = _tuple(func(*ins), "the outputs of func", "vjp")
        grads = _grads(outs, ins, _vectors(v, outs, "vjp", "the outputs of func"), create_graph, strict, "vjp")
    return _finish(outs, create_graph, out_tuple), _finish(grads, create_graph, is_tuple)


def jvp(func: Callable, inputs, v=None, create_graph: bool = False, strict: bool = False):
    """(func(inputs), J v): the Jacobian-vector product, by differentiating a vector-Jacobian
    product with respect to its vector (two backward passes, as PyTorch does).

    >>> x = profondo.tensor([1.0, 2.0])
    >>> jvp(lambda x: x * x, x, profondo.tensor([1.0, 10.0]))[1]
    tensor([ 2., 40.])
    """
    is_tuple, inputs = _tuple(inputs, "inputs", "jvp")
    vs = _vectors(v, inputs, "jvp", "inputs")
    with enable_grad():
        ins = _prepare(inputs, create_graph)
        out_tuple, outs = _tuple(func(*ins), "the outputs of func", "jvp")
        dummies = tuple(Tensor(o.xp.zeros(o.shape, o.dtype), requires_grad=True) for o in outs)
        transposed = _grads(outs, ins, dummies, True, strict, "jvp")  # J^T u, linear in u
        pairs = [(g, w) for g, w in zip(transposed, vs) if g.requires_grad]
        found = grad([g for g, _ in pairs], dummies, [w for _, w in pairs], retain_graph=True, create_graph=create_graph,
                     allow_unused=True) if pairs else (None,) * len(outs)
        result = []
        for i, (g, o) in enumerate(zip(found, outs)):
            if g is None:
                if strict:
                    raise RuntimeError(f"jvp (strict=True): output {i} does not depend on the inputs")
                g = Tensor(o.xp.zeros(o.shape, o.dtype))
            result.append(g)
    return _finish(outs, create_graph, out_tuple), _finish(result, create_graph, out_tuple)


def jacobian(func: Callable, inputs, create_graph: bool = False, strict: bool = False, vectorize: bool = False,
             strategy: str = "reverse-mode"):
    """The Jacobian of ``func`` at ``inputs``: for an output of shape S and an input of shape T,
    a Tensor of shape S + T. A tuple of inputs gives a tuple over inputs, a tuple of outputs a
    tuple over outputs (of tuples over inputs), as in PyTorch.

    Reverse mode: one backward pass through one recorded graph per output element.
    ``vectorize`` is accepted for PyTorch's signature and changes nothing here: profondo has no
    vmap to batch the rows, and the rows are the same either way.
    """
    if strategy != "reverse-mode":
        raise ValueError(f"jacobian: strategy must be 'reverse-mode' (profondo has no forward mode), received {strategy!r}")
    is_tuple, inputs = _tuple(inputs, "inputs", "jacobian")
    with enable_grad():
        ins = _prepare(inputs, create_graph)
        out_tuple, outs = _tuple(func(*ins), "the outputs of func", "jacobian")
        blocks = []
        for i, out in enumerate(outs):
            rows: list[list] = [[] for _ in ins]
            for k in range(out.data.size):
                onehot = out.xp.zeros(out.data.size, out.dtype)
                onehot[k] = 1
                for j, g in enumerate(_grads((out,), ins, (Tensor(onehot.reshape(out.shape)),), create_graph, strict,
                                             f"jacobian of output {i}")):
                    rows[j].append(g)
            blocks.append(tuple(
                (F.stack(r, 0) if r else Tensor(t.xp.zeros((0,) + t.shape, t.dtype))).reshape(out.shape + t.shape)
                for r, t in zip(rows, ins)))
    blocks = [_finish(b, create_graph, is_tuple) for b in blocks]
    return tuple(blocks) if out_tuple else blocks[0]


def _scalar(func: Callable, where: str) -> Callable:
    def checked(*xs):
        out = func(*xs)
        if not isinstance(out, Tensor) or out.data.size != 1:
            shape = tuple(out.shape) if isinstance(out, Tensor) else type(out).__name__
            raise RuntimeError(f"{where}: func must return a Tensor with a single element, received {shape}")
        return out.reshape(())

    return checked


def hessian(func: Callable, inputs, create_graph: bool = False, strict: bool = False, vectorize: bool = False,
            outer_jacobian_strategy: str = "reverse-mode"):
    """The Hessian of a scalar ``func``: the Jacobian of its gradient (shape T + T for an input of
    shape T; a tuple of tuples, block (i, j) of shape T_i + T_j, for a tuple of inputs)."""
    is_tuple, inputs = _tuple(inputs, "inputs", "hessian")
    scalar = _scalar(func, "hessian")

    def gradient(*xs):
        out = scalar(*xs)
        grads = _grads((out,), xs, (Tensor(out.xp.ones((), out.dtype)),), True, strict, "hessian")
        return grads if is_tuple else grads[0]

    return jacobian(gradient, inputs if is_tuple else inputs[0], create_graph, strict, vectorize, outer_jacobian_strategy)


def vhp(func: Callable, inputs, v=None, create_graph: bool = False, strict: bool = False):
    """(func(inputs), v^T H) for a scalar ``func``: the gradient of <grad func, v>, two backward passes."""
    return _hessian_product(func, inputs, v, create_graph, strict, "vhp")


def hvp(func: Callable, inputs, v=None, create_graph: bool = False, strict: bool = False):
    """(func(inputs), H v) for a scalar ``func``. The Hessian of a twice continuously
    differentiable function is symmetric, so H v = (v^T H)^T: computed as :func:`vhp`.

    >>> x = profondo.tensor([1.0, 2.0])
    >>> hvp(lambda x: (x ** 3).sum(), x, profondo.tensor([1.0, 1.0]))[1]      # 6 x * v
    tensor([ 6., 12.])
    """
    return _hessian_product(func, inputs, v, create_graph, strict, "hvp")


def _hessian_product(func, inputs, v, create_graph, strict, where):
    is_tuple, inputs = _tuple(inputs, "inputs", where)
    vs = _vectors(v, inputs, where, "inputs")
    with enable_grad():
        ins = _prepare(inputs, create_graph)
        out = _scalar(func, where)(*ins)
        one = Tensor(out.xp.ones((), out.dtype))
        first = _grads((out,), ins, (one,), True, strict, where)
        pairs = [(g, w) for g, w in zip(first, vs) if g.requires_grad]
        if strict and len(pairs) < len(first):
            raise RuntimeError(f"{where} (strict=True): the gradient does not depend on the inputs (the function is linear)")
        products = _grads([g for g, _ in pairs], ins, [w for _, w in pairs], create_graph, strict, where) if pairs else tuple(
            Tensor(t.xp.zeros(t.shape, t.dtype)) for t in ins)
    return _finish((out,), create_graph, False), _finish(products, create_graph, is_tuple)
