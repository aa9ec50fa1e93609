"""Operators that move elements around: reshape, transpose, broadcast, concat, stack,
split, pad, indexing and gather."""

from __future__ import annotations

import math

import numpy as np

from ..autograd import Function, unwrap


class Reshape(Function):
    returns_view = True  # its output may share memory with its input (see autograd._check_saved)
    differentiable_backward = True

    def __init__(self, shape) -> None:
        self.shape = shape

    def forward(self, x):
        self.source = x.shape
        try:
            return x.reshape(self.shape)
        except ValueError:
            raise ValueError(f"reshape: cannot reshape a tensor of shape {tuple(x.shape)} ({x.size} elements) "
                             f"into {tuple(self.shape)}") from None

    def backward(self, gy):
        return gy.reshape(self.source)


class Permute(Function):
    returns_view = True  # its output may share memory with its input (see autograd._check_saved)
    differentiable_backward = True

    def __init__(self, axes) -> None:
        self.axes = axes

    def forward(self, x):
        if sorted(a % max(x.ndim, 1) for a in self.axes) != list(range(x.ndim)):
            raise ValueError(f"permute: expected a permutation of {list(range(x.ndim))}, received {list(self.axes)}")
        return x.transpose(self.axes)

    def backward(self, gy):
        return gy.transpose(np.argsort([a % gy.ndim for a in self.axes]))


class BroadcastTo(Function):
    returns_view = True  # its output may share memory with its input (see autograd._check_saved)
    differentiable_backward = True

    def __init__(self, shape) -> None:
        self.shape = shape

    def forward(self, x):
        try:
            return self.xp.broadcast_to(x, self.shape)
        except ValueError:
            raise ValueError(f"broadcast_to: a tensor of shape {tuple(x.shape)} cannot be broadcast "
                             f"to {tuple(self.shape)}") from None

    def backward(self, gy):
        return gy  # the engine sums gradients back over broadcast axes


class Concat(Function):
    differentiable_backward = True

    def __init__(self, axis) -> None:
        self.axis = axis

    def forward(self, *xs):
        ref = xs[0]
        axis = self.axis % ref.ndim
        for i, x in enumerate(xs):
            if x.ndim != ref.ndim or any(a != b for d, (a, b) in enumerate(zip(x.shape, ref.shape)) if d != axis):
                raise ValueError(f"concat: input {i} has shape {tuple(x.shape)}, expected {tuple(ref.shape)} "
                                 f"in every dimension except axis {self.axis}")
        self.sizes = [x.shape[axis] for x in xs]
        self.axis = axis
        return self.xp.concatenate(xs, axis=axis)

    def backward(self, gy):
        cuts = np.cumsum(self.sizes)[:-1].tolist()
        return tuple(self.xp.split(gy, cuts, axis=self.axis))


class Stack(Function):
    differentiable_backward = True

    def __init__(self, axis) -> None:
        self.axis = axis

    def forward(self, *xs):
        for i, x in enumerate(xs):
            if x.shape != xs[0].shape:
                raise ValueError(f"stack: input {i} has shape {tuple(x.shape)}, expected {tuple(xs[0].shape)} like input 0")
        return self.xp.stack(xs, axis=self.axis)

    def backward(self, gy):
        return tuple(self.xp.moveaxis(gy, self.axis, 0))


class Split(Function):
    """Cut along an axis into pieces of the given sizes; each piece is one output."""

    returns_view = True  # its outputs share memory with its input (see autograd._check_saved)
    differentiable_backward = True

    def __init__(self, size, axis) -> None:
        self.size, self.axis = size, axis  # an int: pieces of that size, the last one shorter

    def forward(self, x):
        self.axis = self.axis % x.ndim
        n = x.shape[self.axis]
        if isinstance(self.size, int):
            if self.size < 1:
                raise ValueError(f"split: the piece size must be a positive integer, received {self.size}")
            sizes = [self.size] * (n // self.size) + ([n % self.size] if n % self.size else [])
        else:
            sizes = list(self.size)
            if sum(sizes) != n or min(sizes, default=0) < 0:
                raise ValueError(f"split: sizes {sizes} add up to {sum(sizes)}, axis {self.axis} has {n}")
        cuts = np.cumsum(sizes)[:-1].tolist()
        return tuple(self.xp.split(x, cuts, axis=self.axis))

    def backward(self, *gys):
        return self.xp.concatenate(gys, axis=self.axis)


class Pad(Function):
    """Constant padding; ``widths`` is one (before, after) pair per axis."""

    differentiable_backward = True

    def __init__(self, widths, value) -> None:
        self.widths, self.value = widths, value

    def forward(self, x):
        if len(self.widths) != x.ndim:
            raise ValueError(f"pad: expected {x.ndim} (before, after) pairs for a tensor of shape "
                             f"{tuple(x.shape)}, received {len(self.widths)}")
        return self.xp.pad(x, self.widths, constant_values=self.value)

    def backward(self, gy):
        return gy[tuple(slice(b, gy.shape[i] - a) for i, (b, a) in enumerate(self.widths))]


def _is_advanced(index) -> bool:
    items = index if isinstance(index, tuple) else (index,)
    return any(not isinstance(i, (int, slice, type(None), type(Ellipsis))) for i in items)


class GetItem(Function):
    """Indexing with ints, slices, None, Ellipsis, integer arrays and boolean masks."""

    returns_view = True  # its output may share memory with its input (see autograd._check_saved)
    differentiable_backward = True

    def __init__(self, index) -> None:
        self.index = index

    def forward(self, x):
        self.source = (x.shape, x.dtype)
        try:
            return x[self.index]
        except IndexError as e:
            raise IndexError(f"indexing a tensor of shape {tuple(x.shape)}: {e}") from None

    def backward(self, gy):
        return GetItemGrad(self.index, *self.source)(gy)


class GetItemGrad(Function):
    """The gradient of indexing: ``gy`` added into zeros at ``index``. Linear in ``gy``, so its
    own gradient is the indexing again."""

    differentiable_backward = True

    def __init__(self, index, shape, dtype) -> None:
        self.index, self.shape, self.dtype = index, shape, dtype

    def forward(self, gy):
        gx = self.xp.zeros(self.shape, self.dtype)
        if _is_advanced(self.index):
            self.xp.add.at(gx, self.index, gy)  # repeated integer indices must add up
        else:
            gx[self.index] = gy
        return gx

    def backward(self, ggx):
        return GetItem(self.index)(ggx)


class Gather(Function):
    """out[i][j] = x[i][index[i][j]] along ``axis`` (torch.gather, numpy.take_along_axis)."""

    differentiable_backward = True

    def __init__(self, axis, index) -> None:
        self.axis, self.index = axis, index

    def forward(self, x):
        if self.index.ndim != x.ndim:
            raise ValueError(f"gather: index has {self.index.ndim} dimensions, the input {x.ndim}")
        self.source = (x.shape, x.dtype)
        return self.xp.take_along_axis(x, self.index, axis=self.axis)

    def backward(self, gy):
        return GatherGrad(self.axis, self.index, *self.source)(gy)


class GatherGrad(Function):
    """The gradient of gather: ``gy`` added into zeros along ``axis`` at ``index``; its own
    gradient is the gather again."""

    differentiable_backward = True

    def __init__(self, axis, index, shape, dtype) -> None:
        self.axis, self.index, self.shape, self.dtype = axis, index, shape, dtype

    def forward(self, gy):
        xp = self.xp
        gx = xp.zeros(self.shape, self.dtype)
        grid = list(xp.indices(self.index.shape, sparse=True))
        grid[self.axis % len(self.shape)] = self.index
        xp.add.at(gx, tuple(grid), gy)
        return gx

    def backward(self, ggx):
        return Gather(self.axis, self.index)(ggx)


class Clone(Function):
    differentiable_backward = True

    def forward(self, x):
        return x.copy()

    def backward(self, gy):
        return gy


class Repeat(Function):
    differentiable_backward = True

    def __init__(self, sizes) -> None:
        self.sizes = sizes

    def forward(self, x):
        self.shape = (1,) * (len(self.sizes) - x.ndim) + x.shape
        return self.xp.tile(x.reshape(self.shape), self.sizes)

    def backward(self, gy):
        split = [n for pair in zip(self.sizes, self.shape) for n in pair]
        return gy.reshape(split).sum(axis=tuple(range(0, len(split), 2))).reshape(self.shape)


class Flip(Function):
    differentiable_backward = True  # under create_graph, xp.flip is indexing with reversed slices

    def __init__(self, dims) -> None:
        self.dims = dims

    def forward(self, x):
        return self.xp.flip(x, self.dims)

    def backward(self, gy):
        return self.xp.flip(gy, self.dims)


# --- functional wrappers ------------------------------------------------------------------
def reshape(x, shape):
    """Same elements, new shape (one -1 allowed). ``reshape(x, (N, -1))``"""
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    return Reshape(shape).apply(x)


def permute(x, axes):
    """Reorder axes. ``permute(x, (0, 2, 3, 1))`` turns NCHW into NHWC."""
    return Permute(tuple(axes)).apply(x)


def transpose(x, *axes):
    """Swap two axes (``transpose(x, 0, 1)``), or reverse all of them (``transpose(x)``)."""
    ndim = x.ndim
    if not axes:
        order = tuple(range(ndim - 1, -1, -1))
    elif len(axes) == 2:
        order = list(range(ndim))
        a, b = axes[0] % ndim, axes[1] % ndim
        order[a], order[b] = order[b], order[a]
    else:
        order = tuple(axes[0]) if len(axes) == 1 else axes
    return Permute(tuple(order)).apply(x)


def broadcast_to(x, shape):
    return BroadcastTo(tuple(shape)).apply(x)


def flatten(x, start_dim: int = 0, end_dim: int = -1):
    """Merge axes start_dim..end_dim into one. ``flatten(x, 1)`` keeps the batch axis."""
    shape = x.shape
    if not shape:
        return reshape(x, (1,))
    s, e = start_dim % len(shape), end_dim % len(shape)
    return reshape(x, shape[:s] + (math.prod(shape[s:e + 1]),) + shape[e + 1:])


def _dim(dim, axis, default=0):
    return dim if dim is not None else (axis if axis is not None else default)


def squeeze(x, dim=None, *, axis=None):
    """Drop axes of size 1: all of them, or those of ``dim`` (an int or a tuple) that have size
    1; as PyTorch, a given axis of another size is left as it is."""
    shape = x.shape
    dim = _dim(dim, axis, None)
    if dim is None:
        axes = {i for i, n in enumerate(shape) if n == 1}
    else:
        n = len(shape) or 1
        for a in ((dim,) if isinstance(dim, int) else dim):
            if not -n <= a < n:
                raise IndexError(f"squeeze: dim {a} is out of range for a tensor of shape {tuple(shape)}")
        axes = {a % n for a in ((dim,) if isinstance(dim, int) else dim)} & {i for i, s in enumerate(shape) if s == 1}
    return reshape(x, tuple(n for i, n in enumerate(shape) if i not in axes))


def unsqueeze(x, dim: int | None = None, *, axis: int | None = None):
    """Insert an axis of size 1 at ``dim``."""
    dim = _dim(dim, axis, None)
    shape = list(x.shape)
    if dim is None or not -len(shape) - 1 <= dim <= len(shape):
        raise IndexError(f"unsqueeze: dim {dim} is out of range for a tensor of {len(shape)} dimensions "
                         f"(expected -{len(shape) + 1}..{len(shape)})")
    shape.insert(dim % (len(shape) + 1), 1)
    return reshape(x, tuple(shape))


def concat(tensors, dim: int = 0, *, axis: int | None = None):
    """Join along an existing axis. ``cat([a, b], dim=1)``"""
    return Concat(_dim(dim if dim != 0 or axis is None else None, axis)).apply(*tensors)


cat = concatenate = concat


def stack(tensors, dim: int = 0, *, axis: int | None = None):
    """Join along a new axis. ``stack([a, b])``"""
    return Stack(_dim(dim if dim != 0 or axis is None else None, axis)).apply(*tensors)


def split(x, split_size_or_sections, dim: int = 0, *, axis: int | None = None):
    """PyTorch's split: an int is the size of each piece (the last may be shorter), a list
    gives every piece's size. Returns a tuple of tensors. ``split(x, [1, 3], dim=0)``"""
    return Split(split_size_or_sections, _dim(dim if dim != 0 or axis is None else None, axis)).apply(x)


def chunk(x, chunks: int, dim: int = 0, *, axis: int | None = None):
    """PyTorch's chunk: pieces of ``ceil(n / chunks)`` elements (the last shorter when it does
    not divide, so there may be fewer than ``chunks``). ``i, f, g, o = chunk(gates, 4, dim=1)``"""
    dim = _dim(dim if dim != 0 or axis is None else None, axis)
    if not isinstance(chunks, int) or chunks < 1:
        raise ValueError(f"chunk: expected a positive number of chunks, received {chunks!r}")
    return split(x, max(-(-x.shape[dim] // chunks), 1), dim)


def unbind(x, dim: int = 0):
    """The slices along ``dim``, as a tuple of tensors with that axis removed."""
    return tuple(squeeze(piece, dim) for piece in split(x, 1, dim))


def pad(x, pad, mode: str = "constant", value: float | None = 0.0):
    """Constant padding. PyTorch's form: a flat tuple of (before, after) sizes from the last
    axis backwards, ``pad(x, (1, 1, 2, 2))`` pads W by 1 and H by 2; NumPy's form: one
    (before, after) pair per axis, ``pad(x, ((0, 0), (0, 0), (2, 2), (1, 1)))``."""
    if mode != "constant":
        raise NotImplementedError(f"pad: only mode='constant' is implemented, received mode={mode!r}")
    pad = tuple(pad)
    if pad and all(isinstance(p, (int, np.integer)) for p in pad):
        if len(pad) % 2 or len(pad) // 2 > x.ndim:
            raise ValueError(f"pad: expected an even number of sizes, at most 2 per axis ({2 * x.ndim}), "
                             f"received {len(pad)}")
        pairs = [(0, 0)] * x.ndim
        for i in range(len(pad) // 2):
            pairs[x.ndim - 1 - i] = (pad[2 * i], pad[2 * i + 1])
        pad = pairs
    widths = tuple((int(b), int(a)) for b, a in pad)
    return Pad(widths, 0.0 if value is None else value).apply(x)


def getitem(x, index):
    if isinstance(index, tuple):
        index = tuple(unwrap(i) for i in index)
    else:
        index = unwrap(index)
    return GetItem(index).apply(x)


def gather(x, dim: int, index):
    """Pick along ``dim`` by an integer index of x's rank. ``gather(q, 1, actions[:, None])``"""
    return Gather(dim, unwrap(index)).apply(x)


def clone(x):
    """A copy that stays in the graph (gradients pass through unchanged)."""
    return Clone().apply(x)


def repeat(x, *sizes):
    """Tile ``x`` ``sizes[i]`` times along axis i (PyTorch's repeat, NumPy's tile)."""
    sizes = tuple(sizes[0]) if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)) else sizes
    if len(sizes) < x.ndim:
        raise ValueError(f"repeat: expected at least {x.ndim} sizes for a tensor of shape {tuple(x.shape)}, "
                         f"received {len(sizes)}")
    return Repeat(tuple(int(n) for n in sizes)).apply(x)


def flip(x, dims):
    """Reverse the order of elements along ``dims``."""
    dims = (dims,) if isinstance(dims, int) else tuple(dims)
    return Flip(tuple(d % x.ndim for d in dims)).apply(x)


def index_select(x, dim: int, index):
    """The slices of ``x`` along ``dim`` at the positions of the 1-D integer ``index``."""
    index = unwrap(index)
    return getitem(x, (slice(None),) * (dim % x.ndim) + (index,))


def sort(x, dim: int = -1, descending: bool = False, stable: bool = False):
    """(values, indices) sorted along ``dim`` (equal elements keep their order)."""
    from ..tensor import Tensor
    from .reduction import sort_result

    idx = _argsort(x.data, dim, descending)
    return sort_result(gather(x, dim, idx), Tensor(idx))


def argsort(x, dim: int = -1, descending: bool = False, stable: bool = False):
    """Positions that sort ``x`` along ``dim`` (int64)."""
    from ..tensor import Tensor

    return Tensor(_argsort(x.data, dim, descending))


def topk(x, k: int, dim: int = -1, largest: bool = True, sorted: bool = True):
    """(values, indices) of the ``k`` largest (or smallest) elements along ``dim``, in order."""
    from ..tensor import Tensor
    from .reduction import topk_result

    n = x.shape[dim] if x.ndim else 1
    if not 0 <= k <= n:
        raise ValueError(f"topk: k={k} is out of range for dimension {dim} of size {n}")
    idx = _argsort(x.data, dim, largest)
    idx = idx[(slice(None),) * (dim % max(x.ndim, 1)) + (slice(0, k),)] if x.ndim else idx
    return topk_result(gather(x, dim, idx), Tensor(idx))


def _argsort(a, dim, descending):
    xp = np if isinstance(a, np.ndarray) else __import__("cupy")
    if descending:  # stable among equal elements, as PyTorch's stable descending sort
        key = -a.astype(np.int64) if a.dtype.kind in "bu" else -a
        return xp.argsort(key, axis=dim, kind="stable").astype(np.int64)
    return xp.argsort(a, axis=dim, kind="stable").astype(np.int64)
