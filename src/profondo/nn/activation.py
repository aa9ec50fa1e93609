"""Activation layers: element-wise non-linearities and (log-)softmax along an axis."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .. import functional as F
from .counts import LayerCounts, elementwise
from .module import Module, _shape
from .vocabulary import Field, FileKind, is_int, one_of, optional, real, single


def _kind(name: str, make: Callable[..., Module], fields: dict[str, Field] | None = None,
          as_activation: Callable[[], Module | None] | None = None) -> FileKind:
    """The file kind of an activation: ``make(**fields)`` builds it; ``activation: <name>`` on a conv
    or dense layer appends ``as_activation()`` (default: ``make()``)."""
    fields = fields or {}
    return FileKind(name, fields, lambda p, shapes, at: single(make(*(p[k] for k in fields))),
                    activation=as_activation or make)


_DIM = {"dim": Field(is_int, "an integer axis counting the batch axis (1 = channels or features)", 1)}


class _Elementwise(Module):
    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        return _shape(input_shape, type(self).__name__)

    def counts(self, input_shapes: list[tuple[int, ...]], output_shape: tuple[int, ...]) -> LayerCounts:
        return elementwise(output_shape)

    def file_entry(self, input_shapes: list[tuple[int, ...]], at: str) -> tuple[str, dict[str, Any]]:
        return type(self).file_kinds[0].name, {}


class ReLU(_Elementwise):
    """max(x, 0). ``Sequential(Linear(4, 8), ReLU())``"""

    file_kinds = (_kind("relu", lambda: ReLU()),)

    def forward(self, x):
        return F.relu(x)


class ReLU6(_Elementwise):
    """min(max(x, 0), 6)."""

    file_kinds = (_kind("relu6", lambda: ReLU6()),)

    def forward(self, x):
        return F.relu6(x)


class LeakyReLU(_Elementwise):
    """x for x > 0, else negative_slope * x. ``LeakyReLU(0.1)``"""

    file_kinds = (_kind("leaky_relu", lambda slope=0.01: LeakyReLU(slope),
                        {"slope": Field(real, "a number", 0.01, True)}),)

    def __init__(self, negative_slope: float = 0.01) -> None:
        super().__init__()
        self.negative_slope = float(negative_slope)

    def forward(self, x):
        return F.leaky_relu(x, self.negative_slope)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}"

    def file_entry(self, input_shapes: list[tuple[int, ...]], at: str) -> tuple[str, dict[str, Any]]:
        return "leaky_relu", {"slope": self.negative_slope}


class Sigmoid(_Elementwise):
    """1 / (1 + exp(-x))."""

    file_kinds = (_kind("sigmoid", lambda: Sigmoid()),)

    def forward(self, x):
        return F.sigmoid(x)


class Tanh(_Elementwise):
    file_kinds = (_kind("tanh", lambda: Tanh()),)

    def forward(self, x):
        return F.tanh(x)


class _AlongDim(_Elementwise):
    def __init__(self, dim: int = -1) -> None:
        super().__init__()
        self.dim = int(dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        shape = super().output_shape(input_shape)
        n = len(shape) + 1  # with the batch axis
        if not -n <= self.dim < n:
            raise ValueError(f"{type(self).__name__}(dim={self.dim}): out of range for a batch of per-sample "
                             f"shape {shape} ({n} axes)")
        return shape

    def file_entry(self, input_shapes: list[tuple[int, ...]], at: str) -> tuple[str, dict[str, Any]]:
        return type(self).file_kinds[0].name, {"dim": self.dim}


class Softmax(_AlongDim):
    """exp(x) / sum(exp(x)) along ``dim``. ``Softmax(dim=1)``"""

    # As an `activation:` it runs over the channels or features.
    file_kinds = (_kind("softmax", lambda dim: Softmax(dim), _DIM, lambda: Softmax(1)),)

    def forward(self, x):
        return F.softmax(x, self.dim)


class LogSoftmax(_AlongDim):
    """log(softmax(x)) along ``dim``, computed stably (pair with nll_loss)."""

    file_kinds = (_kind("log_softmax", lambda dim: LogSoftmax(dim), _DIM, lambda: LogSoftmax(1)),)

    def forward(self, x):
        return F.log_softmax(x, self.dim)


class Identity(_Elementwise):
    """Returns its input (a placeholder, e.g. for a removed classifier head)."""

    # As an `activation:` it names a linear layer: no module is added.
    file_kinds = (_kind("identity", lambda: Identity(), as_activation=lambda: None),)

    def forward(self, x):
        return x

    def counts(self, input_shapes: list[tuple[int, ...]], output_shape: tuple[int, ...]) -> LayerCounts:
        return LayerCounts(0, view=True)


# The values of the `activation:` field of conv and dense layers, in the order errors list them.
ACTIVATION_CLASSES: tuple[type[_Elementwise], ...] = (ReLU, ReLU6, LeakyReLU, Sigmoid, Tanh, Softmax, LogSoftmax,
                                                       Identity)
ACTIVATIONS = tuple(cls.file_kinds[0].name for cls in ACTIVATION_CLASSES)
_ACTIVATION_KINDS = {cls.file_kinds[0].name: cls.file_kinds[0] for cls in ACTIVATION_CLASSES}
ACTIVATION_FIELD = Field(optional(one_of(*ACTIVATIONS)), f"null or one of {', '.join(ACTIVATIONS)}", None)


def with_activation(main: Module, activation: str | None) -> list[tuple[str, Module]]:
    """A conv or dense layer's modules: ``main`` and the module its ``activation:`` field names
    (suffix: the activation's name)."""
    modules = [("", main)]
    extra = _ACTIVATION_KINDS[activation].activation() if activation is not None else None
    if extra is not None:
        modules.append((activation, extra))
    return modules


def activation_of(module: Module) -> str | None:
    """The ``activation:`` value that builds ``module`` exactly, or None (``ReLU()`` -> "relu",
    ``Softmax(dim=0)`` -> None)."""
    kinds = type(module).__dict__.get("file_kinds", ())
    for kind in kinds:
        if kind.activation is None or kind.name not in _ACTIVATION_KINDS:
            continue
        built = kind.activation()
        if built is not None and type(built) is type(module) and built.get_config() == module.get_config():
            return kind.name
    return None
