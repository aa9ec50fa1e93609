"""The words architecture files use for layers, declared by the layers themselves.

A layer class that can appear in a file lists its kinds in ``file_kinds`` (a tuple of
:class:`FileKind`, in the class body, so a subclass does not inherit the form by accident) and
writes an instance back with ``file_entry``. A kind holds its fields (checks, defaults and the
text errors show as expected), how an entry becomes modules, and whether the ``activation:``
field of conv and dense layers may name it. The file reader and writer
(:mod:`profondo.architecture`) only walk entries and ask the kinds.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .module import Module

Shape = tuple[int, ...]
# A file entry's fields (defaults filled in), the shapes its inputs have, and where it is (for
# errors) -> its modules as (suffix, module); the suffix "" marks the main module.
Builder = Callable[[dict[str, Any], list[Shape], str], list[tuple[str, "Module"]]]


class SpecError(ValueError):
    """A malformed architecture file: the message names the layer, the field, what was expected
    and what was received (and the arithmetic for shape errors)."""


REQUIRED = object()
# Why Sequential and Graph have no entry form: they are the structure of a file, not an entry of one.
CONTAINER_FILE_FORM = "a container is the file itself: its children are the file's layers or nodes"


@dataclass(frozen=True)
class Field:
    """One field of a layer kind: its check, the expected value in words, and its default."""

    ok: Callable[[Any], bool]
    expected: str
    default: Any = REQUIRED
    number: bool = False  # a real number: accept the strings PyYAML leaves unparsed (1e-5)


@dataclass(frozen=True)
class FileKind:
    """A layer kind of architecture files (``conv``, ``dense``, ...).

    ``bare_field`` is the field an entry may give bare (``- dropout: 0.3``); ``merging`` kinds
    join several inputs (graph form only); ``reads_token_ids`` kinds read the network input
    itself; ``activation`` builds the module that ``activation: <name>`` on a conv or dense layer
    appends (None for a kind that cannot be named there; returning None appends nothing);
    ``always_written`` fields are written even at their default value.
    """

    name: str
    fields: dict[str, Field]
    build: Builder
    bare_field: str | None = None
    merging: bool = False
    reads_token_ids: bool = False
    activation: Callable[[], Module | None] | None = None
    always_written: tuple[str, ...] = ()


class Check:
    """A field's test, ``check(value) -> bool``, with the JSON Schema that says the same to an editor
    (the published schema of architecture files is generated from these)."""

    __slots__ = ("test", "schema")

    def __init__(self, test: Callable[[Any], bool], schema: dict[str, Any]) -> None:
        self.test, self.schema = test, schema

    def __call__(self, v: Any) -> bool:
        return self.test(v)


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _real(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


is_int = Check(_is_int, {"type": "integer"})
positive = Check(lambda v: _is_int(v) and v >= 1, {"type": "integer", "minimum": 1})
non_negative = Check(lambda v: _is_int(v) and v >= 0, {"type": "integer", "minimum": 0})
real = Check(_real, {"type": "number"})
boolean = Check(lambda v: isinstance(v, bool), {"type": "boolean"})


def pair_of(test: Check) -> Check:
    """A value ``test`` accepts, or a [height, width] pair of them."""
    return Check(lambda v: test(v) or (isinstance(v, (list, tuple)) and len(v) == 2 and all(test(i) for i in v)),
                 {"oneOf": [test.schema, {"type": "array", "items": test.schema, "minItems": 2, "maxItems": 2}]})


def one_of(*options: str) -> Check:
    return Check(lambda v: isinstance(v, str) and v in options, {"enum": list(options)})


def number_in(low: float, high: float | None = None, high_open: bool = False, low_open: bool = False) -> Check:
    """A real number in [low, high] (``*_open``: that end excluded; ``high=None``: no upper end)."""
    def test(v: Any) -> bool:
        return (_real(v) and (v > low if low_open else v >= low)
                and (high is None or (v < high if high_open else v <= high)))

    schema: dict[str, Any] = {"type": "number", ("exclusiveMinimum" if low_open else "minimum"): low}
    if high is not None:
        schema["exclusiveMaximum" if high_open else "maximum"] = high
    return Check(test, schema)


def optional(test: Check) -> Check:
    """null, or a value ``test`` accepts."""
    return Check(lambda v: v is None or test(v), {"oneOf": [{"type": "null"}, test.schema]})


def number(v: Any) -> Any:
    """PyYAML reads ``1e-5`` (no dot) as a string: take it as the number it means."""
    if isinstance(v, str):
        try:
            return float(v)
        except ValueError:
            pass
    return v


POSITIVE = "a positive integer"
SIZE = "a positive integer or [height, width]"
PAD = "a non-negative integer or [height, width]"
BOOLEAN = "true or false"
ROUND = Field(one_of("exact", "floor"), "exact (the size rule must divide) or floor (PyTorch's rounding)", "exact")
BIAS = Field(boolean, BOOLEAN, True)


def pair(v: Any) -> tuple[int, int]:
    """3 -> (3, 3); [3, 5] -> (3, 5)."""
    return (v, v) if isinstance(v, int) else tuple(v)


def short(v: Any) -> int | list[int]:
    """(3, 3) -> 3: write a pair of equal sizes as one number."""
    v = pair(v)
    return v[0] if v[0] == v[1] else list(v)


def as_argument(v: Any) -> int | tuple[int, ...]:
    """A size as the layer constructors take it: an int stays an int."""
    return v if isinstance(v, int) else tuple(v)


def size_rule(at: str, axis: str, n: int, kernel: int, stride: int, pad: int, dilation: int, rounding: str) -> int:
    """``W_out = (W_in - F + 2P)/S + 1``, an error showing the arithmetic unless it divides (or
    ``rounding == "floor"``). ``size_rule("layer 3 (conv2)", "W", 16, 5, 1, 2, 1, "exact") == 16``"""
    span = dilation * (kernel - 1) + 1
    numerator = n - span + 2 * pad
    arithmetic = f"{at}: {axis}_out = ({n} - {span} + 2*{pad})/{stride} + 1 = {numerator / stride + 1:g}"
    if numerator < 0:
        raise SpecError(f"{arithmetic}: the window ({span}) is larger than the padded input ({n + 2 * pad})")
    if numerator % stride and rounding == "exact":
        raise SpecError(f"{arithmetic} is not an integer: change size, stride or pad, or add `round: floor` to "
                        f"the layer to take {numerator // stride + 1} as PyTorch does")
    return numerator // stride + 1


def rounding(shape: Shape, kernel: Any, stride: Any, pad: Any, dilation: Any = 1) -> str:
    """The ``round`` field that rebuilds a window layer at this input: "floor" when the size rule
    does not divide."""
    kernel, stride, pad, dilation = pair(kernel), pair(stride), pair(pad), pair(dilation)
    inexact = any((shape[1 + i] - dilation[i] * (kernel[i] - 1) - 1 + 2 * pad[i]) % stride[i] for i in range(2))
    return "floor" if inexact else "exact"


def expect_volume(kind: str, shape: Shape, at: str) -> None:
    if len(shape) != 3:
        raise SpecError(f"{at}: '{kind}' expects an input volume [channels, height, width], received {list(shape)}")


def single(module: Module) -> list[tuple[str, Module]]:
    """The modules of an entry that becomes one module."""
    return [("", module)]
