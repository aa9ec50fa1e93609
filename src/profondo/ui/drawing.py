"""Drawings of a network as the lecture draws it: each volume a W x H x depth box, the kernel a
small box on the volume it reads, and under each layer its neurons, connections, weights and MACs.

One geometry, two renderers. :func:`network_layout` turns a network into JSON-able data (the
shapes and counts are :func:`profondo.analysis.analyze`'s rows, never counted again here, plus
the box of each layer, its kernel and the receptive field of one of its neurons on the input);
:func:`render_svg` and the PNG writer of :func:`save_drawing` both draw the same list of
primitives made from that layout::

    layout = network_layout("lenet5")
    save_drawing(layout, "lenet5.svg")          # or .png (needs matplotlib)

Sizes are to scale: a 28x28 map is drawn twice as wide as a 14x14 one. When the sizes of one
network span more than :data:`LOG_RANGE` (VGG-16: 224x224 down to 7x7, 3 to 512 channels), a
linear scale would shrink the small ones to nothing, so that dimension is drawn on a log scale
instead, and ``layout["scale"]`` says which.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

__all__ = ["LOG_RANGE", "network_layout", "png_figure", "render_svg", "save_drawing"]

LOG_RANGE = 20.0  # largest/smallest size of one dimension beyond which it is drawn on a log scale
SPATIAL_PX = (6.0, 150.0)  # drawn height/width of the smallest and largest map side (log scale)
DEPTH_PX = (3.0, 90.0)  # drawn depth of the thinnest and deepest volume (before the oblique factor)
FEATURES_PX = (8.0, 220.0)  # drawn height of the shortest and longest vector
OBLIQUE = (0.55, 0.40)  # the depth axis recedes up and to the right: (dx, dy) per unit of depth
VECTOR_WIDTH, VECTOR_DEPTH = 12.0, 8.0
GAP = 34.0  # horizontal space between two boxes
MARGIN = 20.0
LINE = 13.0  # height of a line of text
TOP_TEXT, BOTTOM_TEXT = 2 * LINE + 6, 7 * LINE  # above a box: name and shape; below: up to 6 lines

_COLOURS = {"input": "#d9d9d9", "conv": "#9ecae1", "pool": "#fdd0a2", "dense": "#a1d99b", "recurrent": "#bcbddc",
            "embedding": "#fcbba1", "merge": "#fee391", "other": "#e0e0e0"}


# --- the layout -------------------------------------------------------------------------------------------

def _module_of(source: Any, input_shape: tuple[int, ...] | None):
    """A built Module from a Module, a file path, a zoo name or YAML text; a file is built at
    ``input_shape`` when one is given (its dense layers sized for it), a Module is analysed at it."""
    from .. import architecture
    from ..architecture import zoo
    from ..nn import Module

    if isinstance(source, Module):
        return source
    if isinstance(source, str) and "\n" not in source and not Path(source).is_file():
        if source in zoo.names():
            source = zoo.path(source)
        elif ":" not in source:
            raise ValueError(f"no architecture file {source!r}, and no zoo model of that name (zoo: "
                             f"{', '.join(zoo.names())})")
    if not isinstance(source, (str, os.PathLike)):
        raise TypeError(f"network_layout: expected an architecture file path, a zoo name, YAML text or a Module, "
                        f"received {type(source).__name__}")
    d = architecture.load_dict(source)
    if input_shape is not None and isinstance(d, dict):
        d = {**d, "input": [int(s) for s in input_shape]}
    return architecture.from_dict(d)


def _pair(value: Any) -> list[int]:
    return [int(v) for v in value] if isinstance(value, (tuple, list)) else [int(value)] * 2


def _role(shape: tuple, neurons: int, is_input: bool = False) -> str:
    """How a row is drawn: a box ("volume" C,H,W; "sequence" L,D; "vector" N), or as an operation
    on the box before it ("op": element-wise and reshaping layers, which add no neurons)."""
    if not is_input and neurons == 0:
        return "op"
    return {3: "volume", 2: "sequence"}.get(len(shape), "vector")


def _family(module: Any, kind: str) -> str:
    """The colour group of a layer: conv, pool, dense, recurrent, embedding, merge, input, other."""
    from .. import nn

    if module is None:
        return "input" if kind == "Input" else "other"
    if isinstance(module, nn.Conv2d):
        return "conv"
    if "Pool" in type(module).__name__:
        return "pool"
    if isinstance(module, nn.Linear):
        return "dense"
    if isinstance(module, nn.Embedding):
        return "embedding"
    if isinstance(module, nn.Recurrent) or any(c in kind for c in ("LSTM", "GRU", "RNN")):
        return "recurrent"
    return "merge" if type(module).__name__ in ("Add", "Concat") else "other"


def _label(shape: tuple) -> str:
    """``6@28x28`` for a volume (depth @ height x width), ``400x64`` for a sequence, ``120`` for a vector."""
    if len(shape) == 3:
        return f"{shape[0]}@{shape[1]}x{shape[2]}"
    return "x".join(str(s) for s in shape)


def _kernel(module: Any) -> dict | None:
    """The window of a convolution or pooling layer: size, stride, padding, dilation (height, width)."""
    size = getattr(module, "kernel_size", None)
    if size is None or not hasattr(module, "stride"):
        return None
    return {"size": _pair(size), "stride": _pair(module.stride), "padding": _pair(getattr(module, "padding", 0)),
            "dilation": _pair(getattr(module, "dilation", 1))}


class _Scale:
    """Sizes of one dimension -> drawn lengths: linear, or logarithmic when the range is large."""

    def __init__(self, values: list[int], px: tuple[float, float]) -> None:
        values = [v for v in values if v > 0] or [1]
        self.low, self.high = min(values), max(values)
        self.log = self.high / self.low > LOG_RANGE
        self.px = px

    @property
    def name(self) -> str:
        return "log" if self.log else "linear"

    def __call__(self, n: int) -> float:
        small, large = self.px
        if self.log:
            span = math.log(self.high / self.low)
            return small + (large - small) * math.log(max(n, self.low) / self.low) / span
        return max(large * n / self.high, small / 2)


def _receptive(rows: list[dict], by_name: dict[str, dict], input_shape: tuple) -> None:
    """The receptive field of one neuron of each layer on the input (height, width): through a
    window layer r_out = r_in + (F_eff - 1) * j_in and j_out = j_in * S; dense and global layers
    see the whole input; capped at the input's size (a padded window reads zeros beyond it)."""
    full = [int(input_shape[1]), int(input_shape[2])] if len(input_shape) == 3 else None
    for row in rows:
        if row["name"] == "input":
            row["_rf"], row["_jump"] = ([1, 1], [1, 1]) if full else (None, None)
            continue
        ins = [by_name[i] for i in row["_inputs"] if i in by_name]
        rf = None if any(i["_rf"] is None for i in ins) or not ins else \
            [max(i["_rf"][a] for i in ins) for a in (0, 1)]
        jump = None if rf is None else [max(i["_jump"][a] for i in ins) for a in (0, 1)]
        k = row["kernel"]
        if rf is not None and k is not None:
            span = [k["dilation"][a] * (k["size"][a] - 1) + 1 for a in (0, 1)]
            rf = [rf[a] + (span[a] - 1) * jump[a] for a in (0, 1)]
            jump = [jump[a] * k["stride"][a] for a in (0, 1)]
        elif rf is not None and row["role"] != "op" and len(row["shape"]) != 3:
            rf = list(full)  # a dense layer or a global pooling reads every position
        elif rf is not None and len(row["shape"]) == 3 and len(ins[0]["shape"]) == 3:
            # no window, a new size (upsampling): neighbours of the output are closer on the input
            jump = [jump[a] * ins[0]["shape"][1 + a] / row["shape"][1 + a] for a in (0, 1)]
        if rf is not None:
            rf = [min(rf[a], full[a]) for a in (0, 1)]
        row["_rf"], row["_jump"] = rf, jump
    for row in rows:  # in whole input pixels: a window that reaches into a pixel sees it
        row["receptive_field"] = None if row["_rf"] is None else [math.ceil(v - 1e-9) for v in row["_rf"]]


def network_layout(source: Any, input_shape: tuple[int, ...] | None = None) -> dict:
    """The drawing of a network as data (JSON-able): ``source`` is an architecture file path, a zoo
    name (``"lenet5"``), YAML text or a built Module; ``input_shape`` the per-sample input (default:
    the file's; a file is built at it, so its dense layers take the sizes it leads to).

    Returns ``{"name", "input_shape", "output_shape", "scale", "width", "height", "layers", "edges",
    "totals"}``. ``layers`` holds the input, then every row of :func:`profondo.analysis.analyze` in
    its order, each with ``name, kind, family, role, shape, label, inputs, neurons, connections,
    weights, macs, memory`` (the analysis's numbers), ``kernel`` (size, stride, padding, dilation
    of a window layer, else None), ``receptive_field`` ([height, width] on the input, or None),
    ``box`` (``x, y, w, h, d``: the front face's top-left corner, width, height and depth, in
    pixels; None for an ``op``) or for an ``op`` (an element-wise or reshaping layer, no neurons of
    its own) ``on``: the box it is written under, and ``kernel_box`` (the window drawn on the
    volume it reads: ``x, y, w, h, d, on``). ``edges`` are the inputs that are not the box just
    before (residual branches). ``scale`` says, per dimension (spatial, depth, features), whether
    it is drawn "linear" or "log".

    >>> layout = network_layout("lenet5")
    >>> [(r["name"], r["label"]) for r in layout["layers"][:2]]
    [('input', '1@28x28'), ('conv1', '6@28x28')]
    """
    from ..analysis import analyze

    module = _module_of(source, input_shape)
    a = analyze(module, input_shape)
    modules = dict(module.named_modules())
    rows: list[dict] = [{"name": "input", "kind": "Input", "shape": list(a.input_shape), "_inputs": [],
                         "neurons": a.input_neurons, "connections": 0, "weights": 0, "macs": 0,
                         "memory": a.input_neurons * a.bytes_per_element, "_module": None}]
    previous = "input"
    for r in a.layers:
        inputs = list(r.inputs) if r.inputs else [previous]
        rows.append({"name": r.name, "kind": r.kind, "shape": list(r.output_shape), "_inputs": inputs,
                     "neurons": r.neurons, "connections": r.connections, "weights": r.weights, "macs": r.macs,
                     "memory": r.memory, "_module": modules.get(r.name)})
        previous = r.name
    for i, row in enumerate(rows):
        row["role"] = _role(tuple(row["shape"]), row["neurons"], i == 0)
        row["family"] = _family(row["_module"], row["kind"])
        row["label"] = _label(tuple(row["shape"]))
        row["kernel"] = _kernel(row["_module"])
        row["inputs"] = list(row["_inputs"])
    by_name = {row["name"]: row for row in rows}
    _receptive(rows, by_name, a.input_shape)

    # An op is written under the box that holds the neurons it acts on (its first input's box).
    host: dict[str, str] = {}
    for row in rows:
        if row["role"] == "op":
            first = row["_inputs"][0] if row["_inputs"] else "input"
            host[row["name"]] = host.get(first, first)
        else:
            host[row["name"]] = row["name"]

    def dims(row: dict) -> tuple[list[int], list[int], list[int]]:
        s = row["shape"]
        if row["role"] == "volume":
            return [s[1], s[2]], [s[0]], []
        if row["role"] == "sequence":
            return [s[0], s[1]], [], []
        return [], [], [math.prod(s) if s else 1]

    spatial, depth, features = [], [], []
    for row in rows:
        if row["role"] != "op":
            sp, de, fe = dims(row)
            spatial += sp
            depth += de
            features += fe
    scales = {"spatial": _Scale(spatial, SPATIAL_PX), "depth": _Scale(depth, DEPTH_PX),
              "features": _Scale(features, FEATURES_PX)}

    boxes = [row for row in rows if row["role"] != "op"]
    for row in boxes:
        s = row["shape"]
        if row["role"] == "volume":
            w, h, d = scales["spatial"](s[2]), scales["spatial"](s[1]), scales["depth"](s[0])
        elif row["role"] == "sequence":  # steps across, features up, one layer deep
            w, h, d = scales["spatial"](s[0]), scales["spatial"](s[1]), DEPTH_PX[0]
        else:
            w, h, d = VECTOR_WIDTH, scales["features"](math.prod(s) if s else 1), VECTOR_DEPTH
        row["box"] = {"w": round(w, 2), "h": round(h, 2), "d": round(d, 2)}
    ops_under = {}
    for row in rows:
        if row["role"] == "op":
            ops_under[host[row["name"]]] = ops_under.get(host[row["name"]], 0) + 1
    branches = any(len(row["_inputs"]) > 1 or (row["_inputs"] and host.get(row["_inputs"][0]) != prev["name"])
                   for prev, row in zip(boxes, boxes[1:]))
    top = MARGIN + 2 * LINE + TOP_TEXT + (2 * LINE if branches else 0)  # title, then names and shapes, then curves
    middle = top + max(b["box"]["h"] / 2 + b["box"]["d"] * OBLIQUE[1] for b in boxes)
    x = MARGIN
    for row in boxes:
        box = row["box"]
        text_width = 7.0 * max(len(row["name"]), len(row["label"]), 14)
        width = max(box["w"] + box["d"] * OBLIQUE[0], text_width)
        box["x"] = round(x + (width - box["w"] - box["d"] * OBLIQUE[0]) / 2, 2)
        box["y"] = round(middle - box["h"] / 2, 2)
        x += width + GAP
    bottom = max(b["box"]["y"] + b["box"]["h"] for b in boxes)
    height = bottom + BOTTOM_TEXT + LINE * max(ops_under.values(), default=0) + MARGIN
    placed = {name: 0 for name in ops_under}
    for row in rows:
        row["box"] = row.get("box")
        if row["role"] == "op":
            row["on"] = host[row["name"]]
            row["line"] = placed[row["on"]]
            placed[row["on"]] += 1

    # The kernel: a window of F x F on the volume it reads, as deep as the input for a convolution
    # (every input channel) and one channel deep for pooling (each channel alone).
    for row in rows:
        row["kernel_box"] = None
        k = row["kernel"]
        if k is None or row["role"] == "op":
            continue
        source_row = by_name[host[row["_inputs"][0]]]
        if source_row["role"] != "volume" or source_row["box"] is None:
            continue
        b, c_in, h_in, w_in = source_row["box"], *source_row["shape"]
        if scales["spatial"].log:  # the window on the same log scale as the maps (a 3x3 window stays visible)
            kw, kh = (min(b[e] * 0.6, scales["spatial"](k["size"][a])) for e, a in (("w", 1), ("h", 0)))
        else:
            kw = min(b["w"], b["w"] * k["size"][1] / w_in)
            kh = min(b["h"], b["h"] * k["size"][0] / h_in)
        kd = b["d"] if row["family"] == "conv" else max(b["d"] / c_in, 1.0)
        row["kernel_box"] = {"x": round(b["x"] + b["w"] * 0.55 - kw / 2, 2), "y": round(b["y"] + b["h"] * 0.3, 2),
                             "w": round(kw, 2), "h": round(kh, 2), "d": round(kd, 2), "on": source_row["name"]}

    order = [row["name"] for row in boxes]
    edges = []
    for row in boxes:
        for i in row["_inputs"]:
            src = host.get(i, i)
            if src in order and order.index(src) != order.index(row["name"]) - 1:
                edges.append([src, row["name"]])

    layers = [{k: v for k, v in row.items() if not k.startswith("_")} for row in rows]
    totals = {"input_neurons": a.input_neurons, **a.totals()}
    out = a.output_shape
    layout = {"name": a.name, "input_shape": list(a.input_shape),
              "output_shape": [list(s) for s in out] if out and isinstance(out[0], tuple) else list(out),
              "scale": {**{k: s.name for k, s in scales.items()}, "note": _scale_note(scales)},
              "oblique": list(OBLIQUE), "width": round(x - GAP + MARGIN, 2), "height": round(height, 2),
              "layers": layers, "edges": edges, "totals": totals}
    header = f"{_totals_line(layout)}; {layout['scale']['note']}"  # the second title line, 10 px type
    layout["width"] = round(max(layout["width"], 2 * MARGIN + 5.3 * len(header)), 2)
    return layout


def _scale_note(scales: dict[str, _Scale]) -> str:
    logs = [k for k, s in scales.items() if s.log]
    if not logs:
        return "sizes to scale (linear)"
    return (f"{' and '.join(logs)} on a log scale (sizes span more than {LOG_RANGE:g}x: "
            + "; ".join(f"{k} {scales[k].low} to {scales[k].high}" for k in logs) + "); other sizes linear")


# --- primitives: what both renderers draw --------------------------------------------------------------------

def _fmt(n: int) -> str:
    return f"{n:,}"


def _count_lines(row: dict) -> list[str]:
    """The text under a box: its counts, and for a window layer its kernel/stride and receptive field."""
    lines = [f"{_fmt(row['neurons'])} neurons"]
    if row["name"] != "input":
        lines += [f"{_fmt(row['connections'])} connections", f"{_fmt(row['weights'])} weights",
                  f"{_fmt(row['macs'])} MACs"]
    if row.get("kernel"):
        k, rf = row["kernel"], row.get("receptive_field")
        lines.append(f"{k['size'][0]}x{k['size'][1]}/{k['stride'][0]}" + (f", RF {rf[0]}x{rf[1]}" if rf else ""))
    return lines


def _box_faces(b: dict, oblique: list[float]) -> list[list[tuple[float, float]]]:
    """Front, top and right faces of a pseudo-3D box."""
    x, y, w, h = b["x"], b["y"], b["w"], b["h"]
    dx, dy = b["d"] * oblique[0], -b["d"] * oblique[1]
    front = [(x, y), (x + w, y), (x + w, y + h), (x, y + h)]
    top = [(x, y), (x + w, y), (x + w + dx, y + dy), (x + dx, y + dy)]
    right = [(x + w, y), (x + w + dx, y + dy), (x + w + dx, y + h + dy), (x + w, y + h)]
    return [front, top, right]


def _shade(colour: str, factor: float) -> str:
    r, g, b = (int(colour[i:i + 2], 16) for i in (1, 3, 5))
    return "#" + "".join(f"{max(0, min(255, int(c * factor))):02x}" for c in (r, g, b))


def _primitives(layout: dict) -> list[tuple[str | None, dict]]:
    """(layer name or None, primitive) in drawing order; a primitive is a polygon
    ``{"type": "polygon", "points", "fill", "stroke"}``, a line ``{"type": "line", "points",
    "stroke", "dash"}`` or a text ``{"type": "text", "x", "y", "text", "size", "anchor", "bold"}``."""
    oblique = layout.get("oblique", list(OBLIQUE))
    rows = {row["name"]: row for row in layout["layers"]}
    boxes = [row for row in layout["layers"] if row["role"] != "op"]
    out: list[tuple[str | None, dict]] = []
    # arrows between consecutive boxes, and curves for the other inputs (residual branches)
    for a, b in zip(boxes, boxes[1:]):
        ya = a["box"]["y"] + a["box"]["h"] / 2
        out.append((None, {"type": "line", "points": [(a["box"]["x"] + a["box"]["w"] + a["box"]["d"] * oblique[0], ya),
                                                      (b["box"]["x"], b["box"]["y"] + b["box"]["h"] / 2)],
                           "stroke": "#999999", "dash": False}))
    top = min(row["box"]["y"] - row["box"]["d"] * oblique[1] for row in boxes)
    for src, dst in layout.get("edges", []):
        a, b = rows[src]["box"], rows[dst]["box"]
        xa, xb = a["x"] + a["w"] / 2, b["x"] + b["w"] / 2
        lift = top - 2 * LINE - 12
        out.append((None, {"type": "line", "points": [(xa, a["y"]), (xa, lift), (xb, lift), (xb, b["y"])],
                           "stroke": "#d6604d", "dash": True}))
    for row in layout["layers"]:
        name = row["name"]
        if row["role"] == "op":
            host = rows[row["on"]]["box"]
            y = host["y"] + host["h"] + LINE + 2 + LINE * (len(_count_lines(rows[row["on"]])) + row["line"])
            extra = f" ({_fmt(row['weights'])} weights)" if row["weights"] else ""
            out.append((name, {"type": "text", "x": host["x"] + host["w"] / 2, "y": y,
                               "text": f"+ {row['kind']}{extra}", "size": 10, "anchor": "middle", "bold": False,
                               "fill": "#555555"}))
            continue
        b = row["box"]
        colour = _COLOURS.get(row["family"], _COLOURS["other"])
        for face, factor in zip(_box_faces(b, oblique), (1.0, 1.12, 0.82)):
            out.append((name, {"type": "polygon", "points": face, "fill": _shade(colour, factor),
                               "stroke": "#333333"}))
        cx = b["x"] + (b["w"] + b["d"] * oblique[0]) / 2
        above = b["y"] - b["d"] * oblique[1] - 6
        out.append((name, {"type": "text", "x": cx, "y": above - LINE, "text": name, "size": 11, "anchor": "middle",
                           "bold": True, "fill": "#000000"}))
        out.append((name, {"type": "text", "x": cx, "y": above, "text": row["label"], "size": 11, "anchor": "middle",
                           "bold": False, "fill": "#000000"}))
        below = b["y"] + b["h"] + LINE + 2
        for i, text in enumerate(_count_lines(row)):
            out.append((name, {"type": "text", "x": cx, "y": below + i * LINE, "text": text, "size": 10,
                               "anchor": "middle", "bold": False, "fill": "#333333"}))
    # kernels last, on top of the volumes they read, with the lines to the neuron they make
    for row in layout["layers"]:
        kb = row.get("kernel_box")
        if not kb:
            continue
        name = row["name"]
        for face, factor in zip(_box_faces(kb, oblique), (1.0, 1.12, 0.82)):
            out.append((name, {"type": "polygon", "points": face, "fill": _shade("#f4a582", factor),
                               "stroke": "#b2182b"}))
        b = row["box"]
        target = (b["x"] + b["w"] * 0.5, b["y"] + b["h"] * 0.45)
        for corner in ((kb["x"] + kb["w"], kb["y"]), (kb["x"] + kb["w"], kb["y"] + kb["h"])):
            out.append((name, {"type": "line", "points": [corner, target], "stroke": "#b2182b", "dash": False}))
    return out


# --- renderers -----------------------------------------------------------------------------------------------

def render_svg(layout: dict) -> str:
    """A standalone SVG of :func:`network_layout`'s drawing. Each layer is one
    ``<g class="layer" data-name=... data-kind=... data-shape="6x28x28" data-neurons=...
    data-connections=... data-weights=... data-macs=...>`` (the input included), so a page or a
    test reads the analysis's numbers back from the drawing."""
    width, height = layout["width"], layout["height"]
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:g}" height="{height:g}" '
             f'viewBox="0 0 {width:g} {height:g}" font-family="Helvetica, Arial, sans-serif">',
             f"<title>{escape(str(layout['name']))}</title>",
             f'<rect x="0" y="0" width="{width:g}" height="{height:g}" fill="#ffffff"/>',
             f'<text x="{MARGIN:g}" y="{MARGIN:g}" font-size="13" font-weight="bold">{escape(str(layout["name"]))}'
             f'</text>',
             f'<text x="{MARGIN:g}" y="{MARGIN + LINE:g}" font-size="10" fill="#555555">'
             f'{escape(_totals_line(layout))}; {escape(layout["scale"]["note"])}</text>']
    rows = {row["name"]: row for row in layout["layers"]}
    groups: dict[str | None, list[str]] = {}
    order: list[str | None] = []
    for name, p in _primitives(layout):
        if name not in groups:
            groups[name] = []
            order.append(name)
        groups[name].append(_svg(p))
    for name in order:
        if name is None:
            parts.append('<g class="links">' + "".join(groups[name]) + "</g>")
            continue
        row = rows[name]
        attrs = {"class": "layer", "data-name": name, "data-kind": _kind_slug(row), "data-type": row["kind"],
                 "data-role": row["role"], "data-shape": "x".join(str(s) for s in row["shape"]),
                 "data-neurons": row["neurons"], "data-connections": row["connections"],
                 "data-weights": row["weights"], "data-macs": row["macs"]}
        if row.get("receptive_field"):
            attrs["data-receptive-field"] = "x".join(str(v) for v in row["receptive_field"])
        opening = "<g " + " ".join(f'{k}="{escape(str(v), {chr(34): "&quot;"})}"' for k, v in attrs.items()) + ">"
        parts.append(opening + "".join(groups[name]) + "</g>")
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def _kind_slug(row: dict) -> str:
    """``conv2d``, ``maxpool2d``, ``linear``: the layer class in lower case (``input`` for the input)."""
    return row["kind"].split(",")[0].replace(" ", "").lower()


def _totals_line(layout: dict) -> str:
    t = layout["totals"]
    return (f"{_fmt(t['neurons'])} neurons, {_fmt(t['connections'])} connections, {_fmt(t['weights'])} weights, "
            f"{_fmt(t['macs'])} MACs")


def _svg(p: dict) -> str:
    if p["type"] == "polygon":
        points = " ".join(f"{x:.1f},{y:.1f}" for x, y in p["points"])
        return f'<polygon points="{points}" fill="{p["fill"]}" stroke="{p["stroke"]}" stroke-width="0.8"/>'
    if p["type"] == "line":
        points = " ".join(f"{x:.1f},{y:.1f}" for x, y in p["points"])
        dash = ' stroke-dasharray="4,3"' if p["dash"] else ""
        return f'<polyline points="{points}" fill="none" stroke="{p["stroke"]}" stroke-width="0.9"{dash}/>'
    weight = ' font-weight="bold"' if p["bold"] else ""
    return (f'<text x="{p["x"]:.1f}" y="{p["y"]:.1f}" font-size="{p["size"]}" text-anchor="{p["anchor"]}" '
            f'fill="{p["fill"]}"{weight}>{escape(p["text"])}</text>')


def png_figure(layout: dict):
    """The drawing as a matplotlib Figure (on its own Agg canvas): the primitives of the SVG, one
    SVG pixel one PNG pixel at 100 dpi."""
    from matplotlib.patches import Polygon

    from ..train.plots import figure

    width, height = layout["width"], layout["height"]
    fig = figure((width / 100, height / 100))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, width)
    ax.set_ylim(height, 0)
    ax.axis("off")
    pt = 72 / 100  # font sizes are in SVG pixels
    ax.text(MARGIN, MARGIN, str(layout["name"]), fontsize=13 * pt, fontweight="bold", va="baseline")
    ax.text(MARGIN, MARGIN + LINE, f"{_totals_line(layout)}; {layout['scale']['note']}", fontsize=10 * pt,
            color="#555555", va="baseline")
    for _, p in _primitives(layout):
        if p["type"] == "polygon":
            ax.add_patch(Polygon(p["points"], closed=True, facecolor=p["fill"], edgecolor=p["stroke"], linewidth=0.6))
        elif p["type"] == "line":
            xs, ys = zip(*p["points"])
            ax.plot(xs, ys, color=p["stroke"], linewidth=0.7, linestyle="--" if p["dash"] else "-")
        else:
            ax.text(p["x"], p["y"], p["text"], fontsize=p["size"] * pt, ha={"middle": "center"}.get(p["anchor"], "left"),
                    va="baseline", color=p["fill"], fontweight="bold" if p["bold"] else "normal")
    return fig


def save_drawing(layout: dict, path: str | os.PathLike) -> Path:
    """Write the drawing to ``path``: SVG for ``.svg``, PNG (via matplotlib) for ``.png``."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".svg":
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(render_svg(layout), encoding="utf-8")
        os.replace(tmp, path)
        return path
    if suffix == ".png":
        from ..train.plots import save

        return save(png_figure(layout), path)
    raise ValueError(f"save_drawing: expected a file name ending in .svg or .png, received {str(path)!r}")
