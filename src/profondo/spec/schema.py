"""The vocabulary of architecture files: layer kinds, their fields, defaults and checks.

A layer entry is a layer kind alone (``- relu``) or a map with exactly one kind key, whose
value holds the fields, plus an optional ``name`` (and, in the graph form, ``inputs``):
``- {name: conv1, conv: {filters: 6, size: 5}}``. Kinds with one main field also take it
bare: ``- dropout: 0.3``, ``- activation: relu``, ``- concat: 1``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..nn.init import SCHEMES


class SpecError(ValueError):
    """A malformed architecture file: the message names the layer, the field, what was expected
    and what was received (and the arithmetic for shape errors)."""


_REQUIRED = object()


@dataclass(frozen=True)
class Field:
    ok: Callable[[Any], bool]
    expected: str
    default: Any = _REQUIRED
    number: bool = False  # a real number: accept the strings PyYAML leaves unparsed (1e-5)


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _positive(v) -> bool:
    return _is_int(v) and v >= 1


def _non_negative(v) -> bool:
    return _is_int(v) and v >= 0


def _pair_of(test: Callable[[Any], bool]) -> Callable[[Any], bool]:
    return lambda v: test(v) or (isinstance(v, (list, tuple)) and len(v) == 2 and all(test(i) for i in v))


def _one_of(*options) -> Callable[[Any], bool]:
    return lambda v: isinstance(v, str) and v in options


def _real(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _number(v):
    """PyYAML reads ``1e-5`` (no dot) as a string: take it as the number it means."""
    if isinstance(v, str):
        try:
            return float(v)
        except ValueError:
            pass
    return v


ACTIVATIONS = ("relu", "relu6", "leaky_relu", "sigmoid", "tanh", "softmax", "log_softmax", "identity")
INITS = tuple(SCHEMES)

_SIZE = "a positive integer or [height, width]"
_activation = Field(lambda v: v is None or _one_of(*ACTIVATIONS)(v), f"null or one of {', '.join(ACTIVATIONS)}", None)
_init = Field(lambda v: v is None or _one_of(*INITS)(v), f"null (PyTorch's default) or one of {', '.join(INITS)}",
              None)
_round = Field(_one_of("exact", "floor"), "exact (the size rule must divide) or floor (PyTorch's rounding)", "exact")
_bias = Field(lambda v: isinstance(v, bool), "true or false", True)
_dim = Field(_is_int, "an integer axis counting the batch axis (1 = channels or features)", 1)
_POSITIVE = "a positive integer"
RECURRENT = ("lstm", "gru", "rnn")
# Recurrent layers (nn.Recurrent): `output` is what the next layer reads, all steps or one summary vector.
_recurrent = {"hidden": Field(_positive, _POSITIVE), "layers": Field(_positive, _POSITIVE, 1),
              "bidirectional": Field(lambda v: isinstance(v, bool), "true or false", False),
              "dropout": Field(lambda v: _real(v) and 0 <= v < 1, "a probability in [0, 1) (between stacked layers)",
                               0.0, True),
              "output": Field(_one_of("last", "sequence", "mean", "max"), "last, sequence, mean or max", "last")}

KINDS: dict[str, dict[str, Field]] = {
    "conv": {"filters": Field(_positive, "a positive integer"), "size": Field(_pair_of(_positive), _SIZE),
             "stride": Field(_pair_of(_positive), _SIZE, 1),
             "pad": Field(_pair_of(_non_negative), "a non-negative integer or [height, width]", 0),
             "dilation": Field(_pair_of(_positive), _SIZE, 1), "groups": Field(_positive, "a positive integer", 1),
             "bias": _bias, "activation": _activation, "init": _init, "round": _round},
    "pool": {"type": Field(_one_of("max", "avg"), "max or avg", "max"), "size": Field(_pair_of(_positive), _SIZE),
             "stride": Field(lambda v: v is None or _pair_of(_positive)(v), f"null (= size) or {_SIZE}", None),
             "pad": Field(_pair_of(_non_negative), "a non-negative integer or [height, width]", 0), "round": _round},
    "dense": {"units": Field(_positive, "a positive integer"), "activation": _activation, "bias": _bias,
              "init": _init},
    "flatten": {},
    "dropout": {"rate": Field(lambda v: _real(v) and 0 <= v < 1, "a probability in [0, 1)", 0.5, True)},
    "batchnorm": {"eps": Field(lambda v: _real(v) and v > 0, "a positive number", 1e-5, True),
                  "momentum": Field(lambda v: _real(v) and 0 <= v <= 1, "a number in [0, 1]", 0.1, True),
                  "affine": Field(lambda v: isinstance(v, bool), "true or false", True)},
    "global_pool": {"type": Field(_one_of("avg"), "avg", "avg")},
    "relu": {}, "relu6": {}, "sigmoid": {}, "tanh": {}, "identity": {},
    "leaky_relu": {"slope": Field(_real, "a number", 0.01, True)},
    "softmax": {"dim": _dim}, "log_softmax": {"dim": _dim},
    "embedding": {"vocab": Field(_positive, _POSITIVE), "dim": Field(_positive, _POSITIVE),
                  "padding_idx": Field(lambda v: v is None or _non_negative(v), "null or a token id in [0, vocab)",
                                       None)},
    "lstm": _recurrent, "gru": _recurrent,
    "rnn": {**_recurrent, "nonlinearity": Field(_one_of("tanh", "relu"), "tanh or relu", "tanh")},
    "add": {},
    "concat": {"axis": Field(_is_int, "an integer axis counting the batch axis (1 = channels)", 1)},
}
# `activation: {type: X, ...}` is the kind X with the remaining fields.
_ACTIVATION_KIND = "activation"
_BARE_FIELD = {"dropout": "rate", "concat": "axis", _ACTIVATION_KIND: "type"}
MERGING = ("add", "concat")  # kinds with several inputs: graph form only
ALL_KINDS = sorted([*KINDS, _ACTIVATION_KIND])


def where(index: int, name: str | None, kind: str | None = None, node: bool = False) -> str:
    """``layer 3 (conv2)``: how errors point at an entry of the file."""
    label = name or kind
    return f"{'node' if node else 'layer'} {index}" + (f" ({label})" if label else "")


def _fields(kind: str, raw: Any, at: str) -> dict[str, Any]:
    """Check the fields of one layer against its kind and fill in the defaults."""
    if raw is None:
        raw = {}
    elif not isinstance(raw, dict):
        if kind not in _BARE_FIELD:
            raise SpecError(f"{at}: expected a map of fields for '{kind}' "
                            f"({', '.join(KINDS[kind]) or 'no fields'}), received {raw!r}")
        raw = {_BARE_FIELD[kind]: raw}
    if kind == _ACTIVATION_KIND:
        raw = dict(raw)
        if "type" not in raw:
            raise SpecError(f"{at}: missing field 'type' of 'activation' (expected one of {', '.join(ACTIVATIONS)})")
        kind = raw.pop("type")
        if kind not in ACTIVATIONS:
            raise SpecError(f"{at}: field 'type' expected one of {', '.join(ACTIVATIONS)}, received {kind!r}")
    schema = KINDS[kind]
    for key in raw:
        if key not in schema:
            valid = ", ".join(schema) if schema else "none"
            raise SpecError(f"{at}: unknown field {key!r} for '{kind}'; valid fields: {valid}")
    params = {}
    for key, field in schema.items():
        if key not in raw:
            if field.default is _REQUIRED:
                raise SpecError(f"{at}: missing field {key!r} of '{kind}' (expected {field.expected})")
            params[key] = field.default
            continue
        value = _number(raw[key]) if field.number else raw[key]
        if not field.ok(value):
            raise SpecError(f"{at}: field {key!r} expected {field.expected}, received {value!r}")
        params[key] = list(value) if isinstance(value, tuple) else value
    return {"kind": kind, **params}


def parse_entry(entry: Any, index: int, node: bool = False) -> tuple[str, str | None, dict, Any]:
    """One entry of ``layers`` (or ``nodes``) -> (kind, name, fields with defaults, inputs or None)."""
    at = where(index, None, node=node)
    if isinstance(entry, str):
        entry = {entry: None}
    if not isinstance(entry, dict):
        raise SpecError(f"{at}: expected a layer kind or a map such as {{conv: {{filters: 16, size: 3}}}}, "
                        f"received {entry!r}")
    extra = ("name", "inputs") if node else ("name",)
    name = entry.get("name")
    if name is not None and (not isinstance(name, str) or not name or "." in name or name == "input"):
        raise SpecError(f"{at}: field 'name' expected a non-empty string without '.' other than 'input', "
                        f"received {name!r}")
    kinds = [k for k in entry if k not in extra]
    at = where(index, name, kinds[0] if len(kinds) == 1 else None, node)
    if len(kinds) != 1:
        what = f"several ({', '.join(map(str, kinds))})" if kinds else "none"
        raise SpecError(f"{at}: expected exactly one layer kind, received {what}; valid kinds: "
                        f"{', '.join(ALL_KINDS)}" + ("" if node else " (and the optional field 'name')"))
    kind = kinds[0]
    if kind == "inputs":
        raise SpecError(f"{at}: field 'inputs' belongs to the graph form (a file with 'nodes:')")
    if kind not in KINDS and kind != _ACTIVATION_KIND:
        raise SpecError(f"{at}: unknown layer kind {kind!r}; valid kinds: {', '.join(ALL_KINDS)}")
    params = _fields(kind, entry[kind], at)
    inputs = entry.get("inputs")
    if inputs is not None:
        inputs = [inputs] if isinstance(inputs, str) else inputs
        if not isinstance(inputs, list) or not inputs or not all(isinstance(i, str) for i in inputs):
            raise SpecError(f"{at}: field 'inputs' expected a list of node names, received {entry['inputs']!r}")
    return params.pop("kind"), name, params, inputs
