"""``profondo draw``: the drawing of a network (SVG or PNG) and its per-layer table.

    profondo draw lenet5 -o lenet5.svg
    profondo draw my_net.yaml -o net.png --input-shape 3,64,64
"""

from __future__ import annotations

import argparse
from pathlib import Path

from .common import CommandError, HelpFormatter, parse_shape


def layer_table(layout: dict) -> str:
    """Each box of the drawing as a row: shape, kernel, receptive field and the analysis's counts."""
    header = ["Layer", "Type", "Shape", "Kernel", "Receptive field", "Neurons", "Connections", "Weights", "MACs"]
    rows = []
    for r in layout["layers"]:
        k, rf = r.get("kernel"), r.get("receptive_field")
        kernel = f"{k['size'][0]}x{k['size'][1]} /{k['stride'][0]}" if k else ""
        field = f"{rf[0]}x{rf[1]}" if rf and r["role"] != "op" else ""
        rows.append([r["name"], r["kind"], r["label"], kernel, field, f"{r['neurons']:,}", f"{r['connections']:,}",
                     f"{r['weights']:,}", f"{r['macs']:,}"])
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        return "  ".join(c.ljust(w) if i < 5 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    t = layout["totals"]
    return "\n".join([line(header), "-" * len(line(header)), *map(line, rows),
                      f"total: {t['neurons']:,} neurons, {t['connections']:,} connections, {t['weights']:,} weights, "
                      f"{t['macs']:,} MACs; {layout['scale']['note']}"])


def cmd_draw(args: argparse.Namespace) -> int:
    from ..architecture import zoo
    from ..ui.drawing import network_layout, save_drawing

    out = Path(args.output)
    if out.suffix.lower() not in (".svg", ".png"):
        raise CommandError(f"-o expected a file name ending in .svg or .png, received {args.output!r}")
    source = args.file
    if not Path(source).exists() and source not in zoo.names():
        raise CommandError(f"no architecture file {source!r}, and no zoo model of that name "
                           f"(zoo: {', '.join(zoo.names())})")
    shape = parse_shape(args.input_shape, "--input-shape") if args.input_shape else None
    layout = network_layout(Path(source) if Path(source).exists() else source, shape)
    save_drawing(layout, out)
    if not args.quiet:
        print(layer_table(layout))
    print(f"wrote {out} ({layout['width']:.0f} x {layout['height']:.0f} px)")
    return 0


def add_parsers(sub: argparse._SubParsersAction) -> None:
    """Register ``draw``."""
    p = sub.add_parser("draw", formatter_class=HelpFormatter,
                       help="draw a network as volumes and kernels (SVG or PNG), with its per-layer counts")
    p.add_argument("file", help="architecture file (YAML) or zoo name")
    p.add_argument("-o", "--output", required=True, help="the drawing: a .svg or .png file (PNG needs matplotlib)")
    p.add_argument("--input-shape", help="per-sample input shape, e.g. 3,32,32 (default: the file's)")
    p.add_argument("--quiet", action="store_true", help="do not print the per-layer table")
    p.set_defaults(run=cmd_draw)
