"""Tensor: an array, the gradient it receives, and the operator that created it."""

from __future__ import annotations

from typing import Any

import numpy as np

from . import autograd
from .backend import Device, _cupy, array_module, device_of, move
from .backend import device as parse_device

float32, float64, float16 = np.float32, np.float64, np.float16
int32, int64, int16, int8, uint8, bool_ = np.int32, np.int64, np.int16, np.int8, np.uint8, np.bool_
_DTYPE_NAMES = {"float32": float32, "float": float32, "float64": float64, "double": float64,
                "float16": float16, "half": float16, "int64": int64, "long": int64, "int32": int32,
                "int": int64, "uint8": uint8, "bool": bool_}


def _dtype(dtype) -> np.dtype | None:
    if dtype is None:
        return None
    if dtype is float:  # Python's float and int as dtypes mean PyTorch's defaults
        return np.dtype(float32)
    if isinstance(dtype, str):
        if dtype not in _DTYPE_NAMES:
            raise ValueError(f"unknown dtype {dtype!r}: expected one of {sorted(_DTYPE_NAMES)}")
        dtype = _DTYPE_NAMES[dtype]
    return np.dtype(dtype)


class Size(tuple):
    """PyTorch's ``torch.Size``: a tuple of axis lengths (``x.size() == Size([2, 3])``)."""

    def __repr__(self) -> str:
        return f"Size({list(self)})"


class Tensor:
    """An n-dimensional array that records the operations applied to it.

    >>> x = profondo.tensor([1.0, 2.0, 3.0], requires_grad=True)
    >>> (x * x).sum().backward()
    >>> x.grad
    tensor([2., 4., 6.])
    """

    # _post_hooks is set only on leaves that have a post-accumulate-grad hook (read with getattr).
    __slots__ = ("data", "grad", "requires_grad", "creator", "_index", "_retain", "_version", "_post_hooks", "__weakref__")
    __array_ufunc__ = None  # make `ndarray op Tensor` call Tensor's reflected operator

    def __init__(self, data, requires_grad: bool = False) -> None:
        if isinstance(data, Tensor):  # Tensor(t): the same array, not a tensor inside a tensor
            data = data.data
        self.data = data
        self.grad = None
        self.requires_grad = requires_grad
        self.creator = None
        self._index = 0
        self._retain = False
        self._version = 0  # in-place changes so far (autograd checks it, as PyTorch's _version)

    @classmethod
    def _wrap(cls, data, creator, index: int) -> Tensor:
        t = object.__new__(cls)
        t.data, t.grad, t.creator, t._index, t._retain, t._version = data, None, creator, index, False, 0
        t.requires_grad = creator is not None
        return t

    # --- description -------------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def ndim(self) -> int:
        return self.data.ndim

    def size(self, dim: int | None = None):
        """The shape (``x.size()``), or the length of one axis (``x.size(0)``), as PyTorch."""
        return self.data.shape if dim is None else self.data.shape[dim]

    def dim(self) -> int:
        return self.data.ndim

    ndimension = dim

    def numel(self) -> int:
        return self.data.size

    nelement = numel

    def element_size(self) -> int:
        return self.data.itemsize

    def is_floating_point(self) -> bool:
        return self.data.dtype.kind == "f"

    def is_contiguous(self) -> bool:
        return bool(self.data.flags.c_contiguous)

    @property
    def is_cuda(self) -> bool:
        return self.device.type == "cuda"

    @property
    def device(self) -> Device:
        return device_of(self.data)

    @property
    def xp(self):
        return array_module(self.data)

    @property
    def is_leaf(self) -> bool:
        return self.creator is None

    @property
    def grad_fn(self):
        return self.creator

    def __len__(self) -> int:
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.data.shape[0]

    def __repr__(self) -> str:
        body = np.array2string(self.numpy(), separator=", ", prefix="tensor(", threshold=200)
        extras = []
        if self.dtype not in (np.float32, np.int64, np.bool_) or self.data.size == 0:
            extras.append(f"dtype={self.dtype}")
        if self.device.type != "cpu":
            extras.append(f"device='{self.device}'")
        if self.creator is not None:
            extras.append(f"grad_fn=<{type(self.creator).__name__}>")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        return "tensor(" + ", ".join([body, *extras]) + ")"

    # --- conversion ----------------------------------------------------------------------
    def numpy(self) -> np.ndarray:
        """The values as a NumPy array (shares memory on the CPU; copied from a GPU)."""
        return move(self.data, Device("cpu"))

    def item(self) -> Any:
        if self.data.size != 1:
            raise ValueError(f"item() needs a tensor of one element, received shape {self.shape}")
        return self.data.item()

    def tolist(self) -> Any:
        return self.numpy().tolist()

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __bool__(self) -> bool:
        return bool(self.item())

    def __array__(self, dtype=None, copy=None):
        # NumPy's protocol: copy=True asks for a copy (np.array(t)), None for one only if needed
        # (np.asarray(t) shares memory with the tensor, as with an ndarray).
        a = self.numpy()
        if dtype is not None and a.dtype != dtype:
            return a.astype(dtype)
        return a.copy() if copy else a

    def to(self, device=None, dtype=None, non_blocking: bool = False, copy: bool = False) -> Tensor:
        """This tensor on ``device`` and/or with ``dtype`` (itself when nothing changes), as
        PyTorch's ``x.to("cuda")``, ``x.to(torch.float64)``, ``x.to(other)``; differentiable."""
        if isinstance(device, Tensor):
            device, dtype = device.device, device.dtype
        elif (device is not None and not isinstance(device, (Device, str))) or (
                isinstance(device, str) and device in _DTYPE_NAMES):
            device, dtype = None, device  # x.to(torch.float32): a dtype in the first place
        out = self
        if dtype is not None and _dtype(dtype) != self.dtype:
            out = out.astype(dtype)
        if device is not None and parse_device(device) != self.device:
            from .functional.arithmetic import to_device

            out = to_device(out, parse_device(device))
        return out

    def cpu(self) -> Tensor:
        return self.to("cpu")

    def cuda(self, index: int = 0) -> Tensor:
        return self.to(f"cuda:{index}")

    def astype(self, dtype) -> Tensor:
        from .functional.arithmetic import cast

        dt = _dtype(dtype)
        return self if dt == self.data.dtype else cast(self, dt)

    def float(self) -> Tensor:
        return self.astype(float32)

    def double(self) -> Tensor:
        return self.astype(float64)

    def long(self) -> Tensor:
        return self.astype(int64)

    def int(self) -> Tensor:
        return self.astype(int32)

    def half(self) -> Tensor:
        return self.astype(float16)

    def bool(self) -> Tensor:
        return self.astype(bool_)

    def type(self, dtype=None):
        """The dtype's name without an argument, else a copy with that dtype."""
        return str(self.dtype) if dtype is None else self.astype(dtype)

    def type_as(self, other: Tensor) -> Tensor:
        return self.astype(other.dtype)

    # --- autograd --------------------------------------------------------------------------
    def backward(self, gradient=None, retain_graph: bool | None = None, create_graph: bool = False,
                 inputs=None) -> None:
        """Accumulate gradients of this tensor into ``.grad`` of every leaf that requires grad.

        As in PyTorch: ``gradient`` for a non-scalar tensor, ``retain_graph`` to back-propagate
        through the same graph again (default: ``create_graph``), ``create_graph`` to record the
        backward pass so that ``.grad`` can be differentiated again, ``inputs`` to accumulate
        only into those tensors.
        """
        autograd.backward(self, gradient, retain_graph, create_graph, inputs)

    def detach(self) -> Tensor:
        """The same array, cut from the graph."""
        return Tensor(self.data)

    def detach_(self) -> Tensor:
        self.creator, self.requires_grad = None, False
        return self

    def clone(self) -> Tensor:
        """A copy of the values that stays in the graph."""
        return _S.clone(self)

    def contiguous(self) -> Tensor:
        return self if self.data.flags.c_contiguous else _S.clone(self)

    def register_hook(self, hook):
        """Call ``hook(grad)`` when this tensor's gradient is computed; a tensor it returns replaces
        the gradient. Returns a handle whose ``remove()`` takes the hook away."""
        if not self.requires_grad:
            raise RuntimeError("register_hook on a tensor that does not require grad")
        return autograd.register_hook(self, hook)

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        if self.creator is not None and not requires_grad:
            raise RuntimeError("requires_grad_(False) on a non-leaf tensor: use detach()")
        self.requires_grad = requires_grad
        return self

    def retain_grad(self) -> Tensor:
        """Keep the gradient of this intermediate tensor in ``.grad`` after backward."""
        self._retain = True
        return self

    def zero_grad(self) -> None:
        self.grad = None

    def register_post_accumulate_grad_hook(self, hook) -> autograd.RemovableHandle:
        """Call ``hook(tensor)`` during each backward, as soon as this leaf's gradient is final
        (every contribution of that backward accumulated into ``.grad``), as in PyTorch.
        Data-parallel training starts sending a gradient from here while backward goes on.
        Returns a handle; ``handle.remove()`` unregisters the hook."""
        if self.creator is not None:
            raise RuntimeError("register_post_accumulate_grad_hook: post accumulate grad hooks can only be "
                               "registered on leaf tensors (this tensor was computed by "
                               f"{type(self.creator).__name__})")
        if not callable(hook):
            raise TypeError(f"register_post_accumulate_grad_hook expected a callable, received {type(hook).__name__}")
        return autograd.add_post_accumulate_hook(self, hook)

    # --- operators -------------------------------------------------------------------------
    def __add__(self, other):
        return _A.add(self, other)

    def __radd__(self, other):
        return _A.add(other, self)

    def __sub__(self, other):
        return _A.sub(self, other)

    def __rsub__(self, other):
        return _A.sub(other, self)

    def __mul__(self, other):
        return _A.mul(self, other)

    def __rmul__(self, other):
        return _A.mul(other, self)

    def __truediv__(self, other):
        return _A.div(self, other)

    def __rtruediv__(self, other):
        return _A.div(other, self)

    def __pow__(self, other):
        return _A.pow(self, other)

    def __rpow__(self, other):
        return _A.pow(other, self)

    def __matmul__(self, other):
        return _A.matmul(self, other)

    def __rmatmul__(self, other):
        return _A.matmul(other, self)

    def __floordiv__(self, other):
        return _A.floor_divide(self, other)

    def __rfloordiv__(self, other):
        return _A.floor_divide(other, self)

    def __mod__(self, other):
        return _A.remainder(self, other)

    def __rmod__(self, other):
        return _A.remainder(other, self)

    def __and__(self, other):
        return _compare(np.bitwise_and, self, other)

    __rand__ = __and__

    def __or__(self, other):
        return _compare(np.bitwise_or, self, other)

    __ror__ = __or__

    def __xor__(self, other):
        return _compare(np.bitwise_xor, self, other)

    __rxor__ = __xor__

    def __invert__(self):
        if self.dtype.kind not in "biu":
            raise TypeError(f"~ (bitwise not) needs a bool or integer tensor, received {self.dtype}")
        return Tensor(self.xp.invert(self.data))

    logical_not = __invert__

    def __iadd__(self, other):
        return self._inplace(_A.add, other)

    def __isub__(self, other):
        return self._inplace(_A.sub, other)

    def __imul__(self, other):
        return self._inplace(_A.mul, other)

    def __itruediv__(self, other):
        return self._inplace(_A.div, other)

    def __ipow__(self, other):
        return self._inplace(_A.pow, other)

    def __neg__(self):
        return _A.neg(self)

    def __pos__(self):
        return self

    def __abs__(self):
        return _A.abs(self)

    def __lt__(self, other):
        return _compare(np.less, self, other)

    def __le__(self, other):
        return _compare(np.less_equal, self, other)

    def __gt__(self, other):
        return _compare(np.greater, self, other)

    def __ge__(self, other):
        return _compare(np.greater_equal, self, other)

    def __eq__(self, other):  # element-wise, as in NumPy and PyTorch
        return _compare(np.equal, self, other)

    def __ne__(self, other):
        return _compare(np.not_equal, self, other)

    __hash__ = object.__hash__

    def __getitem__(self, index):
        return _S.getitem(self, index)

    def __setitem__(self, index, value) -> None:
        if autograd.is_grad_enabled() and (self.requires_grad or getattr(value, "requires_grad", False)):
            raise RuntimeError("in-place assignment into a tensor that takes part in autograd; "
                               "build a new tensor (e.g. with where or masked_fill) or assign under no_grad()")
        self.data[_plain_index(index)] = value.data if isinstance(value, Tensor) else value
        self._bump()

    # --- in-place operations ---------------------------------------------------------------
    def _bump(self) -> None:
        self._version += 1
        autograd.mark_modified(self.data)

    def _inplace(self, op, *args, **kwargs) -> Tensor:
        """Run the out-of-place ``op`` and write its result into this tensor's own array.

        Without autograd (or under no_grad) the array is simply overwritten. When the result
        needs a gradient, this tensor takes the result's place in the graph, as in PyTorch;
        an operator that saved the old values raises at backward time (autograd's version
        check). A leaf that requires grad cannot be changed in place, as in PyTorch."""
        if autograd.is_grad_enabled() and (self.requires_grad or any(
                isinstance(a, Tensor) and a.requires_grad for a in args)):
            if self.creator is None and self.requires_grad:
                raise RuntimeError("a leaf tensor that requires grad is being used in an in-place operation: "
                                   "change it under no_grad() (as an optimizer does), or work on a clone()")
            old = Tensor._wrap(self.data.copy(), self.creator, self._index)
            old.requires_grad = self.requires_grad
            result = op(old, *args, **kwargs)
            self._write(result.data)
            self.creator, self._index, self.requires_grad = result.creator, result._index, result.requires_grad
            autograd.mark_rebased(self, old)
            return self
        with autograd.no_grad():
            result = op(self, *args, **kwargs)
        self._write(result.data)
        return self

    def _write(self, values) -> None:
        kind, into = values.dtype.kind, self.data.dtype.kind
        if into != kind and (into == "b" or (into in "iu" and kind in "fc")):
            raise RuntimeError(f"result type {values.dtype} can't be cast to the desired output type {self.dtype} "
                               "of an in-place operation")
        self.data[...] = values
        self._bump()

    def add_(self, other, *, alpha=1) -> Tensor:
        return self._inplace(_A.add, other, alpha=alpha)

    def sub_(self, other, *, alpha=1) -> Tensor:
        return self._inplace(_A.sub, other, alpha=alpha)

    def mul_(self, other) -> Tensor:
        return self._inplace(_A.mul, other)

    def div_(self, other) -> Tensor:
        return self._inplace(_A.div, other)

    def pow_(self, other) -> Tensor:
        return self._inplace(_A.pow, other)

    def neg_(self) -> Tensor:
        return self._inplace(_A.neg)

    def abs_(self) -> Tensor:
        return self._inplace(_A.abs)

    def exp_(self) -> Tensor:
        return self._inplace(_A.exp)

    def log_(self) -> Tensor:
        return self._inplace(_A.log)

    def sqrt_(self) -> Tensor:
        return self._inplace(_A.sqrt)

    def clamp_(self, min=None, max=None) -> Tensor:
        return self._inplace(_A.clip, min, max)

    clip_ = clamp_

    def relu_(self) -> Tensor:
        return self._inplace(_ACT.relu)

    def sigmoid_(self) -> Tensor:
        return self._inplace(_ACT.sigmoid)

    def tanh_(self) -> Tensor:
        return self._inplace(_ACT.tanh)

    def masked_fill_(self, mask, value) -> Tensor:
        return self._inplace(_A.masked_fill, mask, value)

    def addcmul_(self, tensor1, tensor2, *, value=1) -> Tensor:
        return self._inplace(lambda x: x + value * tensor1 * tensor2)

    def addcdiv_(self, tensor1, tensor2, *, value=1) -> Tensor:
        return self._inplace(lambda x: x + value * tensor1 / tensor2)

    def lerp_(self, end, weight) -> Tensor:
        return self._inplace(lambda x: x + weight * (end - x))

    def copy_(self, src) -> Tensor:
        """Copy ``src``'s values (broadcast, cast to this dtype) into this tensor."""
        values = src.data if isinstance(src, Tensor) else self.xp.asarray(src)
        if isinstance(src, Tensor) and src.requires_grad and autograd.is_grad_enabled():
            return self._inplace(_replaced_by, src)
        self.data[...] = move(values, self.device).astype(self.dtype, copy=False)
        self._bump()
        return self

    def _fill_with(self, values) -> Tensor:
        if autograd.is_grad_enabled() and self.requires_grad:
            if self.creator is None:
                raise RuntimeError("a leaf tensor that requires grad is being used in an in-place operation: "
                                   "change it under no_grad()")
            return self._inplace(_replaced_by, Tensor(self.xp.asarray(values, self.dtype)))
        self.data[...] = values
        self._bump()
        return self

    def zero_(self) -> Tensor:
        return self._fill_with(self.data.dtype.type(0))

    def fill_(self, value) -> Tensor:
        return self._fill_with(value.data if isinstance(value, Tensor) else value)

    def uniform_(self, a: float = 0.0, b: float = 1.0, generator=None) -> Tensor:
        from .random import numpy_generator

        rng = numpy_generator(generator)
        return self._fill_with(move(rng.uniform(a, b, self.shape).astype(self.dtype), self.device))

    def normal_(self, mean: float = 0.0, std: float = 1.0, generator=None) -> Tensor:
        from .random import numpy_generator

        rng = numpy_generator(generator)
        return self._fill_with(move(rng.normal(mean, std, self.shape).astype(self.dtype), self.device))

    # --- methods mirroring the functional API ---------------------------------------------
    def sum(self, axis=None, keepdims=False, *, dim=None, keepdim=None, dtype=None):
        return _R.sum(self, axis, keepdims, dim=dim, keepdim=keepdim, dtype=dtype)

    def mean(self, axis=None, keepdims=False, *, dim=None, keepdim=None, dtype=None):
        return _R.mean(self, axis, keepdims, dim=dim, keepdim=keepdim, dtype=dtype)

    def prod(self, axis=None, keepdims=False, *, dim=None, keepdim=None, dtype=None):
        return _R.prod(self, axis, keepdims, dim=dim, keepdim=keepdim, dtype=dtype)

    def max(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        """``x.max()`` the largest value; ``x.max(dim)`` (values, indices) as PyTorch."""
        return _R.max(self, axis, keepdims, dim=dim, keepdim=keepdim)

    def min(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        return _R.min(self, axis, keepdims, dim=dim, keepdim=keepdim)

    def amax(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        return _R.amax(self, axis, keepdims, dim=dim, keepdim=keepdim)

    def amin(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        return _R.amin(self, axis, keepdims, dim=dim, keepdim=keepdim)

    def var(self, dim=None, unbiased=None, keepdim=False, *, correction=None, axis=None, keepdims=None, ddof=None):
        """Unbiased by default, as PyTorch (``unbiased=False`` or ``correction=0`` for the population variance)."""
        return _R.var(self, dim, unbiased, keepdim, correction=correction, axis=axis, keepdims=keepdims, ddof=ddof)

    def std(self, dim=None, unbiased=None, keepdim=False, *, correction=None, axis=None, keepdims=None, ddof=None):
        return _R.std(self, dim, unbiased, keepdim, correction=correction, axis=axis, keepdims=keepdims, ddof=ddof)

    def norm(self, p=2, dim=None, keepdim=False):
        return _R.norm(self, p, dim, keepdim)

    def logsumexp(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        return _R.logsumexp(self, axis, keepdims, dim=dim, keepdim=keepdim)

    def argmax(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        return _R.argmax(self, axis, keepdims, dim=dim, keepdim=keepdim)

    def argmin(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        return _R.argmin(self, axis, keepdims, dim=dim, keepdim=keepdim)

    def any(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        return _R.any(self, axis, keepdims, dim=dim, keepdim=keepdim)

    def all(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        return _R.all(self, axis, keepdims, dim=dim, keepdim=keepdim)

    def cumsum(self, dim: int, *, dtype=None):
        return _R.cumsum(self, dim, dtype=dtype)

    def sort(self, dim: int = -1, descending: bool = False, stable: bool = False):
        return _S.sort(self, dim, descending, stable)

    def argsort(self, dim: int = -1, descending: bool = False, stable: bool = False):
        return _S.argsort(self, dim, descending, stable)

    def topk(self, k: int, dim: int = -1, largest: bool = True, sorted: bool = True):
        return _S.topk(self, k, dim, largest, sorted)

    def reshape(self, *shape):
        return _S.reshape(self, shape[0] if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape)

    view = reshape

    def view_as(self, other: Tensor):
        return _S.reshape(self, other.shape)

    reshape_as = view_as

    def transpose(self, *axes):
        return _S.transpose(self, *axes)

    swapaxes = transpose

    def t(self):
        if self.ndim > 2:
            raise ValueError(f"t() expects a tensor of at most 2 dimensions, received shape {tuple(self.shape)}")
        return _S.transpose(self)

    def permute(self, *axes):
        return _S.permute(self, axes[0] if len(axes) == 1 and isinstance(axes[0], (tuple, list)) else axes)

    @property
    def T(self):
        return _S.permute(self, tuple(range(self.ndim - 1, -1, -1)))

    @property
    def mT(self):
        return _S.transpose(self, -2, -1)

    def flatten(self, start_dim: int = 0, end_dim: int = -1):
        return _S.flatten(self, start_dim, end_dim)

    def squeeze(self, dim=None, *, axis=None):
        return _S.squeeze(self, dim, axis=axis)

    def unsqueeze(self, dim: int | None = None, *, axis: int | None = None):
        return _S.unsqueeze(self, dim, axis=axis)

    def broadcast_to(self, shape):
        return _S.broadcast_to(self, shape)

    def expand(self, *shape):
        """Broadcast to ``shape``; -1 keeps an axis's size, as PyTorch."""
        shape = tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
        offset = len(shape) - self.ndim
        if offset < 0:
            raise ValueError(f"expand: {len(shape)} sizes given for a tensor of {self.ndim} dimensions")
        shape = tuple(self.shape[i - offset] if n == -1 and i >= offset else n for i, n in enumerate(shape))
        return _S.broadcast_to(self, shape)

    def expand_as(self, other: Tensor):
        return _S.broadcast_to(self, other.shape)

    def repeat(self, *sizes):
        return _S.repeat(self, *sizes)

    def flip(self, *dims):
        return _S.flip(self, dims[0] if len(dims) == 1 else dims)

    def chunk(self, chunks: int, dim: int = 0):
        return _S.chunk(self, chunks, dim)

    def split(self, split_size, dim: int = 0):
        return _S.split(self, split_size, dim)

    def unbind(self, dim: int = 0):
        return _S.unbind(self, dim)

    def gather(self, dim: int, index):
        return _S.gather(self, dim, index)

    def index_select(self, dim: int, index):
        return _S.index_select(self, dim, index)

    def masked_fill(self, mask, value):
        return _A.masked_fill(self, mask, value)

    def exp(self):
        return _A.exp(self)

    def log(self):
        return _A.log(self)

    def sqrt(self):
        return _A.sqrt(self)

    def abs(self):
        return _A.abs(self)

    def neg(self):
        return _A.neg(self)

    def pow(self, exponent):
        return _A.pow(self, exponent)

    def add(self, other, *, alpha=1):
        return _A.add(self, other, alpha=alpha)

    def sub(self, other, *, alpha=1):
        return _A.sub(self, other, alpha=alpha)

    def mul(self, other):
        return _A.mul(self, other)

    def div(self, other):
        return _A.div(self, other)

    def clip(self, min=None, max=None):
        return _A.clip(self, min, max)

    clamp = clip

    def maximum(self, other):
        return _A.maximum(self, other)

    def minimum(self, other):
        return _A.minimum(self, other)

    def matmul(self, other):
        return _A.matmul(self, other)

    def mm(self, other):
        return _A.mm(self, other)

    def bmm(self, other):
        return _A.bmm(self, other)

    def dot(self, other):
        if self.ndim != 1 or getattr(other, "ndim", 0) != 1:
            raise ValueError(f"dot: expected two 1-D tensors, received shapes {tuple(self.shape)} and "
                             f"{tuple(getattr(other, 'shape', ()))}")
        return _A.matmul(self, other)

    def relu(self):
        return _ACT.relu(self)

    def sigmoid(self):
        return _ACT.sigmoid(self)

    def tanh(self):
        return _ACT.tanh(self)

    def softmax(self, dim: int | None = None, *, axis: int | None = None):
        return _ACT.softmax(self, dim, axis=axis)

    def log_softmax(self, dim: int | None = None, *, axis: int | None = None):
        return _ACT.log_softmax(self, dim, axis=axis)

    def eq(self, other):
        return self == other

    def ne(self, other):
        return self != other

    def lt(self, other):
        return self < other

    def le(self, other):
        return self <= other

    def gt(self, other):
        return self > other

    def ge(self, other):
        return self >= other

    def new_zeros(self, *shape, dtype=None):
        return zeros(*shape, dtype=dtype or self.dtype, device=self.device)

    def new_ones(self, *shape, dtype=None):
        return ones(*shape, dtype=dtype or self.dtype, device=self.device)

    def new_full(self, shape, fill_value, dtype=None):
        return full(shape, fill_value, dtype=dtype or self.dtype, device=self.device)

    def new_tensor(self, data, dtype=None):
        return tensor(data, dtype=dtype or self.dtype, device=self.device)


def _replaced_by(x, values):
    """``values`` (broadcast to x's shape) in x's place: no gradient reaches x, all of it ``values``."""
    return _A.where(x.xp.zeros(x.shape, bool), x, values)


def _plain_index(index):
    if isinstance(index, Tensor):
        return index.data
    if isinstance(index, tuple):
        return tuple(i.data if isinstance(i, Tensor) else i for i in index)
    return index


def _compare(ufunc, a, b) -> Tensor:
    a_data = a.data if isinstance(a, Tensor) else a
    b_data = b.data if isinstance(b, Tensor) else b
    xp = array_module(a_data if isinstance(a, Tensor) else b_data)
    return Tensor(getattr(xp, ufunc.__name__)(a_data, b_data))


# --- creation ----------------------------------------------------------------------------
def _place(array, device):
    dev = parse_device(device)
    return move(array, dev) if dev.type != "cpu" else array


def tensor(data, dtype=None, requires_grad: bool = False, device=None) -> Tensor:
    """A new tensor holding a copy of ``data`` (Python floats become float32, ints int64).

    >>> profondo.tensor([[1, 2], [3, 4]], dtype="float32", requires_grad=True).shape
    (2, 2)
    """
    if isinstance(data, Tensor):
        data = data.data
    dt = _dtype(dtype)
    xp = array_module(data)
    is_array = isinstance(data, (np.ndarray, np.generic)) or xp is not np
    array = xp.array(data, dtype=dt, copy=True)
    if dt is None and not is_array and array.dtype == np.float64:
        array = array.astype(np.float32)  # Python floats: float32, as the default dtype says
    if requires_grad and array.dtype.kind != "f":
        raise TypeError(f"requires_grad=True needs a floating dtype, received {array.dtype}")
    return Tensor(_place(array, device), requires_grad)


def as_tensor(data, dtype=None, like=None) -> Tensor:
    """Wrap ``data`` without copying where possible; Python scalars take the dtype of ``like``."""
    if isinstance(data, Tensor):
        return data if dtype is None else data.astype(dtype)
    xp = array_module(like) if like is not None else array_module(data)
    if dtype is None and like is not None and isinstance(data, (int, float, np.integer, np.floating, np.bool_)):
        # Python and NumPy scalars adopt the tensor's dtype, so float32 stays float32 (as in
        # PyTorch): x / np.int64(3) or x * np.sqrt(2.0) must not promote x to float64.
        kind, floating = like.dtype.kind, isinstance(data, (float, np.floating))
        if kind == "f" or (kind in "iu" and not floating) or kind == "b" and isinstance(data, (bool, np.bool_)):
            dtype = like.dtype
    array = xp.asarray(data, dtype=_dtype(dtype))
    if dtype is None and array.dtype == np.float64 and not hasattr(data, "dtype"):
        array = array.astype(np.float32)  # Python floats (and lists of them): float32 by default
    return Tensor(array)


def from_numpy(array: np.ndarray, requires_grad: bool = False) -> Tensor:
    """A tensor sharing memory with ``array`` (its dtype kept)."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy: expected a numpy.ndarray, received {type(array).__name__}")
    return Tensor(array, requires_grad)


def _creator(name):
    def make(*shape, dtype=float32, requires_grad: bool = False, device=None, **kwargs) -> Tensor:
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        xp = parse_device(device).xp
        dt = _dtype(dtype)
        if name == "zeros":
            array = xp.zeros(shape, dt)
        elif name == "ones":
            array = xp.ones(shape, dt)
        elif name == "empty":
            array = xp.empty(shape, dt)
        elif name == "randn":
            from .random import numpy_generator

            rng = numpy_generator(kwargs.get("generator"))
            array = _place(rng.standard_normal(shape, dtype=np.float64).astype(dt), device)
        else:
            from .random import numpy_generator

            rng = numpy_generator(kwargs.get("generator"))
            array = _place(rng.random(shape, dtype=np.float64).astype(dt), device)
        return Tensor(array, requires_grad)

    make.__name__ = name
    make.__doc__ = f"A tensor of the given shape filled by {name} (float32 unless dtype says otherwise)."
    return make


zeros, ones, empty, randn, rand = (_creator(n) for n in ("zeros", "ones", "empty", "randn", "rand"))


def randint(low, high=None, size=None, *, generator=None, dtype=int64, requires_grad: bool = False,
            device=None) -> Tensor:
    """Integers drawn uniformly from [low, high), as ``torch.randint(low=0, high, size)``:
    ``randint(10, (3,))`` or ``randint(5, 10, (3,))``."""
    from .random import numpy_generator

    if size is None:  # randint(high, size)
        low, high, size = 0, low, high
    if size is None:
        raise TypeError("randint() needs a size, such as randint(10, (3,))")
    size = (size,) if isinstance(size, int) else tuple(size)
    array = numpy_generator(generator).integers(low, high, size, dtype=np.int64).astype(_dtype(dtype))
    return Tensor(_place(array, device), requires_grad)


def randperm(n: int, *, generator=None, dtype=int64, device=None) -> Tensor:
    """A random permutation of 0..n-1."""
    from .random import numpy_generator

    return Tensor(_place(numpy_generator(generator).permutation(n).astype(_dtype(dtype)), device))


def full(shape, fill_value, dtype=None, requires_grad: bool = False, device=None) -> Tensor:
    """A tensor of ``shape`` filled with ``fill_value``; the dtype follows the value as in
    PyTorch (bool, int64, or float32 for a Python float)."""
    xp = parse_device(device).xp
    if isinstance(fill_value, Tensor):
        fill_value = fill_value.item()
    if dtype is None:
        dtype = (bool_ if isinstance(fill_value, (bool, np.bool_)) else
                 int64 if isinstance(fill_value, (int, np.integer)) else float32)
    return Tensor(xp.full(tuple(shape) if not isinstance(shape, int) else (shape,), fill_value, _dtype(dtype)), requires_grad)


def arange(start, stop=None, step=1, dtype=None, device=None) -> Tensor:
    """Like numpy.arange; integers give int64, anything else float32."""
    xp = parse_device(device).xp
    if dtype is None:
        dtype = int64 if all(isinstance(v, (int, np.integer)) for v in (start, stop or 0, step)) else float32
    return Tensor(xp.arange(start, stop, step, dtype=_dtype(dtype)) if stop is not None else xp.arange(start, dtype=_dtype(dtype)))


def eye(n: int, m: int | None = None, dtype=float32, requires_grad: bool = False, device=None) -> Tensor:
    """The n x m identity (m = n by default)."""
    return Tensor(parse_device(device).xp.eye(n, m, dtype=_dtype(dtype)), requires_grad)


def linspace(start, end, steps: int, dtype=float32, requires_grad: bool = False, device=None) -> Tensor:
    """``steps`` evenly spaced values from ``start`` to ``end``, both included."""
    return Tensor(parse_device(device).xp.linspace(start, end, steps, dtype=np.float64).astype(_dtype(dtype)),
                  requires_grad)


def _like(fn):
    def make(other: Tensor, dtype=None, requires_grad: bool = False, **kwargs) -> Tensor:
        return fn(*other.shape, dtype=dtype or other.dtype, requires_grad=requires_grad, device=other.device, **kwargs)

    make.__name__ = fn.__name__ + "_like"
    return make


zeros_like, ones_like, randn_like, rand_like, empty_like = (_like(f) for f in (zeros, ones, randn, rand, empty))


def full_like(other: Tensor, fill_value, dtype=None, requires_grad: bool = False) -> Tensor:
    return full(other.shape, fill_value, dtype or other.dtype, requires_grad, other.device)


from .functional import activation as _ACT  # noqa: E402  (functional needs Tensor defined)
from .functional import arithmetic as _A  # noqa: E402
from .functional import reduction as _R  # noqa: E402
from .functional import shape as _S  # noqa: E402

del _cupy
