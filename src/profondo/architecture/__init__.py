"""Architecture files: networks written as YAML data, built into Modules and written back.

Two forms (see DESIGN.md). A chain of layers::

    name: lenet5
    input: [1, 28, 28]          # per-sample shape: channels, height, width (or [features])
    layers:
      - {name: conv1, conv: {filters: 6, size: 5, pad: 2, activation: relu}}
      - pool: {type: max, size: 2}
      - dense: {units: 10, activation: softmax}

and a named graph for residual or multi-branch networks, whose ``nodes`` name their
``inputs`` (default: the previous node; the network input is ``input``) and whose
``outputs`` list the result nodes::

    nodes:
      - {name: c1, conv: {filters: 16, size: 3, pad: 1}, inputs: [input]}
      - {name: sum, add, inputs: [c1, input]}
    outputs: [sum]

Each layer kind is declared by its layer class in :mod:`profondo.nn` (``file_kinds``, see
:mod:`profondo.nn.vocabulary`); this package only walks files and asks the layers. Layer kinds: conv, pool, dense, flatten, dropout, batchnorm, lrn, global_pool, embedding, lstm, gru,
rnn, activation and the shorthands relu, relu6, leaky_relu, sigmoid, tanh, softmax,
log_softmax, identity; add and concat in graphs. A text network reads token ids::

    input: [400]                # seq_len token ids
    layers:
      - embedding: {vocab: 20002, dim: 64, padding_idx: 0}
      - gru: {hidden: 64, bidirectional: true, output: max}   # or last, mean, sequence
      - dense: {units: 2, activation: softmax}
 Input sizes are inferred from ``input``; a conv or pool layer whose size
rule ``(W - F + 2P)/S + 1`` does not divide is an error unless it says ``round: floor``.

A final softmax (``activation: softmax`` on the last layer) is not built as a module: the
network outputs logits, as ``cross_entropy`` expects, and ``module.spec.output_activation``
records ``"softmax"`` for prediction. ``module.spec`` also keeps the name and input shape,
so :func:`to_dict` writes the file back (``from_dict(to_dict(m))`` rebuilds ``m``'s structure).

>>> net = profondo.architecture.load("net.yaml")    # or loads(text), from_dict(load_dict("net.yaml")), zoo.load("lenet5")
>>> print(profondo.architecture.dumps(net))
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..backend.limits import short_repr
from ..nn import Module
from . import zoo
from .build import Spec, from_dict
from .schema import SpecError
from .write import to_dict

__all__ = ["Spec", "SpecError", "dump", "dumps", "from_dict", "load", "load_dict", "loads", "loads_dict", "to_dict",
           "zoo"]


def _yaml():
    try:
        import yaml
    except ImportError:
        raise ImportError("architecture files need PyYAML: pip install pyyaml (or pip install profondo[yaml])") \
            from None
    return yaml


# Limits on what an architecture file may make the YAML reader do: the zoo's largest file is
# 2 KiB, 5 levels deep and 272 nodes. An alias bomb (`b: &b [*a, *a, ...]`, nine levels) expands
# a few hundred bytes into billions of nodes; deep nesting exhausts Python's stack.
MAX_TEXT_BYTES = 4 * 2**20
MAX_DEPTH = 64
MAX_NODES = 100_000  # nodes after expanding aliases


def _loader(yaml):
    class Loader(yaml.SafeLoader):
        """SafeLoader that refuses nesting deeper than MAX_DEPTH while composing."""

        def __init__(self, stream) -> None:
            super().__init__(stream)
            self.depth = 0

        def compose_node(self, parent, index):
            self.depth += 1
            try:
                if self.depth > MAX_DEPTH:
                    mark = self.peek_event().start_mark
                    raise SpecError(f"line {mark.line + 1}: nested more than {MAX_DEPTH} levels deep")
                return super().compose_node(parent, index)
            finally:
                self.depth -= 1

    return Loader


def _expanded(node, seen: dict[int, tuple[int, int] | None]) -> tuple[int, int]:
    """(nodes, depth) of the YAML graph as if every alias were written out; shared nodes are walked
    once, and a node inside itself (a recursive alias) is refused."""
    key = id(node)
    if key in seen:
        if seen[key] is None:
            raise SpecError(f"line {node.start_mark.line + 1}: an alias refers to a node that contains it")
        return seen[key]
    seen[key] = None
    value = node.value if isinstance(node.value, list) else []
    children = [c for item in value for c in (item if isinstance(item, tuple) else (item,))]
    size, depth = 1, 1
    for child in children:
        n, d = _expanded(child, seen)
        size, depth = size + n, max(depth, d + 1)
        if size > MAX_NODES or depth > MAX_DEPTH:
            break
    seen[key] = (size, depth)
    return size, depth


def _parse(text: str) -> Any:
    yaml = _yaml()
    if len(text) > MAX_TEXT_BYTES:
        raise SpecError(f"an architecture file of {len(text)} characters: expected at most {MAX_TEXT_BYTES}")
    loader = None
    try:
        loader = _loader(yaml)(text)  # its reader already refuses non-printable characters
        node = loader.get_single_node()
        if node is None:
            return None
        size, depth = _expanded(node, {})
        if depth > MAX_DEPTH:
            raise SpecError(f"aliases nest the file more than {MAX_DEPTH} levels deep")
        if size > MAX_NODES:
            raise SpecError(f"the file expands to more than {MAX_NODES} YAML nodes (through aliases such as *name): "
                            "an architecture file lists its layers, it does not multiply them")
        return loader.construct_document(node)
    except yaml.YAMLError as e:
        raise _yaml_error(e) from None
    except RecursionError:
        raise SpecError(f"nested too deeply for the YAML reader (at most {MAX_DEPTH} levels)") from None
    finally:
        if loader is not None:
            loader.dispose()


def _yaml_error(e) -> SpecError:
    """``not valid YAML at line 2, column 9: while parsing a flow sequence, expected ',' or ']'``: the
    reader's own words, at the place it stopped (``error.line``, ``error.column``: 1-based, or None)."""
    mark = getattr(e, "problem_mark", None) or getattr(e, "context_mark", None)
    words = [w for w in (getattr(e, "context", None), getattr(e, "problem", None)) if w]
    what = ", ".join(dict.fromkeys(words)) if words else str(e).splitlines()[0] if str(e) else type(e).__name__
    at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    what = what if len(what) <= 200 else what[:200] + "..."  # the reader quotes the file: keep it short
    error = SpecError(f"not valid YAML{at}: {what}")
    error.line, error.column = (mark.line + 1, mark.column + 1) if mark is not None else (None, None)
    return error


def loads_dict(text: str) -> Any:
    """The YAML text of an architecture file parsed under the reader's limits, unbuilt (the text
    itself, never a path: ``load_dict`` reads a file when given one); :func:`from_dict` builds it."""
    return _parse(text)


def loads(text: str) -> Module:
    """Build the network described by YAML text. ``loads("input: [4]\\nlayers: [{dense: {units: 2}}]")``"""
    return from_dict(_parse(text))


def _source(path_or_text: str | os.PathLike) -> tuple[str, Path | None]:
    """(YAML text, its file or None): a path when it names a file, else the text itself."""
    text = str(path_or_text)
    if isinstance(path_or_text, os.PathLike) or ("\n" not in text and Path(text).is_file()):
        return _read_text(Path(path_or_text)), Path(path_or_text)
    if "\n" not in text and text.endswith((".yaml", ".yml")):
        raise FileNotFoundError(f"no architecture file at {text!r}")
    return text, None


def _read_text(path: Path) -> str:
    size = path.stat().st_size
    if size > MAX_TEXT_BYTES:
        raise SpecError(f"{path}: an architecture file of {size} bytes: expected at most {MAX_TEXT_BYTES}")
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise SpecError(f"{path}: line {line}: byte {data[e.start:e.start + 1]!r} is not UTF-8 text: an architecture "
                        "file is YAML text in UTF-8") from None


def load_dict(path_or_text: str | os.PathLike) -> dict[str, Any]:
    """The architecture file (a path, or YAML text) as a dict, unbuilt; :func:`from_dict` builds it."""
    text, path = _source(path_or_text)
    try:
        return _parse(text)
    except SpecError as e:
        raise SpecError(f"{path}: {e}" if path else str(e)) from None


def load(path_or_text: str | os.PathLike) -> Module:
    """Build the network of an architecture file (a path), or of YAML text given directly.

    >>> net = load("examples/lenet5.yaml")
    """
    text, path = _source(path_or_text)
    try:
        return loads(text)
    except SpecError as e:
        raise SpecError(f"{path}: {e}" if path else str(e)) from None


class _FlowDumper:
    """A YAML dumper that writes each layer on one line (flow style) inside block lists."""

    _cls = None

    @classmethod
    def get(cls):
        if cls._cls is None:
            yaml = _yaml()

            class Dumper(yaml.SafeDumper):
                pass

            def represent_flow(dumper, data):
                return dumper.represent_mapping("tag:yaml.org,2002:map", data, flow_style=True)

            Dumper.add_representer(_Flow, represent_flow)
            cls._cls = Dumper
        return cls._cls


class _Flow(dict):
    pass


def dumps(module: Module, input_shape: tuple[int, ...] | None = None) -> str:
    """The architecture file of ``module`` as YAML text, one layer a line.

    >>> print(dumps(zoo.load("lenet5")))
    name: lenet5
    input: [1, 28, 28]
    layers:
    - {name: conv1, conv: {filters: 6, size: 5, pad: 2, activation: relu}}
    ...
    """
    d: dict[str, Any] = to_dict(module, input_shape)
    body = "layers" if "layers" in d else "nodes"
    d[body] = [_Flow(e) if isinstance(e, dict) else e for e in d[body]]
    return _yaml().dump(d, Dumper=_FlowDumper.get(), sort_keys=False, default_flow_style=None, width=120)


def dump(module: Module, path: str | os.PathLike, input_shape: tuple[int, ...] | None = None) -> Path:
    """Write ``module``'s architecture file to ``path`` (YAML); returns the path."""
    path = Path(path)
    path.write_text(dumps(module, input_shape))
    return path
