"""Attribute checks: every attribute of every node against what its converter reads, before
anything is built or run (the node, the attribute and its value named in the error)."""

from __future__ import annotations

from .context import Context, UnsupportedOperatorError, node_attrs, where
from .converters import CONVERTERS

# Activations ONNX's LSTM/GRU use when a node names none: the only ones the importer computes.
_DEFAULT_ACTIVATIONS = {"LSTM": ["Sigmoid", "Tanh", "Tanh"], "GRU": ["Sigmoid", "Tanh"]}


def problems(ctx: Context, node, attrs: dict) -> list[str]:
    """What in ``node``'s attributes the importer does not support, one line each."""
    entry = CONVERTERS.get(node.op_type)
    if entry is None or entry.attrs is None:
        return []
    found = []
    for name, value in attrs.items():
        if name not in entry.attrs:
            found.append(f"attribute {name}={value!r} is not supported (supported: {sorted(entry.attrs) or 'none'})")
            continue
        allowed = entry.attrs[name]
        if allowed is not None and value not in allowed:
            found.append(f"{name}={value!r} is not supported (supported: {', '.join(map(repr, allowed))})")
    if node.op_type in _DEFAULT_ACTIVATIONS and "activations" in attrs:
        default = _DEFAULT_ACTIVATIONS[node.op_type]
        dirs = 2 if attrs.get("direction") == "bidirectional" else 1
        if [a.capitalize() if a.islower() else a for a in attrs["activations"]] != default * dirs:
            found.append(f"activations={attrs['activations']!r} is not supported (only ONNX's default {default})")
    if node.op_type in _DEFAULT_ACTIVATIONS and ("activation_alpha" in attrs or "activation_beta" in attrs):
        found.append("activation_alpha/activation_beta are not supported (default activations only)")
    if node.op_type in ("Conv", "ConvTranspose"):
        w = ctx.const(node.input[1]) if len(node.input) > 1 else None
        rank = w.ndim if w is not None else ctx.rank(node.input[1]) if len(node.input) > 1 else None
        if rank is not None and rank not in (3, 4):
            found.append(f"a {rank - 2}-D convolution (weight of rank {rank}) is not supported (1-D and 2-D are)")
    if node.op_type == "Resize" and ctx.opset < 11:
        found.append(f"opset {ctx.opset}'s Resize (X, scales) is not supported (opset 11 and later are)")
    return found


def check_graph(ctx: Context, graph) -> None:
    """Raise :class:`UnsupportedOperatorError` listing every unsupported attribute form at once."""
    lines = []
    for node in graph.node:
        for p in problems(ctx, node, node_attrs(node)):
            lines.append(f"{where(node)}: {p}")
    if lines:
        raise UnsupportedOperatorError(f"ONNX import: {len(lines)} unsupported attribute form(s): " + "; ".join(lines))
