"""Live checking of architecture text as it is typed: profondo's own errors, placed on their line.

:func:`validate_architecture_text` never raises: whatever the text (not YAML, an unknown layer
kind, a size that does not fit, an alias bomb, 100 MB of it), it returns a verdict, the errors
with a line and column where one can be found, and the drawing of the network when it builds::

    >>> check = validate_architecture_text("input: [1, 4, 4]\\nlayers:\\n  - conv: {filters: 2, size: 5}\\n")
    >>> check["ok"], check["errors"][0]["line"], check["errors"][0]["message"]
    (False, 3, 'layer 0 (conv): H_out = (4 - 5 + 2*0)/1 + 1 = 0: the window (5) is larger than the padded input (4)')

The messages are those ``profondo.architecture`` raises (size errors show the size rule's
arithmetic); only the place is added here, found by reading the same text with the YAML
reader's positions. The text is read under the limits of :mod:`profondo.architecture` (size,
nesting, alias expansion) and the network built within :data:`BUILD_BUDGET` bytes (or
:mod:`profondo.backend.limits`'s cap, when lower).
"""

from __future__ import annotations

import copy
import re
import threading
from functools import lru_cache
from typing import Any

__all__ = ["validate_architecture_text"]

_INDEXED = re.compile(r"^(layer|node) (\d+)\b")
_FIELD = re.compile(r"field '([^']+)'")
_TOP_FIELD = re.compile(r"^(?:unknown top-level field|field|missing field) '([^']+)'")
_LINE = re.compile(r"\bline (\d+)\b")
CACHED_TEXT = 2**18  # texts up to this many characters have their verdict remembered
# A check builds the network (the counts come from its modules): a file may make it allocate this
# much at most, below the cap for files (VGG-16, 138 million weights, builds within 1 GiB).
BUILD_BUDGET = 2 * 2**30
_BUILDING = threading.Lock()


def _error(message: str, line: int | None = None, column: int | None = None) -> dict:
    return {"line": line, "column": column, "message": message}


def _compose(text: str):
    """The YAML node tree of text that parsed (positions of every key and entry), or None."""
    try:
        import yaml

        return yaml.compose(text, Loader=yaml.SafeLoader)  # bounded: the text passed the reader's limits
    except Exception:  # the text parsed once already; a second reader's complaint changes nothing
        return None


def _key(mapping, name: str):
    """(key node, value node) of ``name`` in a YAML mapping node, or None."""
    import yaml

    if not isinstance(mapping, yaml.MappingNode):
        return None
    for key, value in mapping.value:
        if isinstance(key, yaml.ScalarNode) and key.value == name:
            return key, value
    return None


def _find_field(node, name: str, depth: int = 0):
    """The key node ``name`` inside a layer entry (the entry itself, or its kind's fields)."""
    import yaml

    found = _key(node, name)
    if found:
        return found[0]
    if depth < 2 and isinstance(node, yaml.MappingNode):
        for _, value in node.value:
            inner = _find_field(value, name, depth + 1)
            if inner is not None:
                return inner
    return None


def _place(message: str, root) -> tuple[int | None, int | None]:
    """The line and column (1-based) that ``message`` is about, from the node tree."""
    at = _mark_of(message, root) if root is not None else None
    if at is not None:
        return at.line + 1, at.column + 1
    found = _LINE.search(message)  # the reader's limits name a line in their own words
    return (int(found.group(1)), None) if found else (None, None)


def _mark_of(message: str, root):
    import yaml

    indexed = _INDEXED.match(message)
    if indexed:
        body = _key(root, "nodes" if indexed.group(1) == "node" else "layers")
        if body is None or not isinstance(body[1], yaml.SequenceNode):
            return None
        entries = body[1].value
        index = int(indexed.group(2))
        if index >= len(entries):
            return body[0].start_mark
        entry = entries[index]
        field = _FIELD.search(message)
        if field and "missing field" not in message:
            key = _find_field(entry, field.group(1))
            if key is not None:
                return key.start_mark
        unknown = re.search(r"unknown (?:input|layer kind) '([^']+)'", message)
        if unknown:
            for node in _scalars(entry):
                if node.value == unknown.group(1):
                    return node.start_mark
        return entry.start_mark
    top = _TOP_FIELD.match(message)
    if top:
        found = _key(root, top.group(1))
        return found[0].start_mark if found else None
    if message.startswith("nodes:"):
        found = _key(root, "nodes")
        return found[0].start_mark if found else None
    return None


def _scalars(node, depth: int = 0):
    import yaml

    if isinstance(node, yaml.ScalarNode):
        yield node
    elif depth < 4 and isinstance(node, (yaml.MappingNode, yaml.SequenceNode)):
        for item in node.value:
            for child in (item if isinstance(item, tuple) else (item,)):
                yield from _scalars(child, depth + 1)


def _check_shape(input_shape: Any) -> tuple[int, ...] | None:
    if input_shape is None:
        return None
    shape = tuple(input_shape)
    if not shape or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 1 for s in shape):
        raise ValueError(f"input_shape expected positive integers such as (3, 32, 32), received {input_shape!r}")
    return shape


@lru_cache(maxsize=16)
def _validate(text: str, input_shape: tuple[int, ...] | None) -> dict:
    from ..architecture import MAX_TEXT_BYTES, SpecError, from_dict, loads_dict
    from ..backend.limits import limited_growth
    from .drawing import network_layout

    if len(text) > MAX_TEXT_BYTES:
        return {"ok": False, "layout": None, "errors": [_error(
            f"an architecture file of {len(text):,} characters: expected at most {MAX_TEXT_BYTES:,}")]}
    try:
        d = loads_dict(text)
    except SpecError as e:
        line, column = getattr(e, "line", None), getattr(e, "column", None)
        if line is None:
            line, column = _place(str(e), None)
        return {"ok": False, "layout": None, "errors": [_error(str(e), line, column)]}
    if input_shape is not None and isinstance(d, dict):
        d = {**d, "input": list(input_shape)}
    try:
        # One build at a time: the budget lowers the whole process's address-space limit while it lasts,
        # so two checks in two threads (a server's) must not overlap.
        with _BUILDING, limited_growth("the network's weights", budget=BUILD_BUDGET):
            module = from_dict(d)
    except SpecError as e:
        line, column = _place(str(e), _compose(text))
        return {"ok": False, "layout": None, "errors": [_error(str(e), line, column)]}
    try:
        layout = network_layout(module)
    except Exception as e:  # it builds: a drawing that fails says so without failing the check
        return {"ok": True, "layout": None, "errors": [],
                "warnings": [_error(f"the network builds, but it cannot be drawn: {e}")]}
    return {"ok": True, "errors": [], "layout": layout}


def validate_architecture_text(text: str, input_shape: tuple[int, ...] | None = None) -> dict:
    """Check architecture-file text (YAML) without raising: ``{"ok": bool, "errors": [{"line",
    "column", "message"}], "layout": network_layout(...) or None}`` (lines and columns 1-based, or
    None where the error has no one place, such as a missing field). ``input_shape`` builds the
    network at another per-sample input than the file's. A drawing that fails (the network
    builds) leaves ``ok`` true and adds ``"warnings"``. The last few verdicts are remembered, so a
    page that asks again for the same text gets its answer at once."""
    try:
        if not isinstance(text, str):
            return {"ok": False, "layout": None, "errors": [_error(
                f"expected the architecture file as text (str), received {type(text).__name__}")]}
        shape = _check_shape(input_shape)
        if len(text) > CACHED_TEXT:
            return _validate.__wrapped__(text, shape)
        return copy.deepcopy(_validate(text, shape))  # the caller may change its copy
    except RecursionError:
        return {"ok": False, "layout": None, "errors": [_error("the architecture is nested too deeply to read")]}
    except MemoryError:
        return {"ok": False, "layout": None, "errors": [_error("the architecture needs more memory than there is")]}
    except Exception as e:  # never raise: a page shows the message instead
        return {"ok": False, "layout": None, "errors": [_error(str(e) or type(e).__name__)]}
