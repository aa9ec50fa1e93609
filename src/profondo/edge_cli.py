"""The ``profondo export``, ``profondo import`` and ``profondo bench`` commands.

    profondo export runs/lenet5-mnist/best.ckpt --onnx lenet5.onnx
    profondo export runs/lenet5-mnist/best.ckpt --edge lenet5.edge --int8 --calibrate mnist
    profondo import model.onnx --out model.ckpt
    profondo bench --models lenet5,resnet-small --json bench.json

``add_edge_parser(subparsers)`` registers them on the ``profondo`` command's sub-parsers.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import numpy as np


def _calibration(args, shape: tuple[int, ...]) -> np.ndarray:
    if args.calibrate is None:
        raise SystemExit("profondo export: --int8 needs calibration inputs: --calibrate DATASET (e.g. mnist) "
                         "or --calibrate FILE.npy")
    if args.calibrate.endswith(".npy"):
        x = np.load(args.calibrate, allow_pickle=False).astype(np.float32)
    else:
        from .data import load_dataset

        x = load_dataset(args.calibrate, "train", root=args.data_dir).x
    order = np.random.default_rng(0).permutation(len(x))[: args.calibration_size]
    x = np.asarray(x[np.sort(order)], np.float32)
    if x.shape[1:] != tuple(shape):
        raise SystemExit(f"profondo export: calibration inputs have shape {x.shape[1:]}, the network expects "
                         f"{tuple(shape)}")
    return x


def cmd_export(args) -> int:
    if not (args.onnx or args.edge):
        raise SystemExit("profondo export: say what to write: --onnx FILE and/or --edge FILE")
    from .train.state import load_model

    model, _ = load_model(args.checkpoint)
    model.eval()
    shape = tuple(int(v) for v in args.input.replace("x", ",").split(",")) if args.input else None
    if args.onnx:
        from .io.onnx_export import export_onnx

        proto = export_onnx(model, args.onnx, shape, opset=args.opset)
        print(f"wrote {args.onnx}: ONNX opset {args.opset}, {len(proto.graph.node)} nodes, "
              f"{os.path.getsize(args.onnx):,} bytes (checked with onnx.checker)")
    if args.edge:
        from .edge import freeze, quantize

        edge = freeze(model, shape)
        if args.int8:
            edge = quantize(edge, _calibration(args, edge.input_shape))
        size = edge.save(args.edge)
        print(f"wrote {args.edge}: {edge.precision} plan of {len(edge.plan['steps'])} steps, {size:,} bytes")
        if args.evaluate:
            _evaluate(args, model, edge)
    return 0


def _evaluate(args, model, edge) -> None:
    """Test accuracy of the network (autograd engine, eval mode) and of the written plan."""
    from .autograd import no_grad
    from .data import load_dataset
    from .tensor import Tensor

    test = load_dataset(args.evaluate, "test", root=args.data_dir)
    eager, planned = [], []
    with no_grad():
        for start in range(0, len(test.x), 500):
            x = np.asarray(test.x[start:start + 500], np.float32)
            eager.append(model(Tensor(x)).numpy().argmax(1))
            planned.append(edge(x).argmax(1))
    a = float((np.concatenate(eager) == test.y).mean())
    b = float((np.concatenate(planned) == test.y).mean())
    print(f"{args.evaluate} test accuracy on {len(test.y)} images: network {a:.2%}, {edge.precision} plan {b:.2%} "
          f"({(b - a) * 100:+.2f} points)")


def cmd_import(args) -> int:
    from .io.onnx_import import import_onnx
    from .train.state import architecture_of, save_training_state

    model = import_onnx(args.file)
    extra = {"source": os.path.abspath(args.file)}
    if architecture_of(model) is None:  # no architecture-file form: keep the module configuration
        spec = getattr(model, "spec", None)
        extra["module"] = {"class_name": type(model).__name__, "config": model.get_config()}
        if spec is not None:
            extra["module"].update(name=spec.name, input=list(spec.input), output_activation=spec.output_activation)
    path = save_training_state(args.out, model, extra=extra)
    n = sum(p.size for p in model.parameters())
    form = "architecture file" if "module" not in extra else "module configuration (no architecture-file form)"
    print(f"imported {args.file}: {type(model).__name__} of {len(list(model.children()))} layers, {n:,} trainable "
          f"weights; wrote {path} with its {form}")
    return 0


def cmd_bench(args) -> int:
    from .edge.bench import DEFAULT_MODELS, ENGINES, format_table, run_benchmark

    models = args.models.split(",") if args.models else list(DEFAULT_MODELS)
    checkpoints = dict(item.split("=", 1) for item in args.checkpoint) if args.checkpoint else {}
    engines = args.engines.split(",") if args.engines else list(ENGINES)
    results = run_benchmark(models, checkpoints, repeats=args.repeats, threads=args.threads, batch=args.batch,
                            engines=engines)
    print(format_table(results))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
        print(f"results in {args.json}")
    return 0


def add_edge_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``export``, ``import`` and ``bench`` on the ``profondo`` command."""
    from .io.onnx_export import DEFAULT_OPSET

    p = subparsers.add_parser("export", help="write a checkpoint's network as ONNX and/or a frozen edge plan")
    p.add_argument("checkpoint")
    p.add_argument("--onnx", metavar="FILE", help="ONNX file to write")
    p.add_argument("--opset", type=int, default=DEFAULT_OPSET, help=f"ONNX opset (default {DEFAULT_OPSET})")
    p.add_argument("--input", help="per-sample input shape, e.g. 3,32,32 (default: the checkpoint's)")
    p.add_argument("--edge", metavar="FILE", help="frozen NumPy-only plan to write (.edge)")
    p.add_argument("--int8", action="store_true", help="quantize the edge plan to int8 (needs --calibrate)")
    p.add_argument("--calibrate", metavar="DATA", help="calibration inputs: a dataset name (its training split) "
                   "or a .npy file")
    p.add_argument("--calibration-size", type=int, default=2000)
    p.add_argument("--evaluate", metavar="DATA", help="report the test accuracy of the network and of the edge plan "
                   "on a dataset (e.g. mnist)")
    p.add_argument("--data-dir")
    p.set_defaults(run=cmd_export)

    p = subparsers.add_parser("import", help="turn an ONNX model into a trainable profondo checkpoint")
    p.add_argument("file", help="ONNX model file")
    p.add_argument("--out", required=True, metavar="CHECKPOINT")
    p.set_defaults(run=cmd_import)

    p = subparsers.add_parser("bench", help="inference latency and throughput: frozen float32/int8 plans against "
                              "PyTorch and onnxruntime")
    p.add_argument("--models", help="comma-separated zoo names (default: lenet5,mlp-mnist,convnetjs-cifar10,"
                   "resnet-small)")
    p.add_argument("--checkpoint", action="append", metavar="NAME=CKPT", help="trained weights for a model")
    p.add_argument("--engines", help="comma-separated subset of profondo-eager,profondo-f32,profondo-int8,torch,"
                   "onnxruntime")
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--json", metavar="FILE", help="write the results as JSON")
    p.set_defaults(run=cmd_bench)
