"""The vocabulary of architecture files: layer kinds, their fields, defaults and checks.

A layer entry is a layer kind alone (``- relu``) or a map with exactly one kind key, whose
value holds the fields, plus an optional ``name`` (and, in the graph form, ``inputs``):
``- {name: conv1, conv: {filters: 6, size: 5}}``. Kinds with one main field also take it
bare: ``- dropout: 0.3``, ``- activation: relu``, ``- concat: 1``.
"""

from __future__ import annotations

from typing import Any

from ..backend.limits import short_repr
from ..nn.activation import ACTIVATIONS
from ..nn.init import SCHEMES
from ..nn.module import Module
from ..nn.vocabulary import REQUIRED as _REQUIRED
from ..nn.vocabulary import Field, FileKind, SpecError, number

__all__ = ["ACTIVATIONS", "Field", "FileKind", "INITS", "RECURRENT", "SpecError", "all_kinds", "merging",
           "file_kinds", "parse_entry", "where"]

INITS = tuple(SCHEMES)
RECURRENT = ("lstm", "gru", "rnn")
# `activation: {type: X, ...}` is the kind X with the remaining fields.
_ACTIVATION_KIND = "activation"
_ACTIVATION_BARE = "type"


def file_kinds() -> dict[str, FileKind]:
    """Every layer kind of architecture files, from the ``file_kinds`` the Module classes declare
    (in the order the classes were defined); a class defined later joins at once."""
    kinds: dict[str, FileKind] = {}
    owner: dict[str, type] = {}
    for cls in Module._registry.values():
        for kind in cls.__dict__.get("file_kinds", ()):
            if kinds.setdefault(kind.name, kind) is not kind:
                raise TypeError(f"{cls.__name__} and {owner[kind.name].__name__} both declare the architecture-file "
                                f"kind {kind.name!r}: one kind, one declaration (share the FileKind object)")
            owner.setdefault(kind.name, cls)
    return kinds


def all_kinds() -> list[str]:
    """The kind names an entry may use, sorted (as errors list them)."""
    return sorted([*file_kinds(), _ACTIVATION_KIND])


def merging() -> tuple[str, ...]:
    """Kinds with several inputs: graph form only."""
    return tuple(name for name, kind in file_kinds().items() if kind.merging)


def __getattr__(name: str) -> Any:
    # The tables of earlier versions, now computed from the layers' declarations.
    if name == "KINDS":
        return {k: kind.fields for k, kind in file_kinds().items()}
    if name == "ALL_KINDS":
        return all_kinds()
    if name == "MERGING":
        return merging()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def where(index: int, name: str | None, kind: str | None = None, node: bool = False) -> str:
    """``layer 3 (conv2)``: how errors point at an entry of the file."""
    label = name or kind
    return f"{'node' if node else 'layer'} {index}" + (f" ({label})" if label else "")


def _fields(kind: str, raw: Any, at: str, kinds: dict[str, FileKind]) -> dict[str, Any]:
    """Check the fields of one layer against its kind and fill in the defaults."""
    if raw is None:
        raw = {}
    elif not isinstance(raw, dict):
        bare = _ACTIVATION_BARE if kind == _ACTIVATION_KIND else kinds[kind].bare_field
        if bare is None:
            raise SpecError(f"{at}: expected a map of fields for '{kind}' "
                            f"({', '.join(kinds[kind].fields) or 'no fields'}), received {short_repr(raw)}")
        raw = {bare: raw}
    if kind == _ACTIVATION_KIND:
        raw = dict(raw)
        if "type" not in raw:
            raise SpecError(f"{at}: missing field 'type' of 'activation' (expected one of {', '.join(ACTIVATIONS)})")
        kind = raw.pop("type")
        if kind not in ACTIVATIONS:
            raise SpecError(f"{at}: field 'type' expected one of {', '.join(ACTIVATIONS)}, received {short_repr(kind)}")
    schema = kinds[kind].fields
    for key in raw:
        if key not in schema:
            valid = ", ".join(schema) if schema else "none"
            raise SpecError(f"{at}: unknown field {short_repr(key)} for '{kind}'; valid fields: {valid}")
    params = {}
    for key, field in schema.items():
        if key not in raw:
            if field.default is _REQUIRED:
                raise SpecError(f"{at}: missing field {short_repr(key)} of '{kind}' (expected {field.expected})")
            params[key] = field.default
            continue
        value = number(raw[key]) if field.number else raw[key]
        if not field.ok(value):
            raise SpecError(f"{at}: field {short_repr(key)} expected {field.expected}, received {short_repr(value)}")
        params[key] = list(value) if isinstance(value, tuple) else value
    return {"kind": kind, **params}


def parse_entry(entry: Any, index: int, node: bool = False) -> tuple[str, str | None, dict, Any]:
    """One entry of ``layers`` (or ``nodes``) -> (kind, name, fields with defaults, inputs or None)."""
    at = where(index, None, node=node)
    if isinstance(entry, str):
        entry = {entry: None}
    if not isinstance(entry, dict):
        raise SpecError(f"{at}: expected a layer kind or a map such as {{conv: {{filters: 16, size: 3}}}}, "
                        f"received {short_repr(entry)}")
    extra = ("name", "inputs") if node else ("name",)
    name = entry.get("name")
    if name is not None and (not isinstance(name, str) or not name or "." in name or name == "input"):
        raise SpecError(f"{at}: field 'name' expected a non-empty string without '.' other than 'input', "
                        f"received {short_repr(name)}")
    keys = [k for k in entry if k not in extra]
    at = where(index, name, keys[0] if len(keys) == 1 else None, node)
    kinds = file_kinds()
    if len(keys) != 1:
        what = f"several ({', '.join(map(str, keys))})" if keys else "none"
        raise SpecError(f"{at}: expected exactly one layer kind, received {what}; valid kinds: "
                        f"{', '.join(all_kinds())}" + ("" if node else " (and the optional field 'name')"))
    kind = keys[0]
    if kind == "inputs":
        raise SpecError(f"{at}: field 'inputs' belongs to the graph form (a file with 'nodes:')")
    if kind not in kinds and kind != _ACTIVATION_KIND:
        raise SpecError(f"{at}: unknown layer kind {short_repr(kind)}; valid kinds: {', '.join(all_kinds())}")
    params = _fields(kind, entry[kind], at, kinds)
    inputs = entry.get("inputs")
    if inputs is not None:
        inputs = [inputs] if isinstance(inputs, str) else inputs
        if not isinstance(inputs, list) or not inputs or not all(isinstance(i, str) for i in inputs):
            raise SpecError(f"{at}: field 'inputs' expected a list of node names, received {short_repr(entry['inputs'])}")
    return params.pop("kind"), name, params, inputs
