"""Tensor: an array, the gradient it receives, and the operator that created it."""

from __future__ import annotations

from typing import Any

import numpy as np

from . import autograd
from .backend import Device, _cupy, array_module, device_of, move
from .backend import device as parse_device

float32, float64, float16 = np.float32, np.float64, np.float16
int32, int64, uint8, bool_ = np.int32, np.int64, np.uint8, np.bool_
_DTYPE_NAMES = {"float32": float32, "float": float32, "float64": float64, "double": float64,
                "float16": float16, "half": float16, "int64": int64, "long": int64, "int32": int32,
                "int": int64, "uint8": uint8, "bool": bool_}


def _dtype(dtype) -> np.dtype | None:
    if dtype is None:
        return None
    if isinstance(dtype, str):
        if dtype not in _DTYPE_NAMES:
            raise ValueError(f"unknown dtype {dtype!r}: expected one of {sorted(_DTYPE_NAMES)}")
        dtype = _DTYPE_NAMES[dtype]
    return np.dtype(dtype)


class Tensor:
    """An n-dimensional array that records the operations applied to it.

    >>> x = profondo.tensor([1.0, 2.0, 3.0], requires_grad=True)
    >>> (x * x).sum().backward()
    >>> x.grad
    tensor([2., 4., 6.])
    """

    __slots__ = ("data", "grad", "requires_grad", "creator", "_index", "_retain", "__weakref__")
    __array_ufunc__ = None  # make `ndarray op Tensor` call Tensor's reflected operator

    def __init__(self, data, requires_grad: bool = False) -> None:
        self.data = data
        self.grad = None
        self.requires_grad = requires_grad
        self.creator = None
        self._index = 0
        self._retain = False

    @classmethod
    def _wrap(cls, data, creator, index: int) -> Tensor:
        t = object.__new__(cls)
        t.data, t.grad, t.creator, t._index, t._retain = data, None, creator, index, False
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

    @property
    def size(self) -> int:
        return self.data.size

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
        a = self.numpy()
        return a if dtype is None else a.astype(dtype)

    def to(self, device=None, dtype=None) -> Tensor:
        """A copy on ``device`` and/or with ``dtype``, differentiable like any operator."""
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

        return cast(self, _dtype(dtype))

    def float(self) -> Tensor:
        return self.astype(float32)

    def double(self) -> Tensor:
        return self.astype(float64)

    def long(self) -> Tensor:
        return self.astype(int64)

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
                               "build a new tensor (e.g. with where) or assign under no_grad()")
        self.data[_plain_index(index)] = value.data if isinstance(value, Tensor) else value

    # --- methods mirroring the functional API ---------------------------------------------
    def sum(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        return _R.sum(self, axis, keepdims, dim=dim, keepdim=keepdim)

    def mean(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        return _R.mean(self, axis, keepdims, dim=dim, keepdim=keepdim)

    def max(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        return _R.max(self, axis, keepdims, dim=dim, keepdim=keepdim)

    def min(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        return _R.min(self, axis, keepdims, dim=dim, keepdim=keepdim)

    def var(self, axis=None, keepdims=False, ddof=0, *, dim=None, keepdim=None):
        return _R.var(self, axis, keepdims, ddof, dim=dim, keepdim=keepdim)

    def logsumexp(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        return _R.logsumexp(self, axis, keepdims, dim=dim, keepdim=keepdim)

    def argmax(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        return _R.argmax(self, axis, keepdims, dim=dim, keepdim=keepdim)

    def argmin(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        return _R.argmin(self, axis, keepdims, dim=dim, keepdim=keepdim)

    def reshape(self, *shape):
        return _S.reshape(self, shape[0] if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape)

    view = reshape

    def transpose(self, *axes):
        return _S.transpose(self, *axes)

    def permute(self, *axes):
        return _S.permute(self, axes[0] if len(axes) == 1 and isinstance(axes[0], (tuple, list)) else axes)

    @property
    def T(self):
        return _S.permute(self, tuple(range(self.ndim - 1, -1, -1)))

    def flatten(self, start_dim: int = 0, end_dim: int = -1):
        return _S.flatten(self, start_dim, end_dim)

    def squeeze(self, axis=None):
        return _S.squeeze(self, axis)

    def unsqueeze(self, axis: int):
        return _S.unsqueeze(self, axis)

    def broadcast_to(self, shape):
        return _S.broadcast_to(self, shape)

    def expand(self, *shape):
        return _S.broadcast_to(self, shape[0] if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape)

    def exp(self):
        return _A.exp(self)

    def log(self):
        return _A.log(self)

    def sqrt(self):
        return _A.sqrt(self)

    def abs(self):
        return _A.abs(self)

    def clip(self, min=None, max=None):
        return _A.clip(self, min, max)

    clamp = clip

    def matmul(self, other):
        return _A.matmul(self, other)

    def relu(self):
        return _ACT.relu(self)

    def sigmoid(self):
        return _ACT.sigmoid(self)

    def tanh(self):
        return _ACT.tanh(self)

    def softmax(self, axis: int = -1):
        return _ACT.softmax(self, axis)

    def log_softmax(self, axis: int = -1):
        return _ACT.log_softmax(self, axis)


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
            from .random import generator

            array = _place(generator().standard_normal(shape, dtype=np.float64).astype(dt), device)
        else:
            from .random import generator

            array = _place(generator().random(shape, dtype=np.float64).astype(dt), device)
        return Tensor(array, requires_grad)

    make.__name__ = name
    make.__doc__ = f"A tensor of the given shape filled by {name} (float32 unless dtype says otherwise)."
    return make


zeros, ones, empty, randn, rand = (_creator(n) for n in ("zeros", "ones", "empty", "randn", "rand"))


def full(shape, fill_value, dtype=float32, requires_grad: bool = False, device=None) -> Tensor:
    xp = parse_device(device).xp
    return Tensor(xp.full(tuple(shape) if not isinstance(shape, int) else (shape,), fill_value, _dtype(dtype)), requires_grad)


def arange(start, stop=None, step=1, dtype=None, device=None) -> Tensor:
    """Like numpy.arange; integers give int64, anything else float32."""
    xp = parse_device(device).xp
    if dtype is None:
        dtype = int64 if all(isinstance(v, (int, np.integer)) for v in (start, stop or 0, step)) else float32
    return Tensor(xp.arange(start, stop, step, dtype=_dtype(dtype)) if stop is not None else xp.arange(start, dtype=_dtype(dtype)))


def eye(n: int, dtype=float32, device=None) -> Tensor:
    return Tensor(parse_device(device).xp.eye(n, dtype=_dtype(dtype)))


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
